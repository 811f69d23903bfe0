"""The one round driver and the one settler: their policies, on their own.

The driver runs here over a real LocalState with the work and the chain's answers scripted (what
the driver decides is the point); the settler runs on the embedded chain with real contracts.
End to end, both are exercised by node mode (test_scheduling) and network mode (test_network).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from oracle.errors import ChainError, OracleError
from oracle.rounds import Backoff, Done, RoundDriver
from oracle.settlement import ALREADY, DEFERRED, SETTLED, Settler
from oracle.state import LocalState


@dataclass
class _Round:
    final: bool


class _Spec:
    """What the driver reads of a spec (which rounds are final), plus what LocalState stores."""

    kind, resolve_at_unix = "resolve", 0

    def __init__(self, market_id: str, rounds: int, model: str = "m"):
        self.market_id, self.model, self.n = market_id, model, rounds
        self.spec_hash = market_id

    def canonical(self) -> bytes:
        return b"{}"

    def round(self, i: int) -> _Round:
        return _Round(final=i == self.n - 1)

    def rounds(self):
        return [type("R", (), {"index": i, "due_at": 0})() for i in range(self.n)]


class _Chain:
    """What the chain holds per (market, round): the driver asks before running anything."""

    def __init__(self):
        self.held: dict[tuple[str, int], dict] = {}

    def round_result(self, market_id: str, round: int, *, final: bool):
        return self.held.get((market_id, round))


class _Work:
    def __init__(self, answers, companions=()):
        self.answers, self._companions, self.ran = answers, list(companions), []

    def companions(self, first):
        return self._companions

    def run(self, rounds):
        self.ran.append([c.key for c in rounds])
        if isinstance(self.answers, Exception):
            raise self.answers
        return {c.key: self.answers[c.key] for c in rounds if c.key in self.answers}


@pytest.fixture
def world(tmp_path):
    state = LocalState(tmp_path / "state.sqlite")
    specs = {m: _Spec(m, 1) for m in ("0xa", "0xb", "0xc")}
    for s in specs.values():
        state.add_market(s, "test", [(0, int(time.time()) - 1)])
    return state, specs, _Chain()


def _driver(world, work, **kw):
    state, specs, chain = world
    events = []
    d = RoundDriver(state, chain, specs.__getitem__, work, log=lambda e, **f: events.append((e, f)), **kw)
    return d, events


def _row(state, market_id):
    return state.rounds(market_id)[0]


def test_settled_round_is_finished_and_never_runs_again(world):
    state = world[0]
    work = _Work({("0xa", 0): Done("settled", "batch of 1", 1, 900_000, "0xtx")})
    d, events = _driver(world, work)
    assert d.drive("0xa", 0) == "settled"
    row = _row(state, "0xa")
    assert (row.status, row.outcome, row.probability_ppm, row.tx_hash, row.attempts) == ("settled", 1, 900_000, "0xtx", 1)
    assert [e for e, _ in events] == ["round_settled"]
    assert d.drive("0xa", 0) == "skipped" and work.ran == [[("0xa", 0)]]


def test_a_round_the_chain_already_holds_is_not_run(world):
    state, _, chain = world
    chain.held[("0xa", 0)] = {"outcome": 0, "probability_ppm": 100_000}
    work = _Work({})
    d, _ = _driver(world, work)
    assert d.drive("0xa", 0) == "settled" and work.ran == []
    row = _row(state, "0xa")
    assert (row.detail, row.outcome) == ("found on-chain", 0)


def test_retry_moves_the_due_time_by_the_one_backoff(world):
    state = world[0]
    backoff = Backoff(first_s=4, max_s=10)
    d, events = _driver(world, _Work({("0xa", 0): Done("retry", "no quorum")}), backoff=backoff)
    for attempt, wait in ((1, 4), (2, 8), (3, 10)):
        before = time.time()
        assert d.drive("0xa", 0) == "retry"
        row = _row(state, "0xa")
        assert row.status == "retry" and row.attempts == attempt and row.detail == "no quorum"
        assert before + wait <= row.due_at <= time.time() + wait + 1
        assert events[-1] == ("round_waiting", {"market_id": "0xa", "round": 0, "attempt": attempt,
                                                "reason": "no quorum", "retry_in_s": wait})


def test_work_errors_and_missing_answers_are_retried_not_lost(world):
    state = world[0]
    d, _ = _driver(world, _Work(OracleError("prover unreachable")))
    assert d.drive("0xa", 0) == "retry" and _row(state, "0xa").detail == "prover unreachable"
    d, _ = _driver(world, _Work({}))
    assert d.drive("0xb", 0) == "retry" and _row(state, "0xb").detail == "the work gave no result"


def test_only_the_work_fails_a_round(world):
    state = world[0]
    d, _ = _driver(world, _Work({("0xa", 0): Done("failed", "corrupt data")}))
    assert d.drive("0xa", 0) == "failed"
    assert d.drive("0xa", 0) == "skipped"  # failed rounds are not claimed again
    assert _row(state, "0xa").detail == "corrupt data"


def test_companions_run_with_the_first_round(world):
    state = world[0]
    answers = {(m, 0): Done("settled", "batch of 2") for m in ("0xa", "0xb")}
    work = _Work(answers, companions=[("0xb", 0), ("0xa", 0)])  # a claimed round is not claimed twice
    d, _ = _driver(world, work)
    assert d.drive("0xa", 0) == "settled"
    assert work.ran == [[("0xa", 0), ("0xb", 0)]]
    assert [_row(state, m).status for m in ("0xa", "0xb", "0xc")] == ["settled", "settled", "pending"]
    work2 = _Work({("0xc", 0): Done("settled")}, companions=[("0xa", 0)])
    d, _ = _driver(world, work2)
    assert d.drive("0xc", 0, companions=False) == "settled" and work2.ran == [[("0xc", 0)]]


# ------------------------------------------------------------------ settler, on the embedded chain
def test_settler_reports_what_became_of_a_quorum(network, spec, bundle):
    network.register(spec)
    resolution = network.validators[0].review(spec, bundle).vote.resolution
    signatures = network.signatures(resolution)
    settler = Settler(network.dep, network.submitter)

    done = settler(resolution, signatures)
    assert done.status == SETTLED and done.on_chain and done.gas_used > 0
    assert network.dep.resolution_of(spec.market_id).resolution == resolution

    # another aggregator with the same quorum: the chain already holds it, nothing is sent
    again = settler(resolution, signatures)
    assert again.status == ALREADY and again.tx_hash is None and again.reason == "found on-chain before submitting"


def test_settler_knows_a_competitor_by_the_decoded_error(network, spec, bundle, monkeypatch):
    network.register(spec)
    resolution = network.validators[0].review(spec, bundle).vote.resolution
    signatures = network.signatures(resolution)
    network.settle(resolution, signatures)  # someone else lands it first
    settler = Settler(network.dep, network.submitter)
    monkeypatch.setattr(settler, "_on_chain", lambda r: False)  # the race: our check saw nothing yet
    raced = settler(resolution, signatures)
    assert raced.status == ALREADY and raced.reason.startswith("AlreadyResolved(")

    # any other refusal is an error, whatever its message says
    other = type(spec).parse({**spec.to_json(), "question": spec.question + " AlreadyResolved?"})
    network.register(other)
    wrong = type(resolution)(**{**resolution.to_json(), "market_id": other.market_id})
    with pytest.raises(ChainError) as e:
        settler(wrong, signatures[:1])
    assert e.value.error == "NotEnoughSignatures"


def test_final_rounds_wait_for_the_bls_aggregate(network, spec, bundle):
    network.register(spec)
    resolution = network.validators[0].review(spec, bundle).vote.resolution
    settler = Settler(network.dep, network.submitter, bls_final=True)
    done = settler(resolution, network.signatures(resolution))
    assert done.status == DEFERRED and not done.on_chain and done.tx_hash is None
    assert not network.dep.is_resolved(spec.market_id)
