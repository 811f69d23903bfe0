"""Operator keys in encrypted keystores; anvil up and down; `chain deploy`; revert reasons reach the CLI user."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from oracle.errors import FieldError, OracleError
from oracle.keystore import KeyStore

runner = CliRunner()


def test_keystore_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    ks = KeyStore(tmp_path)
    signer = ks.create("validator-0", "correct horse")
    doc = json.loads((tmp_path / "validator-0.json").read_text())
    assert "crypto" in doc and signer.address[2:].lower() == doc["address"].lower()
    assert bytes(signer._account.key).hex() not in (tmp_path / "validator-0.json").read_text()  # encrypted
    assert oct((tmp_path / "validator-0.json").stat().st_mode)[-3:] == "600"
    assert ks.load("validator-0", "correct horse").address == signer.address
    assert ks.address("validator-0").lower() == signer.address.lower()
    with pytest.raises(OracleError, match="cannot decrypt"):
        ks.load("validator-0", "wrong password")
    with pytest.raises(FieldError, match="already exists"):
        ks.create("validator-0", "correct horse")
    with pytest.raises(FieldError) as e:
        ks.create("x", "short")
    assert e.value.field == "password"
    with pytest.raises(FieldError) as e:
        ks.create("../escape", "correct horse")
    assert e.value.field == "name"


def test_keys_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ORACLE_HOME", str(tmp_path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    made = runner.invoke(app, ["keys", "new", "prover"])
    assert made.exit_code == 0 and made.output.startswith("prover: 0x")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [k["name"] for k in listed] == ["prover"]


@pytest.mark.slow
def test_chain_up_down_and_revert_reason_on_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ORACLE_HOME", str(tmp_path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    up = runner.invoke(app, ["chain", "up"])
    assert up.exit_code == 0, up.output
    url = up.output.strip()
    try:
        again = runner.invoke(app, ["chain", "up"])
        assert again.output.strip() == url  # one node per home
        # 2 of 4 is no majority: the contract refuses, and the user reads why
        bad = runner.invoke(app, ["node", "init", "--rpc-url", url, "--validators", "4", "--threshold", "2"])
        assert bad.exit_code == 1
        assert "deploy QuorumOracle reverted: InvalidThreshold(threshold=2, validators=4)" in bad.output
    finally:
        down = runner.invoke(app, ["chain", "down"])
    assert down.exit_code == 0
    from oracle.chain import Chain

    with pytest.raises(OracleError, match="no JSON-RPC node answers"):
        Chain.rpc(url, timeout=1)
    assert runner.invoke(app, ["chain", "down"]).exit_code == 1


def test_bls_keys_created_encrypted_and_registered_by_node_init(tmp_path, monkeypatch, anvil):
    from oracle import bls
    from oracle.chain import Chain
    from oracle.deployment import Deployment
    from oracle.keystore import KeyStore

    monkeypatch.setenv("ORACLE_HOME", str(tmp_path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    made = runner.invoke(app, ["keys", "new", "validator-0", "--bls"])
    assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    assert [k["name"] for k in listed] == ["validator-0"] and listed[0]["bls_public_key"]
    raw = (tmp_path / "keys" / "validator-0.bls.json").read_text()
    key = KeyStore(tmp_path / "keys").load_bls("validator-0", "correct horse")
    assert key.secret.hex() not in raw and key.public_key.hex() == listed[0]["bls_public_key"]

    init = runner.invoke(app, ["node", "init", "--rpc-url", anvil.url, "--validators", "4", "--threshold", "3",
                               "--bls"])
    assert init.exit_code == 0, init.output
    dep = Deployment.load(Chain.rpc(anvil.url), tmp_path / "deployments")
    on_chain = bls.keys_of_key_set(dep.bls_key_set())
    ks = KeyStore(tmp_path / "keys")
    assert on_chain == [bytes.fromhex(ks.bls_public_key(f"validator-{i}")) for i in range(4)]
    assert on_chain[0] == key.public_key  # the existing key was kept, not replaced


def test_chain_deploy_records_the_contract_set(tmp_path, monkeypatch, anvil):
    from oracle.chain import Chain
    from oracle.deployment import Deployment

    monkeypatch.setenv("ORACLE_HOME", str(tmp_path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "correct horse")
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    too_many = runner.invoke(app, ["chain", "deploy", "--rpc-url", anvil.url, "--validators", "3", "--threshold", "4"])
    assert too_many.exit_code == 2 and "threshold 4 exceeds validators 3" in too_many.output

    made = runner.invoke(app, ["chain", "deploy", "--rpc-url", anvil.url, "--validators", "4", "--threshold", "3",
                               "--json"])
    assert made.exit_code == 0, made.output
    doc = json.loads(made.stdout)
    chain = Chain.rpc(anvil.url)
    assert doc["chain_id"] == chain.chain_id and doc["threshold"] == 3
    assert doc["deployment"] == str(tmp_path / "deployments" / f"{chain.chain_id}.json")
    dep = Deployment.load(chain, tmp_path / "deployments")
    assert dep.addresses == doc["contracts"] and set(doc["contracts"]) >= {"QuorumOracle", "MarketRegistry"}
    ks = KeyStore(tmp_path / "keys")
    assert sorted(ks.names()) == ["deployer"] + [f"validator-{i}" for i in range(4)]
    assert {a.lower() for a in dep.validators()} == {ks.address(f"validator-{i}").lower() for i in range(4)}
    assert dep.threshold() == 3

    # again, as a user reads it: the existing keys are reused, a fresh set is deployed and recorded
    again = runner.invoke(app, ["chain", "deploy", "--rpc-url", anvil.url, "--validators", "4", "--threshold", "3"])
    assert again.exit_code == 0, again.output
    assert f"deployed on chain {chain.chain_id}" in again.output
    recorded = Deployment.load(chain, tmp_path / "deployments").addresses["QuorumOracle"]
    assert recorded != doc["contracts"]["QuorumOracle"] and f"QuorumOracle: {recorded}" in again.output
    assert sorted(KeyStore(tmp_path / "keys").names()) == sorted(ks.names())

    # 2 of 4 is no majority: the contract refuses, and the user reads why
    bad = runner.invoke(app, ["chain", "deploy", "--rpc-url", anvil.url, "--validators", "4", "--threshold", "2"])
    assert bad.exit_code == 1
    assert "deploy QuorumOracle reverted: InvalidThreshold(threshold=2, validators=4)" in bad.output
