"""Registration, pulling from the chain, forecast rounds with scores, and a scheduler that survives SIGKILL.

All against a real anvil node started by the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import PASSWORD, spec_doc
from markets.spec import MarketSpec
from oracle.errors import ChainError, SpecError

pytestmark = pytest.mark.slow
runner = CliRunner()


def _node():
    from network.node import Node

    return Node(password=PASSWORD)


def _write(tmp_path: Path, name: str, doc: dict) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def test_registration_round_trip(node_home, circuit, tmp_path):
    doc = spec_doc(circuit.model_id, resolve_in_s=3600)
    result = runner.invoke(app, ["market", "register", str(_write(tmp_path, "m.json", doc)), "--json"])
    assert result.exit_code == 0, result.output
    market_id = json.loads(result.stdout)["market_id"]
    spec = MarketSpec.parse(doc)
    assert market_id == spec.market_id

    node = _node()
    onchain = node.dep.get_market(market_id)
    assert (onchain.spec_hash, onchain.model_id, onchain.resolve_at, onchain.outcome_count, onchain.quorum) == (
        spec.spec_hash, spec.model, spec.resolve_at_unix, 2, 3)
    assert onchain.creator == node.creator.address
    assert MarketSpec.parse(json.loads(node.store.get(spec.spec_hash))) == spec  # content-addressed
    assert [r.status for r in node.state.rounds(market_id)] == ["pending"]
    shown = runner.invoke(app, ["market", "show", market_id, "--json"])
    assert json.loads(shown.stdout)["spec"]["question"] == doc["question"]

    past = runner.invoke(app, ["market", "register", str(_write(tmp_path, "p.json", spec_doc(circuit.model_id)))])
    assert past.exit_code == 1 and "field 'resolve_at'" in past.output and "in the past" in past.output


def test_registration_is_all_or_nothing(node_home, circuit, monkeypatch):
    node = _node()
    spec = MarketSpec.parse(spec_doc(circuit.model_id, as_of="2021-01-09", resolve_in_s=3600))

    def broken(*a, **k):
        raise ChainError("MarketRegistry.register", "connection dropped")

    monkeypatch.setattr(node.dep, "register_market", broken)
    with pytest.raises(ChainError):
        node.register(spec)
    assert not node.store.has(spec.spec_hash)
    assert node.state.market(spec.market_id) is None
    assert not node.dep.is_registered(spec.market_id)


def test_spec_must_fit_the_model(node_home, circuit):
    node = _node()
    three = spec_doc(circuit.model_id, resolve_in_s=3600, outcomes=["UP", "FLAT", "DOWN"],
                     rule={"kind": "argmax"})
    with pytest.raises(SpecError) as e:
        node.register(MarketSpec.parse(three))
    assert e.value.field == "outcomes" and "gives 1" in e.value.reason
    with pytest.raises(SpecError) as e:
        node.register(MarketSpec.parse(spec_doc("0x" + "99" * 32, resolve_in_s=3600)))
    assert e.value.field == "model"


def test_markets_of_other_creators_are_picked_up_from_chain(node_home, circuit):
    from oracle.signer import LocalSigner

    node = _node()
    others = [LocalSigner.create() for _ in range(2)]
    ids = []
    for i, creator in enumerate(others):
        node.chain.fund(creator.address, 10**19)
        spec = MarketSpec.parse(spec_doc(circuit.model_id, as_of=f"2021-01-1{i}", resolve_in_s=3600))
        node.store.put(spec.canonical())  # they publish the spec to the shared artifact store
        node.dep.register_market(creator, spec_hash=spec.spec_hash, model_id=spec.model,
                                 resolve_at=spec.resolve_at_unix, outcome_count=2, quorum=3)
        ids.append(spec.market_id)
    hidden = MarketSpec.parse(spec_doc(circuit.model_id, as_of="2021-01-15", resolve_in_s=3600))
    node.dep.register_market(others[0], spec_hash=hidden.spec_hash, model_id=hidden.model,
                             resolve_at=hidden.resolve_at_unix, outcome_count=2, quorum=3)

    counts = node.pull()
    assert counts["new"] == 2
    tracked = {m["market_id"]: m["origin"] for m in node.state.markets()}
    assert all(tracked[i] == "chain" for i in ids)
    skipped = {s["external_id"]: s["reason"] for s in node.state.skipped()}
    assert "not in the artifact store" in skipped[hidden.market_id]
    assert node.pull()["new"] == 0  # the cursor moved on: nothing counted twice


def test_forecast_market_posts_rounds_and_is_scored(node_home, circuit, frame):
    from markets.scoring import brier, log_loss

    node = _node()
    doc = spec_doc(circuit.model_id, as_of="2021-01-10", price=40000.0, resolve_in_s=0)
    doc["features"]["params"]["horizon_days"] = 10
    doc.update(kind="forecast", forecast={"every_days": 3, "close_at": "2021-01-19T00:00:00Z"})
    spec = MarketSpec.parse(doc)
    node.register(spec)
    statuses = [node.dispatch(spec.market_id, r.index) for r in spec.rounds()]
    assert statuses == ["settled"] * 3

    posted = [node.dep.forecast_of(spec.market_id, i) for i in (0, 1)]
    final = node.dep.resolution_of(spec.market_id).resolution
    assert None not in posted and final.round == 2
    assert node.dep.oracle.functions.forecastCount(bytes.fromhex(spec.market_id[2:])).call() == 2
    with pytest.raises(ChainError, match="AlreadyResolved"):
        node.dep.post_forecast(node.submitter, final, [])

    truth = spec.features.truth(frame)
    assert truth is not None
    probs = [p / 1e6 for p in posted + [final.probability_ppm]]
    score = node.state.score(spec.market_id)
    assert score["n"] == 3
    assert score["brier"] == pytest.approx(brier(probs, [int(truth)] * 3))
    assert score["log_loss"] == pytest.approx(log_loss(probs, [int(truth)] * 3))
    assert [d["as_of"] for d in score["detail"]] == ["2021-01-10", "2021-01-13", "2021-01-16"]
    assert node.dispatch(spec.market_id, 0) == "skipped"  # settled rounds never run again


def _scheduler(home: Path) -> subprocess.Popen:
    env = {**os.environ, "ORACLE_HOME": str(home), "ORACLE_KEYSTORE_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    oracle = Path(sys.executable).parent / "oracle"
    log = open(home / "scheduler.log", "ab")
    return subprocess.Popen([str(oracle), "scheduler", "run", "--until-idle"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def test_scheduler_survives_sigkill(node_home, circuit, tmp_path):
    from oracle.state import LocalState

    node = _node()
    specs = [MarketSpec.parse(spec_doc(circuit.model_id, as_of=d, resolve_in_s=2))
             for d in ("2021-01-05", "2021-01-06", "2021-01-07")]
    for s in specs:
        node.register(s)
    state = LocalState(node_home / "state.sqlite")

    first = _scheduler(node_home)
    try:
        # kill while one round is settled and another is mid-run (claimed, proving)
        _wait(lambda: (lambda st: "settled" in st and "running" in st)([r.status for r in state.rounds()]),
              180, "one round settled and one running", node_home / "scheduler.log")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    before = {(r.market_id, r.round): r for r in state.rounds()}
    assert any(r.status == "running" for r in before.values())

    # a market registered while the scheduler is down, already due: a missed job
    late = MarketSpec.parse(spec_doc(circuit.model_id, as_of="2021-01-08", resolve_in_s=1))
    node.register(late)
    time.sleep(1.5)

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
    logs = node.dep.oracle.events.Resolved().get_logs(from_block=node.dep.from_block)
    resolved = [("0x" + bytes(e["args"]["marketId"]).hex()) for e in logs]
    assert sorted(resolved) == sorted(s.market_id for s in specs + [late])  # each exactly once
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
    specs = [MarketSpec.parse(spec_doc(node.model_id, as_of=d, resolve_in_s=0))
             for d in ("2021-02-01", "2021-02-02", "2021-02-03")]
    for s in specs:
        node.register(s)
    assert node.dispatch(specs[0].market_id, 0) == "settled"
    rows = [node.state.rounds(s.market_id)[0] for s in specs]
    assert [r.status for r in rows] == ["settled"] * 3 and all(r.detail == "batch of 3" for r in rows)
    proofs = {node.dep.resolution_of(s.market_id).resolution.proof_hash for s in specs}
    assert len(proofs) == 1  # one proof settled three markets
    for s in specs:  # every market of the shared proof re-verifies on its own row
        code = runner.invoke(app, ["verify", s.market_id, "--json"])
        assert code.exit_code == 0, code.output
