"""`oracle`: the operator's command line. Parses, calls into the packages, renders.

Every error the product raises on purpose becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from oracle import config
from oracle.errors import NotFound, OracleError
from oracle.store import ArtifactStore

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A verifiable AI oracle for prediction markets.")
market_app = typer.Typer(no_args_is_help=True, help="Market specs: validate, register, list, show.")
model_app = typer.Typer(no_args_is_help=True, help="Registered models and their public artifacts.")
keys_app = typer.Typer(no_args_is_help=True, help="Operator keys (encrypted keystore files).")
chain_app = typer.Typer(no_args_is_help=True, help="A local anvil node and contract deployments.")
node_app = typer.Typer(no_args_is_help=True, help="This operator's node: configuration and sources.")
scheduler_app = typer.Typer(no_args_is_help=True, help="Persistent jobs: pull sources, dispatch rounds.")
app.add_typer(market_app, name="market")
app.add_typer(model_app, name="model")
app.add_typer(keys_app, name="keys")
app.add_typer(chain_app, name="chain")
app.add_typer(node_app, name="node")
app.add_typer(scheduler_app, name="scheduler")
prover_app = typer.Typer(no_args_is_help=True, help="Network mode: the prover as its own process.")
validator_app = typer.Typer(no_args_is_help=True, help="Network mode: a validator as its own process.")
aggregator_app = typer.Typer(no_args_is_help=True, help="Network mode: an aggregator as its own process.")
devnet_app = typer.Typer(no_args_is_help=True, help="Every role its own process on 127.0.0.1, on anvil.")
app.add_typer(prover_app, name="prover")
app.add_typer(validator_app, name="validator")
app.add_typer(aggregator_app, name="aggregator")
app.add_typer(devnet_app, name="devnet")

# Wide enough for the results table when stdout is not a terminal (CI logs, pipes).
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _srs_label(kind: str) -> str:
    return "dev (local gen_srs: NOT for production)" if kind == "dev" else kind


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
              f"SRS: {_srs_label(model['srs_kind'])})\n")
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


def run_demo(*, n_validators: int = 5, threshold: int = 4,
             log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The demo: every role real, in one process, on the embedded chain."""
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

        report = run_round(spec, frame, prover, validators, aggregator,
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
        "model": {"model_id": circuit.model_id, "name": circuit.record.name,
                  "logrows": circuit.record.circuit(1).logrows, "srs_kind": circuit.record.srs_kind,
                  "srs_note": _srs_label(circuit.record.srs_kind)},
        "validators": n_validators,
        "threshold": threshold,
        "markets": rows,
        "timings": {
            "prove_s": round(statistics.median(prove_times), 3),
            "verify_s_median": round(statistics.median(verify_times), 4),
            "end_to_end_s": round(time.perf_counter() - t_start, 2),
        },
    }


