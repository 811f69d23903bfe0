"""Registration, pulling from the chain, forecast rounds with scores, and a scheduler that survives SIGKILL.

All against a real anvil node started by the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import PASSWORD, forecast_doc, spec_doc, wait_until
from markets.spec import MarketSpec
from oracle.errors import ChainError, OracleError, SpecError

pytestmark = pytest.mark.slow
runner = CliRunner()


def _node():
    from network.node import Node

    return Node(password=PASSWORD)


def _write(tmp_path: Path, name: str, doc: dict) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def _advance_to(node, when: int) -> None:
    now = node.chain.timestamp()
    if when > now:
        node.chain.advance_time(when - now)


def test_registration_round_trip(node_home, circuit, tmp_path):
    """A creator asks the node for its resolver id, writes a version-2 spec with it, registers it from
    the CLI before the event; once trading has closed by the chain's clock, a spec is refused."""
    resolvers = runner.invoke(app, ["model", "resolvers", "--json"])
    assert resolvers.exit_code == 0, resolvers.output
    [row] = json.loads(resolvers.stdout)
    assert row["width"] == 1 and row["model_id"] == circuit.model_id and "above" in row["shapes"]
    doc = spec_doc(row["model_id"])  # BTC above $4,000 on 2019-03-23; the chain is at 2019-03-10
    result = runner.invoke(app, ["market", "register", str(_write(tmp_path, "m.json", doc)), "--json"])
    assert result.exit_code == 0, result.output
    market_id = json.loads(result.stdout)["market_id"]
    spec = MarketSpec.parse(doc)
    assert market_id == spec.market_id

    node = _node()
    onchain = node.dep.get_market(market_id)
    assert (onchain.spec_hash, onchain.model_id, onchain.close_at, onchain.resolve_at, onchain.outcome_count,
            onchain.quorum) == (spec.spec_hash, spec.resolver, spec.close_at_unix, spec.resolve_at_unix, 2, 3)
    assert onchain.creator == node.creator.address
    assert MarketSpec.parse(json.loads(node.store.get(spec.spec_hash))) == spec  # content-addressed
    assert [r.status for r in node.state.rounds(market_id)] == ["pending"]
    shown = runner.invoke(app, ["market", "show", market_id, "--json"])
    assert json.loads(shown.stdout)["spec"]["question"] == doc["question"]

    # the chain's clock reaches the day: trading is closed, the outcome could be known
    _advance_to(node, spec.close_at_unix)
    late = _write(tmp_path, "late.json", spec_doc(row["model_id"], value=4100))
    closed = runner.invoke(app, ["market", "register", str(late)])
    assert closed.exit_code == 1, closed.output
    assert "field 'close_at'" in closed.output and "not in the future (now 2019-03-23" in closed.output
    assert not node.dep.is_registered(MarketSpec.parse(spec_doc(row["model_id"], value=4100)).market_id)


def test_registration_is_all_or_nothing(node_home, circuit, monkeypatch):
    node = _node()
    spec = MarketSpec.parse(spec_doc(circuit.model_id, at="2019-03-20"))

    def broken(*a, **k):
        raise ChainError("MarketRegistry.register", "connection dropped")

    monkeypatch.setattr(node.dep, "register_market", broken)
    with pytest.raises(ChainError):
        node.register(spec)
    assert not node.store.has(spec.spec_hash)
    assert node.state.market(spec.market_id) is None
    assert not node.dep.is_registered(spec.market_id)


def test_spec_must_fit_the_resolver(node_home, circuit):
    """Three bounds need a resolver over three comparisons; a model the node does not have is refused."""
    node = _node()
    assert node.resolver_id(1) == circuit.model_id
    buckets = spec_doc(circuit.model_id, outcomes=["<3,900", "3,900-4,000", "4,000-4,100", ">=4,100"],
                       shape={"kind": "range", "at": "2019-03-23", "bounds": [3900, 4000, 4100]})
    with pytest.raises(SpecError) as e:
        node.register(MarketSpec.parse(buckets))
    assert e.value.field == "resolver" and "over 3 comparison(s)" in e.value.reason
    wide = node.resolver_id(3)  # the node's own resolver for the shape: accepted
    assert node.register(MarketSpec.parse({**buckets, "resolver": wide})) == MarketSpec.parse(
        {**buckets, "resolver": wide}).market_id
    with pytest.raises(OracleError, match="0x9999"):
        node.register(MarketSpec.parse(spec_doc("0x" + "99" * 32)))


def test_markets_of_other_creators_are_picked_up_from_chain(node_home, circuit):
    from oracle.signer import LocalSigner

    node = _node()
    others = [LocalSigner.create() for _ in range(2)]
    ids = []
    for i, creator in enumerate(others):
        node.chain.fund(creator.address, 10**19)
        spec = MarketSpec.parse(spec_doc(circuit.model_id, at=f"2019-03-1{i + 5}"))
        node.store.put(spec.canonical())  # they publish the spec to the shared artifact store
        node.dep.register_market(creator, **spec.onchain())
        ids.append(spec.market_id)
    hidden = MarketSpec.parse(spec_doc(circuit.model_id, at="2019-03-20"))
    node.dep.register_market(others[0], **hidden.onchain())

    counts = node.pull()
    assert counts["new"] == 2
    tracked = {m["market_id"]: m["origin"] for m in node.state.markets()}
    assert all(tracked[i] == "chain" for i in ids)
    skipped = {s["external_id"]: s["reason"] for s in node.state.skipped()}
    assert "not in the artifact store" in skipped[hidden.market_id]
    assert node.pull()["new"] == 0  # the cursor moved on: nothing counted twice


