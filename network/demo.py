"""`oracle demo`: real BTC markets resolved end to end by every role, in one process, on the
embedded chain (network/local.py): register, bet, prove, review, settle, pay out."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from oracle import config
from oracle.models import srs_label
from oracle.store import ArtifactStore


def run_demo(*, n_validators: int = 5, threshold: int = 4, store: ArtifactStore | None = None,
             log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The demo: every role real, in one process, on the embedded chain. Returns the JSON report."""
    from markets.demo import BTC_SOURCE, DEMO_QUESTIONS, actual_outcome, demo_spec
    from markets.feeds import load_source
    from oracle.eip712 import INVALID_OUTCOME
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    from .local import LocalNetwork

    t_start = time.perf_counter()
    store = store or ArtifactStore(config.home() / "store")
    circuit = reference_circuit(store, config.cache_dir(), log=log)
    frame = load_source(BTC_SOURCE)

    log("starting the embedded chain and deploying contracts")
    net = LocalNetwork(store, n=n_validators, t=threshold, load_data=load_source, fund_wei=100 * 10**18)
    yes_bettor, no_bettor = net.alice, net.bob
    prover = EzklProver(circuit, LocalSigner.create())
    stake = {0: 1 * 10**18, 1: 2 * 10**18}
    rows, prove_times, verify_times = [], [], []
    for i, q in enumerate(DEMO_QUESTIONS, 1):
        spec = demo_spec(q, frame, circuit.model_id, quorum=threshold)
        store.set_ref("market", spec.market_id, store.put(spec.canonical()))
        log(f"market {i}/{len(DEMO_QUESTIONS)}: registering")
        market_id = net.register(spec)
        net.dep.deposit(yes_bettor, market_id, spec.outcomes.index("YES"), stake[0])
        net.dep.deposit(no_bettor, market_id, spec.outcomes.index("NO"), stake[1])

        report = net.run_round(spec, frame, prover, on_step=lambda s, i=i: log(f"market {i}/{len(DEMO_QUESTIONS)}: {s}"))
        prove_times.append(report.prove_s)
        verify_times.extend(r.timings["proof"] for r in report.reviews if "proof" in r.timings)

        onchain_outcome, payout, tx_hash, vote = None, 0, None, None
        if report.submission is not None:
            tx_hash = report.submission.tx_hash
            resolved = net.dep.resolution_of(market_id).resolution
            onchain_outcome = "INVALID" if resolved.outcome == INVALID_OUTCOME else spec.outcomes[resolved.outcome]
            winner = yes_bettor if onchain_outcome == "YES" else no_bettor
            log(f"market {i}/{len(DEMO_QUESTIONS)}: winner redeems")
            payout, _ = net.dep.redeem(winner, market_id)
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

    return {
        "chain": {"kind": "embedded", "chain_id": net.chain.chain_id, "contracts": net.dep.addresses},
        "model": {"model_id": circuit.model_id, "name": circuit.record.name,
                  "logrows": circuit.record.circuit(1).logrows, "srs_kind": circuit.record.srs_kind,
                  "srs_note": srs_label(circuit.record.srs_kind)},
        "validators": n_validators,
        "threshold": threshold,
        "markets": rows,
        "timings": {
            "prove_s": round(statistics.median(prove_times), 3),
            "verify_s_median": round(statistics.median(verify_times), 4),
            "end_to_end_s": round(time.perf_counter() - t_start, 2),
        },
    }
