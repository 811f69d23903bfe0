"""INVALID by absence: evidence that never appears by the deadline resolves the market INVALID, on
each validator's own reads and the chain's clock; never earlier, never when the evidence exists."""

from __future__ import annotations

import pytest

from markets.spec import MarketSpec
from oracle.eip712 import INVALID_OUTCOME
from validators.absence import absence_resolution, review_absence

from conftest import spec_doc

pytestmark = pytest.mark.slow


def _starved(circuit) -> MarketSpec:
    """Two agreeing sources needed; Coinbase's file ends 2020-11-20, so for 2021-01-19 only Yahoo has it."""
    return MarketSpec.parse(spec_doc(circuit.model_id, at="2021-01-19", value=36000,
                                     sources=("btc-yahoo", "btc-coinbase")))


def _vote_all(network, spec):
    reviews = [review_absence(v, spec) for v in network.validators]
    subs = [network.aggregator.add(r.vote, required=spec.quorum) for r in reviews if r.vote is not None]
    return reviews, next((s for s in subs if s is not None), None)


def test_missing_evidence_is_invalid_only_after_the_deadline_and_refunds(network, circuit):
    spec = _starved(circuit)
    network.register(spec)  # time passes to resolve_at: the day is over, the deadline is a week later
    reviews, sub = _vote_all(network, spec)
    assert sub is None and all(r.refusal.check == "absence" and "deadline has not passed" in r.refusal.reason
                               for r in reviews)
    network.advance_to(int(spec.deadline.timestamp()))
    reviews, sub = _vote_all(network, spec)
    assert all(r.vote is not None for r in reviews)
    assert sub is not None and sub.settlement.on_chain
    stored = network.dep.resolution_of(spec.market_id).resolution
    assert stored == absence_resolution(spec) and stored.outcome == INVALID_OUTCOME


def test_bets_on_a_market_that_goes_invalid_by_absence_are_refunded(network, circuit):
    spec = _starved(circuit)
    network.register(spec, advance=False)
    network.dep.deposit(network.alice, spec.market_id, 0, 10**18)
    network.dep.deposit(network.bob, spec.market_id, 1, 3 * 10**18)
    network.advance_to(int(spec.deadline.timestamp()))
    _, sub = _vote_all(network, spec)
    assert sub is not None
    paid, _ = network.dep.redeem(network.alice, spec.market_id)
    assert paid == 10**18


def test_no_invalid_when_the_evidence_exists(network, spec):
    network.register(spec)
    network.advance_to(int(spec.deadline.timestamp()))  # even long after: the evidence decides
    reviews, sub = _vote_all(network, spec)
    assert sub is None
    assert all(r.refusal.check == "absence" and "evidence exists" in r.refusal.reason for r in reviews)


def test_oracle_verify_checks_an_invalid_by_absence_from_public_data(network, circuit, store, load):
    from validators.audit import Auditor

    spec = _starved(circuit)
    store.put(spec.canonical())
    network.register(spec, advance=False)
    network.advance_to(int(spec.deadline.timestamp()))
    _, sub = _vote_all(network, spec)
    assert sub is not None
    verdict = Auditor(network.dep, store, load).verify(spec.market_id)
    checks = {c.name: c for c in verdict.checks}
    assert verdict.ok, verdict.to_json()
    assert checks["absence"].ok and "still lack it" in checks["absence"].detail
    assert checks["signatures"].ok and "proof" not in checks