def test_forecast_market_posts_rounds_and_resolves_from_evidence_then_is_scored(node_home, circuit, forecaster):
    """Forecasts by the forecaster while trading is open, then the resolver's outcome from the evidence
    of four providers (NO: the median close 3,994.25 is under $4,000); the forecasts are scored on it."""
    from markets.scoring import brier, log_loss
    from oracle.eip712 import Resolution

    node = _node()
    assert node.model_id == forecaster.model_id
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))  # 2019-03-17 .. 23, every 2 days
    rounds = spec.rounds()
    assert [(r.final, r.model) for r in rounds] == [(False, forecaster.model_id)] * 3 + [(True, circuit.model_id)]
    node.register(spec)
    statuses = []
    for r in rounds:
        _advance_to(node, r.due_at)
        statuses.append(node.dispatch(spec.market_id, r.index))
    assert statuses == ["settled"] * 4
    assert node.prove_worker.started == 1  # both models' four proofs came from one long-lived prove process

    posted = [node.dep.forecast_of(spec.market_id, i) for i in (0, 1, 2)]
    final = node.dep.resolution_of(spec.market_id).resolution
    assert None not in posted and final.round == 3 and final.model_id == circuit.model_id
    assert spec.outcomes[final.outcome] == "NO"
    assert node.dep.oracle.functions.forecastCount(bytes.fromhex(spec.market_id[2:])).call() == 3
    with pytest.raises(ChainError, match="AlreadyResolved"):
        node.dep.post_forecast(node.submitter, Resolution(**{**final.to_json(), "round": 0, "final": False}), [])

    probs = [p / 1e6 for p in posted]
    score = node.state.score(spec.market_id)
    assert score["n"] == 3 and score["model_id"] == forecaster.model_id
    assert score["brier"] == pytest.approx(brier(probs, [0] * 3))
    assert score["log_loss"] == pytest.approx(log_loss(probs, [0] * 3))
    assert [d["as_of"] for d in score["detail"]] == ["2019-03-17", "2019-03-19", "2019-03-21"]
    assert node.dispatch(spec.market_id, 0) == "skipped"  # settled rounds never run again


def test_an_hourly_volatility_forecast_market_posts_rounds_validators_recompute_then_resolves(
        node_home, circuit, hourly_forecaster):
    """A forecast market on the hourly-volatility model (recipe trailing_returns_hourly_vol_v1, Bitstamp's
    hourly bars as `forecast.hourly_source`): the node compiles that forecaster for it, each validator
    recomputes the hourly feature from its own read of the bars; two validators whose copy of one
    hour differs refuse on the data snapshot (no quorum: the round waits), the honest quorum then posts
    every round, and the market resolves from the evidence and is scored."""
    import pandas as pd

    from markets.demo import SOURCES

    node = _node()
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, hourly_forecaster.model_id, hourly=True))
    assert spec.forecast.hourly_source == SOURCES["btc-bitstamp-1h"]
    rounds = spec.rounds()
    assert [(r.final, r.model) for r in rounds] == [(False, hourly_forecaster.model_id)] * 3 + \
        [(True, circuit.model_id)]
    # a forecaster this node does not have, and the hourly model named for the daily recipe: refused
    with pytest.raises(SpecError, match="0x7777.* is not a model this home knows") as e:
        node.register(MarketSpec.parse(forecast_doc(circuit.model_id, "0x" + "77" * 32, hourly=True)))
    assert e.value.field == "forecast.model"
    with pytest.raises(SpecError, match="reads recipe trailing_returns_hourly_vol_v1, not trailing_returns_v1") as e:
        node.register(MarketSpec.parse(forecast_doc(circuit.model_id, hourly_forecaster.model_id)))
    assert e.value.field == "forecast.features.recipe"
    node.register(spec)
    assert node.round_prover(spec, 0).circuit.model_id == hourly_forecaster.model_id
    assert node.prover_for(hourly_forecaster.model_id) is node.hourly_prover

    honest = node.validators
    moved = node.load_data(spec.forecast.hourly_source).copy()
    moved.loc[pd.Timestamp("2019-03-10 05:00"), "close"] *= 1.001  # inside round 0's 720-hour window

    def two_with_another_copy():
        vs = honest()
        for v in vs[:2]:
            v.load_data = lambda s: moved if s == spec.forecast.hourly_source else node.load_data(s)
        return vs

    node.validators = two_with_another_copy
    _advance_to(node, rounds[0].due_at)
    assert node.dispatch(spec.market_id, 0) == "retry"
    [row] = [r for r in node.state.rounds(spec.market_id) if r.round == 0]
    assert row.detail.startswith("no quorum") and row.detail.count("data-snapshot:") == 2, row.detail
    assert node.dep.forecast_of(spec.market_id, 0) is None

    node.validators = honest
    statuses = [node.dispatch(spec.market_id, 0)]
    for r in rounds[1:]:
        _advance_to(node, r.due_at)
        statuses.append(node.dispatch(spec.market_id, r.index))
    assert statuses == ["settled"] * 4
    assert node.prove_worker.started == 1  # both models' proofs from the one long-lived prove process

    posted = [node.dep.forecast_of(spec.market_id, i) for i in (0, 1, 2)]
    final = node.dep.resolution_of(spec.market_id).resolution
    assert None not in posted and final.model_id == circuit.model_id and spec.outcomes[final.outcome] == "NO"
    score = node.state.score(spec.market_id)
    assert score["n"] == 3 and score["model_id"] == hourly_forecaster.model_id


