"""`oracle`: the operator's command line. Parses, calls into the packages, renders.

Every error the product raises on purpose becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from oracle import config
from oracle.errors import NotFound, OracleError
from oracle.store import ArtifactStore

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A verifiable AI oracle for prediction markets.")
market_app = typer.Typer(no_args_is_help=True, help="Market specs: validate, list, show.")
model_app = typer.Typer(no_args_is_help=True, help="Registered models and their public artifacts.")
app.add_typer(market_app, name="market")
app.add_typer(model_app, name="model")

# Wide enough for the results table when stdout is not a terminal (CI logs, pipes).
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def handles_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OracleError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _store() -> ArtifactStore:
    return ArtifactStore(config.home() / "store")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


# ------------------------------------------------------------------ demo
@app.command()
@handles_errors
def demo(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    validators: int = typer.Option(5, min=1, max=64, help="Number of validators (each its own key)."),
    threshold: int = typer.Option(4, min=1, help="Signatures needed to settle (t of n)."),
) -> None:
    """Resolve real BTC markets end to end on the embedded chain: prove, validate, settle, pay out."""
    if threshold > validators:
        raise typer.BadParameter(f"threshold {threshold} exceeds validators {validators}", param_hint="--threshold")
    if as_json:
        result = run_demo(n_validators=validators, threshold=threshold, log=lambda m: err.print(m))
        _print_json(result)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=out, transient=False) as progress:
        task = progress.add_task("starting", total=None)

        def log(message: str) -> None:
            progress.update(task, description=message)

        result = run_demo(n_validators=validators, threshold=threshold, log=log)
        progress.update(task, description="done")
    _render_demo(result)


def _render_demo(result: dict[str, Any]) -> None:
    chain = result["chain"]
    out.print(f"\nEmbedded chain {chain['chain_id']} · QuorumOracle {chain['contracts']['QuorumOracle']} · "
              f"{result['validators']} validators, t = {result['threshold']}")
    model = result["model"]
    out.print(f"Model {model['model_id'][:18]}… ({model['name']}, logrows {model['logrows']}, "
              f"SRS: {model['srs_kind']}{' — local dev SRS, not for production' if model['srs_kind'] == 'dev' else ''})\n")
    table = Table(title="Resolved markets", show_lines=True)
    for col in ("market", "question", "P(yes)", "oracle", "actual", "proof", "signed", "on-chain", "payout (ETH)", "tx"):
        table.add_column(col, overflow="fold")
    for m in result["markets"]:
        table.add_row(
            m["market_id"][:10] + "…",
            m["question"],
            f"{m['probability']:.3f}",
            m["outcome"],
            m["actual_outcome"] or "?",
            "verified" if m["proof_verified"] else "[red]refused[/red]",
            f"{m['validators_signed']}/{m['validators']} (t={m['quorum']})",
            m["onchain_outcome"] or "-",
            f"{m['payout_wei'] / 1e18:.4f}",
            (m["tx_hash"] or "-")[:12] + "…",
        )
    out.print(table)
    t = result["timings"]
    out.print(f"prove {t['prove_s']:.2f} s/market · verify {t['verify_s_median'] * 1000:.1f} ms median · "
              f"end to end {t['end_to_end_s']:.1f} s")


def run_demo(*, n_validators: int = 5, threshold: int = 4, log: Callable[[str], None] = lambda m: None,
             tamper: Optional[Callable] = None) -> dict[str, Any]:
    """The composition root of the demo: every role real, in one process, on the embedded chain.

    `tamper(bundle) -> bundle`, for tests, replaces what the prover hands validators.
    """
    # Deferred: these pull in torch and ezkl, which `oracle --help` does not need.
    from markets.demo import BTC_SOURCE, DEMO_QUESTIONS, actual_outcome, demo_spec
    from markets.feeds import load_source
    from oracle.chain import Chain
    from oracle.deployment import Deployment
    from oracle.eip712 import INVALID_OUTCOME
    from oracle.pipeline import run_round
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver
    from provers.reference import reference_circuit
    from validators.aggregator import Aggregator
    from validators.validator import Validator

    t_start = time.perf_counter()
    store = _store()
    circuit = reference_circuit(store, config.cache_dir(), log=log)
    frame = load_source(BTC_SOURCE)

    log("starting the embedded chain and deploying contracts")
    chain = Chain.embedded()
    deployer, creator, submitter, prover_key, yes_bettor, no_bettor = (LocalSigner.create() for _ in range(6))
    validator_keys = [LocalSigner.create() for _ in range(n_validators)]
    for account in (deployer, creator, submitter, prover_key, yes_bettor, no_bettor):
        chain.fund(account.address, 100 * 10**18)
    dep = Deployment.deploy(chain, deployer, [v.address for v in validator_keys], threshold)

    prover = EzklProver(circuit, prover_key)
    validators = [Validator(k, store, dep.domain, load_source, registry=dep) for k in validator_keys]

    def settle(resolution, signatures) -> str:
        return "0x" + bytes(dep.resolve(submitter, resolution, signatures)["transactionHash"]).hex()

    aggregator = Aggregator(dep.domain, [v.address for v in validator_keys], threshold, settle)
    stake = {0: 1 * 10**18, 1: 2 * 10**18}
    rows, prove_times, verify_times = [], [], []
    for i, q in enumerate(DEMO_QUESTIONS, 1):
        spec = demo_spec(q, frame, circuit.model_id, quorum=threshold)
        store.set_ref("market", spec.market_id, store.put(spec.canonical()))
        log(f"market {i}/{len(DEMO_QUESTIONS)}: registering")
        market_id, _ = dep.register_market(
            creator, spec_hash=spec.spec_hash, model_id=spec.model, resolve_at=spec.resolve_at_unix,
            outcome_count=len(spec.outcomes), quorum=spec.quorum,
        )
        assert market_id == spec.market_id, "on-chain and off-chain market ids disagree"
        dep.deposit(yes_bettor, market_id, spec.outcomes.index("YES"), stake[0])
        dep.deposit(no_bettor, market_id, spec.outcomes.index("NO"), stake[1])

        bundle = None
        if tamper is not None:
            log(f"market {i}/{len(DEMO_QUESTIONS)}: proving")
            bundle = tamper(prover.prove(spec, frame))
        report = run_round(spec, frame, prover, validators, aggregator, bundle=bundle,
                           on_step=lambda s, i=i: log(f"market {i}/{len(DEMO_QUESTIONS)}: {s}"))
        prove_times.append(report.prove_s)
        verify_times.extend(r.timings["proof"] for r in report.reviews if "proof" in r.timings)

        onchain_outcome, payout, tx_hash, vote = None, 0, None, None
        if report.submission is not None:
            tx_hash = report.submission.tx_hash
            resolved = dep.resolution_of(market_id).resolution
            onchain_outcome = "INVALID" if resolved.outcome == INVALID_OUTCOME else spec.outcomes[resolved.outcome]
            winner = yes_bettor if onchain_outcome == "YES" else no_bettor
            log(f"market {i}/{len(DEMO_QUESTIONS)}: winner redeems")
            payout, _ = dep.redeem(winner, market_id)
        votes = [r.vote for r in report.reviews if r.vote is not None]
        if votes:
            vote = votes[0].resolution
        decided = vote.outcome if vote else None
        row = {
            "market_id": market_id,
            "question": spec.question,
            "outcome": (spec.outcomes[decided] if decided is not None and decided != INVALID_OUTCOME
                        else ("INVALID" if decided == INVALID_OUTCOME else None)),
            "probability": (vote.probability_ppm / 1e6) if vote else None,
            "actual_outcome": actual_outcome(spec, frame),
            "proof_verified": sum("proof" in r.checks for r in report.reviews) >= threshold,
            "validators_signed": report.signed,
            "validators": n_validators,
            "quorum": max(threshold, spec.quorum),
            "refusals": [r.to_json() for r in report.refusals],
            "tx_hash": tx_hash,
            "onchain_outcome": onchain_outcome,
            "payout_wei": payout,
            "bundle_hash": report.bundle.bundle_hash,
            "prove_s": round(report.prove_s, 3),
        }
        store.set_ref("bundle", market_id, store.put_json(report.bundle.to_json()))
        if report.submission is not None:
            store.set_ref("resolution", market_id, store.put_json({**row, "resolution": vote.to_json()}))
        rows.append(row)

    import statistics

    return {
        "chain": {"kind": "embedded", "chain_id": chain.chain_id, "contracts": dep.addresses},
        "model": {"model_id": circuit.model_id, "name": circuit.record.name, "logrows": circuit.record.logrows,
                  "srs_kind": circuit.record.srs_kind},
        "validators": n_validators,
        "threshold": threshold,
        "markets": rows,
        "timings": {
            "prove_s": round(statistics.median(prove_times), 3),
            "verify_s_median": round(statistics.median(verify_times), 4),
            "end_to_end_s": round(time.perf_counter() - t_start, 2),
        },
    }


# ---------------------------------------------------------------- market
@market_app.command("validate")
@handles_errors
def market_validate(
    path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check a spec file; print its spec hash and market id."""
    from markets.spec import MarketSpec

    spec = MarketSpec.load(path)
    info = {"market_id": spec.market_id, "spec_hash": spec.spec_hash, "question": spec.question,
            "outcomes": list(spec.outcomes), "model": spec.model, "resolve_at": spec.to_json()["resolve_at"]}
    if as_json:
        _print_json(info)
    else:
        for k, v in info.items():
            out.print(f"[bold]{k}[/bold]: {v}", highlight=False)


