"""`oracle verify`: anyone re-checks a resolution from the chain and public artifacts, and learns
exactly which check fails when something was tampered with."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import PASSWORD, ROOT, forecast_doc, spec_doc
from markets.spec import MarketSpec
from oracle.errors import CheckFailed

pytestmark = pytest.mark.slow
runner = CliRunner()


def _advance(node, when: int) -> None:
    """Let the chain's time pass to `when` (the node's clock is the chain's)."""
    now = node.chain.timestamp()
    if when > now:
        node.chain.advance_time(when - now)


@pytest.fixture
def resolved(node_home):
    """"BTC above $4,000 on 2019-03-23?" registered on the node's replay chain before the day and
    resolved (NO, from four providers) once the day is over by the chain's clock."""
    from network.node import Node

    node = Node(password=PASSWORD)
    spec = MarketSpec.parse(spec_doc(node.resolver_id()))
    node.register(spec)
    _advance(node, spec.resolve_at_unix)
    assert node.dispatch(spec.market_id, 0) == "settled"
    return node, spec


def _verify(*args):
    result = runner.invoke(app, ["verify", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_verify_passes_on_a_real_resolution(resolved):
    node, spec = resolved
    code, verdict = _verify(spec.market_id)
    assert code == 0 and verdict["ok"]
    assert [c["name"] for c in verdict["checks"]] == [
        "resolution", "spec", "model", "bundle", "data-snapshot", "source", "proof", "rule", "signatures"]
    assert all(c["ok"] for c in verdict["checks"])
    code, by_tx = _verify(verdict["tx_hash"])
    assert code == 0 and by_tx["market_id"] == spec.market_id


def test_verify_checks_signers_against_the_set_at_that_block(resolved):
    node, spec = resolved
    from oracle.signer import LocalSigner

    # rotate the whole validator set afterwards: the old resolution still verifies
    fresh = [LocalSigner.create().address for _ in range(3)]
    from oracle.keystore import KeyStore

    deployer = KeyStore(node.home / "keys").load("deployer", PASSWORD)
    node.dep.propose_validators(deployer, fresh, 2)  # a set change waits its public delay
    node.chain.advance_time(node.dep.validator_set_delay() + 1)
    node.dep.execute_validators(deployer)
    assert node.dep.validators() == fresh
    code, verdict = _verify(spec.market_id)
    assert code == 0 and verdict["ok"]


def test_signature_from_outside_the_set_is_named(resolved):
    node, spec = resolved
    from oracle.eip712 import signable
    from oracle.signer import LocalSigner
    from validators.audit import check_signatures

    r = node.dep.resolution_of(spec.market_id).resolution
    members = [k.address for k in node.validator_keys]
    sigs = [k.sign_message(signable(node.dep.domain, r)) for k in node.validator_keys[:2]]
    outsider = LocalSigner.create().sign_message(signable(node.dep.domain, r))
    with pytest.raises(CheckFailed, match="not in the validator set") as e:
        check_signatures(node.dep.domain, r, sigs + [outsider], members, 3)
    assert e.value.check == "signatures"
    with pytest.raises(CheckFailed, match="2 distinct validators signed, 3 needed"):
        check_signatures(node.dep.domain, r, sigs, members, 3)


def _corrupt(store, artifact_id: str) -> None:
    path = store._path(artifact_id)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_artifact_is_named(resolved):
    node, spec = resolved
    from oracle.models import load_model

    _corrupt(node.store, load_model(node.store, spec.model).circuit(1).vk)
    code, verdict = _verify(spec.market_id, "--offline")
    assert code == 1 and not verdict["ok"]
    failed = [c for c in verdict["checks"] if c["ok"] is False]
    assert failed[0]["name"] == "model" and "corrupt" in failed[0]["detail"]


def test_tampered_model_record_is_named(resolved):
    """A stored record changed after its id was made (here output_scale + 3, which would read the
    resolver's integer difference 8x smaller) no longer loads: the audit stops at the model check."""
    node, spec = resolved
    from oracle.models import load_model

    doc = load_model(node.store, spec.model).to_json()
    doc["circuits"][0]["output_scale"] += 3
    node.store.set_ref("model", spec.model, node.store.put_json(doc))
    code, verdict = _verify(spec.market_id, "--offline")
    assert code == 1 and not verdict["ok"]
    failed = [c for c in verdict["checks"] if c["ok"] is False]
    assert failed[0]["name"] == "model" and "field 'model_id'" in failed[0]["detail"]


def test_untrusted_srs_is_named(resolved):
    """An auditor whose store trusts no SRS the record names does not accept the proof."""
    node, spec = resolved
    from oracle.models import TRUSTED_SRS, load_model, trust_srs, trusted_srs

    srs = load_model(node.store, spec.model).circuit(1).srs
    assert srs in trusted_srs(node.store)
    for source in node.store.refs(TRUSTED_SRS):
        trust_srs(node.store, [], source=source)
    code, verdict = _verify(spec.market_id, "--offline")
    assert code == 1 and not verdict["ok"]
    failed = [c for c in verdict["checks"] if c["ok"] is False]
    assert failed[0]["name"] == "proof" and srs in failed[0]["detail"] and "not trusted" in failed[0]["detail"]


def test_wrong_data_snapshot_is_named(resolved):
    node, spec = resolved
    from oracle.bundle import BUNDLE_BY_PROOF, bundle_ref

    r = node.dep.resolution_of(spec.market_id).resolution
    bundle = node.store.get_json(node.store.ref(BUNDLE_BY_PROOF, bundle_ref(r.proof_hash, spec.market_id)))
    _corrupt(node.store, bundle["data_snapshot"])
    code, verdict = _verify(spec.market_id)
    failed = [c for c in verdict["checks"] if c["ok"] is False]
    assert code == 1 and failed[0]["name"] == "data-snapshot"


def test_verify_needs_no_torch(resolved):
    node, spec = resolved
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'provers'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
sys.argv = ['oracle', 'verify', '{spec.market_id}', '--json']
import cli
try:
    cli.main()
except SystemExit as e:
    assert 'torch' not in sys.modules
    raise
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**__import__("os").environ, "ORACLE_HOME": str(node.home)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["ok"] is True


def test_resolved_forecast_markets_build_the_forecasters_reputation(node_home):
    """A forecast market: its forecaster's posted forecasts are scored against what the evidence showed
    (NO: the probability of YES was the error); the resolver is not a forecaster and has no score."""
    from network.node import Node

    node = Node(password=PASSWORD)
    spec = MarketSpec.parse(forecast_doc(node.resolver_id(), node.model_id))
    node.register(spec)
    for r in spec.rounds():  # forecasts post while the market lives, the resolution at resolve time
        _advance(node, r.due_at)
        node.dispatch(spec.market_id, r.index)
    assert [row.status for row in node.state.rounds(spec.market_id)] == ["settled"] * len(spec.rounds())
    r = node.dep.resolution_of(spec.market_id).resolution
    assert r.round == spec.rounds()[-1].index and r.model_id == spec.resolver and spec.outcomes[r.outcome] == "NO"
    code, verdict = _verify(spec.market_id)
    assert code == 0 and verdict["ok"], verdict

    result = runner.invoke(app, ["model", "show", spec.forecaster, "--json"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)["reputation"]
    forecasts = [node.dep.forecast_of(spec.market_id, x.index) / 1e6 for x in spec.rounds()[:-1]]
    assert rep["markets"] == 1 and rep["forecasts"] == len(forecasts) == 3
    assert rep["brier"] == pytest.approx(sum(p ** 2 for p in forecasts) / len(forecasts))  # YES did not happen
    result = runner.invoke(app, ["model", "show", spec.resolver, "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["reputation"]["forecasts"] == 0