# -------------------------------------------------------------- evaluate
@app.command()
@handles_errors
def evaluate(
    model: str = typer.Argument("reference", help="'reference' (or its model id)."),
    data: str = typer.Option("bundled:btc_usd_daily.csv", "--data", help="Daily OHLC CSV (Date, ..., Close)."),
    start: str = typer.Option("2021-01-01", help="First question date (held-out period)."),
    end: Optional[str] = typer.Option(None, help="Last question date."),
    horizon: list[int] = typer.Option([7], "--horizon", help="Horizon(s) in days."),
    ratio: list[float] = typer.Option([0.95, 1.0, 1.05], "--ratio", help="Threshold ratio(s) k."),
    proven: bool = typer.Option(True, help="Also score the circuit's quantized outputs."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Directory for PNG plots."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Backtest a model with no look-ahead: Brier, log loss, accuracy, calibration, vs two baselines."""
    from node import evaluate_reference

    if model != "reference" and not model.startswith("0x"):
        raise NotFound(f"unknown model {model!r}: only 'reference' can be backtested from this node")
    if model.startswith("0x"):
        from oracle.models import load_model

        record = load_model(_store(), model.lower())
        if not record.name.startswith("btc-threshold-mlp"):
            raise NotFound(f"model {model} has no float weights on this node to backtest")
    report = evaluate_reference(data, start=start, end=end, horizons=tuple(horizon), ratios=tuple(ratio),
                                proven=proven, plot_dir=plot)
    if as_json:
        _print_json(report)
        return
    table = Table(title=f"Backtest {report['period'][0]} .. {report['period'][1]} ({report['n']} questions)")
    for col in ("predictor", "Brier", "log loss", "accuracy"):
        table.add_column(col)
    for name, r in report["models"].items():
        table.add_row(name, f"{r['brier']:.4f}", f"{r['log_loss']:.4f}", f"{r['accuracy']:.3f}")
    out.print(table)
    if "brier_float_minus_proven" in report:
        out.print(f"Brier float - proven: {report['brier_float_minus_proven']:+.2e} (goal |.| <= 1e-3)")
    cal = Table(title="Calibration (proven model)" if proven else "Calibration (float model)")
    for col in ("bin", "n", "mean predicted", "observed"):
        cal.add_column(col)
    for c in report["models"]["model_proven" if proven else "model_float"]["calibration"]:
        cal.add_row(c["bin"], str(c["n"]), f"{c['mean_predicted']:.3f}", f"{c['observed']:.3f}")
    out.print(cal)
    for p in report.get("plots", []):
        out.print(f"plot: {p}", highlight=False)


# ---------------------------------------------------------------- verify
@app.command()
@handles_errors
def verify(
    market: str = typer.Argument(..., help="Market id, or the hash of the transaction that resolved it."),
    rpc_url: Optional[str] = typer.Option(None, "--rpc-url", help="Default: this node's configured node."),
    offline: bool = typer.Option(False, help="Do not consult the market's live data source."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-check a resolution from public data: chain, spec, snapshot, proof, rule, signatures. No key needed."""
    from markets.feeds import load_source
    from oracle.chain import Chain
    from oracle.deployment import Deployment
    from validators.audit import Auditor

    if rpc_url is None:
        from node import NodeConfig

        rpc_url = NodeConfig.load().rpc_url
    chain = Chain.rpc(rpc_url)
    dep = Deployment.load(chain, config.home() / "deployments")
    loader = None if offline else (lambda source: load_source(source, chain=chain))
    verdict = Auditor(dep, _store(), loader).verify(market)
    if as_json:
        _print_json(verdict.to_json())
    else:
        table = Table(title=f"Re-verification of {verdict.market_id}")
        for col in ("check", "result", "detail"):
            table.add_column(col, overflow="fold")
        for c in verdict.checks:
            mark = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "[yellow]skip[/yellow]"}[c.ok]
            table.add_row(c.name, mark, c.detail)
        out.print(table)
        out.print("[bold green]VERIFIED[/bold green]" if verdict.ok else
                  f"[bold red]NOT VERIFIED[/bold red]: {verdict.failed[0].name}: {verdict.failed[0].detail}")
    if not verdict.ok:
        raise typer.Exit(1)


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


def _market_entries() -> dict[str, dict[str, Any]]:
    """Markets this node tracks (local state) and markets the demo resolved (store refs)."""
    from oracle.state import LocalState

    store = _store()
    entries: dict[str, dict[str, Any]] = {}
    for mid, ref in store.refs("market").items():
        entry = {"market_id": mid, "origin": "demo", "spec": store.get_json(ref), "rounds": [], "score": None}
        try:
            entry["resolution"] = store.get_json(store.ref("resolution", mid))
        except NotFound:
            entry["resolution"] = None
        entries[mid] = entry
    state_path = config.home() / "state.sqlite"
    if state_path.exists():
        state = LocalState(state_path)
        for m in state.markets():
            rounds = [r.__dict__ for r in state.rounds(m["market_id"])]
            final = rounds[-1] if rounds else None
            entries[m["market_id"]] = {
                "market_id": m["market_id"], "origin": m["origin"], "spec": json.loads(m["spec_json"]),
                "rounds": rounds, "score": state.score(m["market_id"]),
                "resolution": final if final and final["status"] == "settled" else None,
            }
    return entries


@market_app.command("register")
@handles_errors
def market_register(path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Register a market: spec into the artifact store, entry on-chain, job for its resolve time."""
    from markets.spec import MarketSpec
    from node import Node

    spec = MarketSpec.load(path, now=datetime.now(timezone.utc))
    node = Node(password=_password())
    market_id = node.register(spec)
    info = {"market_id": market_id, "spec_hash": spec.spec_hash, "rounds": len(spec.rounds()),
            "resolve_at": spec.to_json()["resolve_at"]}
    _print_json(info) if as_json else out.print(f"registered {market_id} ({info['rounds']} round(s), "
                                                 f"resolves at {info['resolve_at']})", highlight=False)


@market_app.command("list")
@handles_errors
def market_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Markets known to this node."""
    entries = list(_market_entries().values())
    if as_json:
        _print_json(entries)
        return
    table = Table(title="Markets")
    for col in ("market", "origin", "question", "resolve at", "status"):
        table.add_column(col, overflow="fold")
    for e in entries:
        r = e["resolution"]
        status = "open"
        if r:
            outcome = r.get("onchain_outcome") or r.get("outcome")
            if isinstance(outcome, int):
                outcome = e["spec"]["outcomes"][outcome] if outcome < len(e["spec"]["outcomes"]) else "INVALID"
            status = f"resolved ({outcome})"
        elif e["rounds"]:
            status = ", ".join(sorted({x["status"] for x in e["rounds"]}))
        table.add_row(e["market_id"], e["origin"], e["spec"]["question"], e["spec"]["resolve_at"], status)
    out.print(table)


@market_app.command("show")
@handles_errors
def market_show(market_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """One market: its spec, rounds, resolution and score."""
    entry = _market_entries().get(market_id.lower())
    if entry is None:
        raise NotFound(f"unknown market {market_id}: this node does not track it")
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
    for col in ("model id", "name", "family", "batches", "inputs", "SRS"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(r["model_id"], r["name"], r["family"], ",".join(str(c["batch"]) for c in r["circuits"]),
                      f"{r['n_inputs']} ({r['input_visibility']})", _srs_label(r["srs_kind"]))
    out.print(table)


# ------------------------------------------------------------------ keys
def _password(confirm: bool = False) -> str:
    from oracle.keystore import password_from_env

    pw = password_from_env()
    if pw is None:
        pw = typer.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)
    return pw


def _keys():
    from oracle.keystore import KeyStore

    return KeyStore(config.home() / "keys")


@keys_app.command("new")
@handles_errors
def keys_new(
    name: str = typer.Argument(..., help="Key name, e.g. validator-0."),
    bls: bool = typer.Option(False, "--bls", help="Also a BLS12-381 key (validators: aggregate signatures)."),
) -> None:
    """Create a key in an encrypted keystore file (password: ORACLE_KEYSTORE_PASSWORD or prompt)."""
    pw = _password(confirm=True)
    ks = _keys()
    signer = ks.load(name, pw) if bls and name in ks.names() else ks.create(name, pw)
    out.print(f"{name}: {signer.address}", highlight=False)
    if bls:
        out.print(f"{name} BLS: 0x{ks.create_bls(name, pw).public_key.hex()}", highlight=False)


@keys_app.command("list")
@handles_errors
def keys_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Key names and addresses (no password needed)."""
    ks = _keys()
    rows = [{"name": n, "address": ks.address(n), "bls_public_key": ks.bls_public_key(n)} for n in ks.names()]
    if as_json:
        _print_json(rows)
    else:
        for r in rows:
            bls = f"  BLS 0x{r['bls_public_key'][:16]}…" if r["bls_public_key"] else ""
            out.print(f"{r['name']}: {r['address']}{bls}", highlight=False)


# ----------------------------------------------------------------- chain
def _anvil_file():
    return config.home() / "anvil.json"


@chain_app.command("up")
@handles_errors
def chain_up(port: int = typer.Option(0, help="Port on 127.0.0.1 (0: a free one).")) -> None:
    """Start anvil (pinned npm @foundry-rs/anvil) on 127.0.0.1; prints its URL."""
    from oracle.anvil import AnvilNode, start_anvil

    f = _anvil_file()
    if f.exists():
        running = AnvilNode(**{**json.loads(f.read_text()), "log": Path(json.loads(f.read_text())["log"])})
        if running.alive():
            out.print(running.url)
            return
    node = start_anvil(port=port or None, log_dir=config.home() / "logs")
    f.write_text(json.dumps(node.to_json()))
    out.print(node.url)


@chain_app.command("down")
@handles_errors
def chain_down() -> None:
    """Stop the anvil this home started (by PID and process group)."""
    from oracle.anvil import AnvilNode

    f = _anvil_file()
    if not f.exists():
        raise NotFound("no anvil started from this ORACLE_HOME")
    d = json.loads(f.read_text())
    AnvilNode(d["pid"], d["port"], Path(d["log"])).stop()
    f.unlink()
    out.print("stopped")


@node_app.command("init")
@handles_errors
def node_init(
    rpc_url: str = typer.Option(..., "--rpc-url", help="Any JSON-RPC URL (e.g. from `oracle chain up`)."),
    validators: int = typer.Option(4, min=1, max=64),
    threshold: int = typer.Option(3, min=1),
    fund: bool = typer.Option(True, help="Fund the node's keys from the node's unlocked dev account."),
    local_dir: Optional[str] = typer.Option(None, help="Folder of spec files to import."),
    polymarket: Optional[str] = typer.Option(None, help="Polymarket Gamma API base URL."),
    manifold: Optional[str] = typer.Option(None, help="Manifold API base URL."),
    pull_interval: float = typer.Option(5.0, help="Seconds between source pulls."),
    batch: list[int] = typer.Option([1], "--batch", help="Compiled batch sizes: due rounds share one proof."),
    bls: bool = typer.Option(False, "--bls", help="Give each validator a BLS key, registered on-chain with a "
                             "proof of possession (aggregate-signature settlement)."),
) -> None:
    """Create missing keys, deploy the contracts, and write this node's configuration."""
    from node import NodeConfig
    from oracle.chain import Chain
    from oracle.deployment import Deployment

    if threshold > validators:
        raise typer.BadParameter(f"threshold {threshold} exceeds validators {validators}", param_hint="--threshold")
    pw = _password(confirm=False)
    ks = _keys()
    names = ["deployer", "creator", "submitter", "prover"] + [f"validator-{i}" for i in range(validators)]
    signers = {n: (ks.load(n, pw) if n in ks.names() else ks.create(n, pw)) for n in names}
    chain = Chain.rpc(rpc_url)
    if fund:
        for n in ("deployer", "creator", "submitter", "prover"):
            if chain.balance(signers[n].address) < 10**18:
                chain.fund(signers[n].address, 100 * 10**18)
    validator_names = [f"validator-{i}" for i in range(validators)]
    dep = Deployment.deploy(chain, signers["deployer"], [signers[n].address for n in validator_names], threshold)
    path = dep.save(config.home() / "deployments")
    if bls:
        for n in validator_names:
            key = ks.load_bls(n, pw) if ks.bls_public_key(n) else ks.create_bls(n, pw)
            if fund and chain.balance(signers[n].address) < 10**17:
                chain.fund(signers[n].address, 10**18)
            dep.register_bls_key(signers[n], key.public_key, key.proof_of_possession())
        out.print(f"registered {len(validator_names)} BLS keys (proof of possession checked on-chain)")
    sources = {"registry": True, "local_dir": local_dir, "polymarket": polymarket, "manifold": manifold}
    NodeConfig(rpc_url=rpc_url, validators=validator_names, threshold=threshold, pull_interval_s=pull_interval,
               sources=sources, batches=sorted(set(batch))).save()
    out.print(f"deployed on chain {chain.chain_id}: {dep.addresses} ({path})", highlight=False)


@node_app.command("pull")
@handles_errors
def node_pull(as_json: bool = typer.Option(False, "--json")) -> None:
    """Read every configured source once (registry events, spec folder, Polymarket, Manifold)."""
    from node import Node

    node = Node(password=_password())
    counts = node.pull()
    result = {**counts, "skipped_detail": node.state.skipped()}
    _print_json(result) if as_json else out.print(f"{counts['new']} new market(s), {counts['skipped']} skipped")


# ------------------------------------------------------------- scheduler
@scheduler_app.command("run")
@handles_errors
def scheduler_run(
    until_idle: bool = typer.Option(False, help="Exit when every known round is settled."),
    role_home: Optional[Path] = typer.Option(None, "--role-home", help="Network mode: this role's home "
                                             "(role.json); rounds go to prover/validator processes over HTTP."),
) -> None:
    """Run the persistent scheduler (pull sources on an interval, dispatch each round when due)."""
    import logging

    import node

    if role_home is not None:
        from network.coordinator import build_app

        _serve(role_home, build_app)
        return

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    _password()  # fail now, not inside a job
    node.run_scheduler(until_idle=until_idle)


def _serve(role_home: Path, build) -> None:
    from oracle.service import RoleHome, serve

    home = RoleHome(role_home, password=_password())
    serve(build(home), home.cfg["port"], home.log, role=home.role, address=home.key.address)


@prover_app.command("serve")
@handles_errors
def prover_serve(role_home: Path = typer.Option(..., "--role-home", help="This prover's home (role.json).")) -> None:
    """Prove rounds for a trusted scheduler over HTTP; serve bundles by hash."""
    from provers.service import build_app

    _serve(role_home, build_app)


@validator_app.command("serve")
@handles_errors
def validator_serve(role_home: Path = typer.Option(..., "--role-home", help="This validator's home.")) -> None:
    """Review bundles handed over by a trusted scheduler; sign and send votes to the aggregators."""
    from validators.service import build_validator_app

    _serve(role_home, build_validator_app)


@aggregator_app.command("serve")
@handles_errors
def aggregator_serve(role_home: Path = typer.Option(..., "--role-home", help="This aggregator's home.")) -> None:
    """Collect signed votes; settle once at quorum; keep equivocation evidence."""
    from validators.service import build_aggregator_app

    _serve(role_home, build_aggregator_app)


def _devnet_root() -> Path:
    return config.home() / "devnet"


@devnet_app.command("up")
@handles_errors
def devnet_up(
    validators: int = typer.Option(7, min=1, max=64),
    threshold: int = typer.Option(5, min=1),
    provers: int = typer.Option(1, min=1, max=8),
    aggregators: int = typer.Option(2, min=0, max=8, help="Dedicated aggregator processes."),
    validator_aggregators: int = typer.Option(0, min=0, help="Validators that also aggregate (any validator can)."),
    bls: bool = typer.Option(False, "--bls", help="Validators hold BLS keys; aggregators settle final rounds "
                             "with one BLS12-381 aggregate."),
) -> None:
    """Start anvil, deploy, and start every role as its own process (recorded by PID)."""
    from network.devnet import Devnet

    if aggregators + validator_aggregators == 0:
        raise typer.BadParameter("someone must aggregate", param_hint="--aggregators")
    net = Devnet.up(_devnet_root(), validators=validators, threshold=threshold, provers=provers,
                    aggregators=aggregators, validator_aggregators=validator_aggregators, bls=bls,
                    password=_password())
    out.print(f"devnet up: anvil {net.rpc_url}, {len(net.roles)} roles, scheduler {net.doc['scheduler_url']}")


@devnet_app.command("market")
@handles_errors
def devnet_market(
    as_of: str = typer.Option("2021-01-12", help="Question date (the demo's BTC data)."),
    ratio: float = typer.Option(0.95, help="Close above ratio x close on the question date?"),
    horizon: int = typer.Option(7),
) -> None:
    """Register a BTC question as the devnet's market creator and hand its spec to the scheduler."""
    from network.devnet import Devnet

    out.print(Devnet(_devnet_root()).demo_market(as_of, ratio, horizon=horizon, password=_password()))


@devnet_app.command("status")
@handles_errors
def devnet_status(
    watch: bool = typer.Option(False, "--watch", help="Refresh live until Ctrl-C."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Roles (PID, health), rounds in flight and the last resolutions."""
    from rich.console import Group
    from rich.live import Live

    from network.devnet import Devnet

    def snapshot() -> dict:
        net = Devnet(_devnet_root())
        roles = [{"name": r.name, "role": r.role, "pid": r.pid, "alive": r.alive(), "url": r.url,
                  "health": r.health()} for r in net.roles.values()]
        return {"anvil": {"url": net.rpc_url, "alive": net.anvil().alive()}, "roles": roles,
                "scheduler": net.scheduler_status()}

    def render(s: dict):
        t = Table(title=f"devnet: anvil {s['anvil']['url']} ({'up' if s['anvil']['alive'] else 'DOWN'})")
        for col in ("role", "name", "pid", "state", "detail"):
            t.add_column(col)
        for r in s["roles"]:
            h = r["health"]
            state = "healthy" if h else ("starting/unresponsive" if r["alive"] else "DOWN")
            detail = ", ".join(f"{k}={v}" for k, v in (h or {}).items() if k in ("votes", "proven", "evidence"))
            t.add_row(r["role"], r["name"], str(r["pid"]), state, detail)
        sch = s["scheduler"] or {}
        f = Table(title=f"rounds {sch.get('rounds', {})}")
        for col in ("market", "round", "status", "attempts", "detail"):
            f.add_column(col, overflow="fold")
        for x in sch.get("in_flight", []):
            f.add_row(x["market_id"][:12], str(x["round"]), x["status"], str(x["attempts"]), x["detail"] or "")
        for x in sch.get("last", []):
            f.add_row(x["market_id"][:12], str(x["round"]), "settled", "", f"outcome={x.get('outcome')} "
                      f"p={x.get('probability_ppm')}")
        return Group(t, f)

    if as_json:
        _print_json(snapshot())
        return
    if not watch:
        out.print(render(snapshot()))
        return
    with Live(render(snapshot()), console=out, refresh_per_second=2) as live:
        try:
            while True:
                time.sleep(1)
                live.update(render(snapshot()))
        except KeyboardInterrupt:
            pass


@devnet_app.command("down")
@handles_errors
def devnet_down() -> None:
    """Stop exactly what `devnet up` started (by PID and process group)."""
    from network.devnet import Devnet

    stopped = Devnet(_devnet_root()).down()
    out.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@scheduler_app.command("status")
@handles_errors
def scheduler_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Jobs in the persistent store, and every round's state."""
    import os

    from oracle.scheduler import list_jobs
    from oracle.state import LocalState

    home = config.home()
    url = os.environ.get("ORACLE_JOBS_URL", f"sqlite:///{home / 'jobs.sqlite'}")
    jobs = list_jobs(url)
    rounds = [r.__dict__ for r in LocalState(home / "state.sqlite").rounds()]
    if as_json:
        _print_json({"jobs": jobs, "rounds": rounds})
        return
    table = Table(title="Rounds")
    for col in ("market", "round", "due", "status", "attempts", "tx"):
        table.add_column(col, overflow="fold")
    for r in rounds:
        table.add_row(r["market_id"][:18] + "…", str(r["round"]),
                      datetime.fromtimestamp(r["due_at"], timezone.utc).isoformat(), r["status"],
                      str(r["attempts"]), (r["tx_hash"] or "-")[:14])
    out.print(table)
    out.print(f"{len(jobs)} job(s) in the store")


@model_app.command("compile")
@handles_errors
def model_compile(
    source: str = typer.Argument(..., help="A family (mlp, conv1d, trees), a saved torch module (.pt) or an ONNX file."),
    batch: list[int] = typer.Option([1], "--batch", help="Batch size(s) to compile (repeat)."),
    inputs: str = typer.Option("public", help="Input visibility: public | hashed (Poseidon commitment)."),
    params: str = typer.Option("fixed", help="Parameter visibility: fixed | hashed (weights stay private)."),
    name: Optional[str] = typer.Option(None, help="Model name (files)."),
    transform: str = typer.Option("sigmoid", help="What the output means: sigmoid (logit) | identity."),
    srs: Optional[str] = typer.Option(None, "--srs", help="A public SRS file (default: local dev SRS)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Compile a model into ezkl circuits; publish vk, settings and SRS; keep proving keys locally."""
    from oracle.models import OUTPUT_TRANSFORMS

    if transform not in OUTPUT_TRANSFORMS:
        raise typer.BadParameter(f"must be one of {OUTPUT_TRANSFORMS}", param_hint="--transform")
    if any(b < 1 or b > 256 for b in batch):
        raise typer.BadParameter("batch sizes are 1..256", param_hint="--batch")
    log = lambda m: err.print(m)  # noqa: E731
    if source in ("mlp", "conv1d", "trees"):
        from provers.reference import reference_circuit

        compiled = reference_circuit(_store(), config.cache_dir(), family=source, batches=tuple(batch),
                                     input_visibility=inputs, param_visibility=params, log=log)
    else:
        import numpy as np

        from markets.features import CLIP
        from provers.circuit import compile_model, load_module, onnx_input_width

        path = Path(source)
        if not path.exists():
            raise NotFound(f"{source} is neither a model family nor a file")
        module = load_module(path)
        n = onnx_input_width(path) if path.suffix == ".onnx" else int(next(module.parameters()).shape[-1])
        compiled = compile_model(module, name=name or path.stem, family="custom", n_inputs=n,
                                 recipe="trailing_returns_v1", calibration=np.zeros((1, n)), input_bound=CLIP,
                                 cache=config.cache_dir(), store=_store(), batches=tuple(batch),
                                 input_visibility=inputs, param_visibility=params, output_transform=transform,
                                 srs_file=Path(srs) if srs else None, log=log)
    record = compiled.record.to_json()
    if as_json:
        _print_json(record)
    else:
        out.print(f"{record['name']}: model id {record['model_id']} (batches "
                  f"{[c['batch'] for c in record['circuits']]}, SRS: {_srs_label(record['srs_kind'])})",
                  highlight=False)


@model_app.command("show")
@handles_errors
def model_show(model_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """One model: its public artifacts and its reputation (Brier over its scored forecasts)."""
    from oracle.models import load_model
    from oracle.state import LocalState

    record = load_model(_store(), model_id.lower()).to_json()
    state_path = config.home() / "state.sqlite"
    rep = LocalState(state_path).reputation(record["model_id"]) if state_path.exists() else \
        {"markets": 0, "forecasts": 0, "brier": None, "log_loss": None, "accuracy": None}
    doc = {**record, "reputation": rep}
    if as_json:
        _print_json(doc)
        return
    for k, v in record.items():
        out.print(f"[bold]{k}[/bold]: {_srs_label(v) if k == 'srs_kind' else v}", highlight=False)
    if rep["forecasts"]:
        out.print(f"[bold]reputation[/bold]: Brier {rep['brier']:.4f}, log loss {rep['log_loss']:.4f}, "
                  f"accuracy {rep['accuracy']:.3f} over {rep['forecasts']} forecast(s) in {rep['markets']} market(s)")
    else:
        out.print("[bold]reputation[/bold]: no resolved forecasts yet")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