def test_a_round_before_its_evidence_exists_waits(node_home, circuit):
    """Due by the wall clock, not by the chain's: the day's close is not final on the chain's clock yet."""
    node = _node()
    spec = MarketSpec.parse(spec_doc(circuit.model_id, at="2019-03-12"))
    node.register(spec)
    _advance_to(node, spec.resolve_at_unix - 3600)
    assert node.dispatch(spec.market_id, 0) == "retry"
    assert not node.dep.is_resolved(spec.market_id)
    _advance_to(node, spec.resolve_at_unix)
    assert node.dispatch(spec.market_id, 0) == "settled"


def _scheduler(home: Path) -> subprocess.Popen:
    env = {**os.environ, "ORACLE_HOME": str(home), "ORACLE_KEYSTORE_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    oracle = Path(sys.executable).parent / "oracle"
    log = open(home / "scheduler.log", "ab")
    return subprocess.Popen([str(oracle), "scheduler", "run", "--until-idle"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_scheduler_survives_sigkill(node_home, circuit, tmp_path):
    from oracle.state import LocalState

    node = _node()
    specs = [MarketSpec.parse(spec_doc(circuit.model_id, at=d)) for d in ("2019-03-11", "2019-03-12", "2019-03-13")]
    for s in specs:
        node.register(s)
    _advance_to(node, max(s.resolve_at_unix for s in specs))
    state = LocalState(node_home / "state.sqlite")

    first = _scheduler(node_home)
    try:
        # kill while one round is settled and another is mid-run (claimed, proving)
        wait_until(lambda: (lambda st: "settled" in st and "running" in st)([r.status for r in state.rounds()]),
                   180, "one round settled and one running", log=node_home / "scheduler.log")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    before = {(r.market_id, r.round): r for r in state.rounds()}
    assert any(r.status == "running" for r in before.values())

    # a market registered while the scheduler is down (before its day), due by the time it is back
    late = MarketSpec.parse(spec_doc(circuit.model_id, at="2019-03-15"))
    node.register(late)
    _advance_to(node, late.resolve_at_unix)

    second = _scheduler(node_home)
    try:
        assert second.wait(240) == 0, (node_home / "scheduler.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)

    after = {(r.market_id, r.round): r for r in state.rounds()}
    assert len(after) == 4 and all(r.status == "settled" for r in after.values())
    for key, r in before.items():
        if r.status == "settled":
            assert after[key].attempts == 1  # settled before the kill: never dispatched again
    assert all(len(node.dep.resolved_events(s.market_id)) == 1 for s in specs + [late])  # each exactly once
    for s in specs + [late]:
        assert after[(s.market_id, 0)].tx_hash or after[(s.market_id, 0)].detail == "found on-chain"
    status = runner.invoke(app, ["scheduler", "status", "--json"])
    assert status.exit_code == 0
    assert {r["status"] for r in json.loads(status.stdout)["rounds"]} == {"settled"}


def test_due_rounds_of_one_model_share_a_proof(node_home, circuit):
    from network.node import NodeConfig

    cfg = NodeConfig.load(node_home)
    cfg.batches = [1, 4]
    cfg.save(node_home)
    node = _node()
    resolver = node.resolver_id(1)  # compiled with batches 1 and 4: another model id than `circuit`'s
    assert resolver != circuit.model_id
    specs = [MarketSpec.parse(spec_doc(resolver, at=d)) for d in ("2019-03-12", "2019-03-13", "2019-03-14")]
    for s in specs:
        node.register(s)
    _advance_to(node, max(s.resolve_at_unix for s in specs))
    assert node.dispatch(specs[0].market_id, 0) == "settled"
    rows = [node.state.rounds(s.market_id)[0] for s in specs]
    assert [r.status for r in rows] == ["settled"] * 3 and all(r.detail == "batch of 3" for r in rows)
    proofs = {node.dep.resolution_of(s.market_id).resolution.proof_hash for s in specs}
    assert len(proofs) == 1  # one proof settled three markets
    for s in specs:  # every market of the shared proof re-verifies on its own row
        code = runner.invoke(app, ["verify", s.market_id, "--json"])
        assert code.exit_code == 0, code.output
