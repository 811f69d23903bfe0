"""`oracle demo`: real markets of every shape resolved end to end by every role, in one process, on
an embedded replay chain (network/local.py) that starts before their events: register, bet, trading
closes, forecasts are posted, the event happens, the evidence from several providers is proven by the
resolver, reviewed, settled, paid out."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone
from typing import Any, Callable

from oracle import config
from oracle.models import srs_label
from oracle.store import ArtifactStore


def run_demo(*, n_validators: int = 5, threshold: int = 4, store: ArtifactStore | None = None,
             log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The demo: every role real, in one process, on the embedded chain. Returns the JSON report."""
    from markets.demo import DEMO_MARKETS, REPLAY_START, demo_spec
    from markets.evidence import EvidenceMissing, gather
    from markets.feeds import load_source
    from oracle.eip712 import INVALID_OUTCOME
    from oracle.errors import ChainError
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver
    from provers.reference import reference_circuit
    from provers.resolvers import compile_resolver

    from .local import LocalNetwork

    t_start = time.perf_counter()
    store = store or ArtifactStore(config.home() / "store")
    log("compiling the resolvers and the reference forecaster (cached after the first run)")
    forecaster = reference_circuit(store, config.cache_dir(), log=log)
    resolvers: dict[int, Any] = {}

    def resolver(width: int):
        if width not in resolvers:
            resolvers[width] = compile_resolver(store, config.cache_dir(), width, log=log)
        return resolvers[width]

    log(f"starting the embedded chain at {REPLAY_START:%Y-%m-%d} and deploying contracts")
    net = LocalNetwork(store, n=n_validators, t=threshold, load_data=load_source, fund_wei=100 * 10**18,
                       start=int(REPLAY_START.timestamp()))
    signer = LocalSigner.create()
    provers = {c.model_id: EzklProver(c, signer, clock=lambda: _chain_time(net))
               for c in [forecaster] + [resolver(m.width) for m in DEMO_MARKETS]}
    yes_bettor, no_bettor = net.alice, net.bob
    stake = {0: 1 * 10**18, 1: 2 * 10**18}

    specs = []
    for i, m in enumerate(DEMO_MARKETS, 1):
        spec = demo_spec(m, lambda w: resolver(w).model_id, forecaster.model_id, quorum=threshold)
        store.set_ref("market", spec.market_id, store.put(spec.canonical()))
        log(f"market {i}/{len(DEMO_MARKETS)}: registering before its event")
        net.register(spec)
        if len(spec.outcomes) == 2:
            net.dep.deposit(yes_bettor, spec.market_id, 0, stake[0])
            net.dep.deposit(no_bettor, spec.market_id, 1, stake[1])
        specs.append(spec)

    # every round of every market in the order time brings them
    schedule = sorted(((r.due_at, i, r) for i, s in enumerate(specs) for r in s.rounds()), key=lambda x: x[:2])
    reports: dict[str, dict[str, Any]] = {s.market_id: {"forecasts": []} for s in specs}
    prove_times, verify_times = [], []
    late_bet = None
    for due, i, rnd in schedule:
        spec = specs[i]
        net.advance_to(due)
        if late_bet is None and len(spec.outcomes) == 2 and rnd.final:
            try:  # trading closed before the window opened: a bet now must revert
                net.dep.deposit(yes_bettor, spec.market_id, 0, 10**17)
                late_bet = "accepted"
            except ChainError as e:
                late_bet = f"reverted: {e.error or e}"
        what = "resolution from the evidence" if rnd.final else f"forecast round {rnd.index}"
        log(f"market {i + 1}/{len(specs)}: {what} ({datetime.fromtimestamp(due, timezone.utc):%Y-%m-%d %H:%M} UTC)")
        while True:
            try:
                report = net.run_round(spec, load_source, provers[rnd.model], round=rnd.index)
                break
            except EvidenceMissing as e:  # a touch market resolves the first day the level is reached
                if not e.retry:
                    raise
                log(f"market {i + 1}/{len(specs)}: {e}; a day later")
                net.advance_to(net.chain.timestamp() + 86400)
        prove_times.append(report.prove_s)
        verify_times.extend(r.timings["proof"] for r in report.reviews if "proof" in r.timings)
        votes = [r.vote for r in report.reviews if r.vote is not None]
        if not rnd.final:
            reports[spec.market_id]["forecasts"].append(
                {"round": rnd.index, "as_of": str(rnd.features.as_of.date()),
                 "probability": votes[0].resolution.probability_ppm / 1e6 if votes else None,
                 "posted": report.submission is not None})
            continue
        reports[spec.market_id].update(report=report, vote=votes[0].resolution if votes else None)

    rows = []
    for spec in specs:
        rep = reports[spec.market_id]
        report, vote = rep["report"], rep["vote"]
        market_id = spec.market_id
        onchain_outcome, payout, tx_hash = None, 0, None
        if report.submission is not None:
            tx_hash = report.submission.tx_hash
            resolved = net.dep.resolution_of(market_id).resolution
            onchain_outcome = "INVALID" if resolved.outcome == INVALID_OUTCOME else spec.outcomes[resolved.outcome]
            if len(spec.outcomes) == 2:
                winner = yes_bettor if resolved.outcome == 0 else no_bettor
                log(f"{spec.question[:40]}…: winner redeems")
                payout, _ = net.dep.redeem(winner, market_id)
        evidence = gather(spec, load_source, datetime.now(timezone.utc))  # what the data shows today
        actual = spec.shape.decide(evidence.outputs).outcome_name
        decided = vote.outcome if vote else None
        row = {
            "market_id": market_id,
            "question": spec.question,
            "shape": spec.shape.kind,
            "outcome": (spec.outcomes[decided] if decided is not None and decided != INVALID_OUTCOME
                        else ("INVALID" if decided == INVALID_OUTCOME else None)),
            "probability": (vote.probability_ppm / 1e6) if vote else None,
            "forecasts": rep["forecasts"],
            "actual_outcome": actual,
            "evidence": {"bars": list(evidence.bars), "inputs": evidence.inputs,
                         "sources": [s.get("uri") or s.get("address") for s in spec.observe.sources],
                         "off_median": evidence.deviants},
            "proof_verified": sum("proof" in r.checks for r in report.reviews) >= threshold,
            "validators_signed": report.signed,
            "validators": n_validators,
            "quorum": max(threshold, spec.quorum),
            "refusals": [r.to_json() for r in report.refusals],
            "tx_hash": tx_hash,
            "onchain_outcome": onchain_outcome,
            # the dispute court's word: the demo's markets have no window, final as they land
            "court_state": net.dep.court.state_of(market_id),
            "payout_wei": payout,
            "bundle_hash": report.bundle.bundle_hash,
            "prove_s": round(report.prove_s, 3),
        }
        store.set_ref("bundle", market_id, store.put_json(report.bundle.to_json()))
        if report.submission is not None:
            store.set_ref("resolution", market_id, store.put_json({**row, "resolution": vote.to_json()}))
        rows.append(row)

    res1 = resolver(1)
    return {
        "chain": {"kind": "embedded", "chain_id": net.chain.chain_id, "contracts": net.dep.addresses,
                  "replay_start": REPLAY_START.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "model": {"model_id": res1.model_id, "name": res1.record.name,
                  "logrows": res1.record.circuit(1).logrows, "srs_kind": res1.record.srs_kind,
                  "srs_note": srs_label(res1.record.srs_kind)},
        "forecaster": {"model_id": forecaster.model_id, "name": forecaster.record.name},
        "resolvers": {str(w): c.model_id for w, c in sorted(resolvers.items())},
        "validators": n_validators,
        "threshold": threshold,
        "late_bet": late_bet,
        "markets": rows,
        "timings": {
            "prove_s": round(statistics.median(prove_times), 3),
            "verify_s_median": round(statistics.median(verify_times), 4),
            "end_to_end_s": round(time.perf_counter() - t_start, 2),
        },
    }


def _chain_time(net) -> datetime:
    return datetime.fromtimestamp(net.chain.timestamp(), timezone.utc)