def _market_entry(store: ArtifactStore, market_id: str) -> dict[str, Any]:
    try:
        spec = store.get_json(store.ref("market", market_id))
    except NotFound:
        raise NotFound(f"unknown market {market_id}: not in the local store ({store.root})") from None
    entry = {"market_id": market_id, "spec": spec}
    try:
        entry["resolution"] = store.get_json(store.ref("resolution", market_id))
    except NotFound:
        entry["resolution"] = None
    return entry


@market_app.command("list")
@handles_errors
def market_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Markets known to this node's store."""
    store = _store()
    entries = [_market_entry(store, mid) for mid in store.refs("market")]
    if as_json:
        _print_json(entries)
        return
    table = Table(title="Markets")
    for col in ("market", "question", "resolve at", "status"):
        table.add_column(col, overflow="fold")
    for e in entries:
        r = e["resolution"]
        table.add_row(e["market_id"], e["spec"]["question"], e["spec"]["resolve_at"],
                      f"resolved {r['outcome']}" if r else "open")
    out.print(table)


@market_app.command("show")
@handles_errors
def market_show(market_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """One market: its spec and, if resolved, its resolution."""
    entry = _market_entry(_store(), market_id.lower())
    if as_json:
        _print_json(entry)
        return
    out.print_json(json.dumps(entry, default=str))


# ----------------------------------------------------------------- model
@model_app.command("list")
@handles_errors
def model_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Models whose public artifacts (vk, settings, SRS) are in this node's store."""
    from oracle.models import list_models

    records = [r.to_json() for r in list_models(_store())]
    if as_json:
        _print_json(records)
        return
    table = Table(title="Models")
    for col in ("model id", "name", "logrows", "inputs", "SRS"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(r["model_id"], r["name"], str(r["logrows"]), str(r["n_inputs"]), r["srs_kind"])
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
