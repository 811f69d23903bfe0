"""What a newcomer tripped on (issue 16), each one as a test: errors are one line naming what is
wrong, validate refuses what register refuses, long work says what it does, state lives in one home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import PASSWORD, spec_doc

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
NOW = "2019-03-10T00:00:00Z"


def _one_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _free_port() -> int:
    from oracle.anvil import free_port

    return free_port()


# ------------------------------------------------------------------ one-line errors
def test_unreachable_chain_is_one_clear_line():
    line = _one_line(runner.invoke(app, ["verify", "0x" + "12" * 32, "--rpc-url",
                                         f"http://127.0.0.1:{_free_port()}"]))
    assert "no JSON-RPC node answers" in line and "connection refused" in line
    assert "reverted" not in line and "HTTPConnectionPool" not in line and "urllib3" not in line


def test_evaluate_bad_start_is_one_line():
    line = _one_line(runner.invoke(app, ["evaluate", "--start", "notadate", "--no-proven"]))
    assert "field 'start'" in line and "notadate" in line


def test_yaml_booleans_as_outcomes_hint_at_quoting(tmp_path):
    import yaml

    doc = spec_doc("0x" + "ab" * 32)
    text = yaml.safe_dump({**doc, "outcomes": ["__Y__", "__N__"]}).replace("__Y__", "YES").replace("__N__", "NO")
    assert yaml.safe_load(text)["outcomes"] == [True, False]  # what YAML 1.1 makes of them
    (tmp_path / "m.yaml").write_text(text)
    line = _one_line(runner.invoke(app, ["market", "validate", str(tmp_path / "m.yaml"), "--now", NOW]))
    assert "field 'outcomes'" in line and "quote" in line


def test_wrong_keystore_password_names_the_keystore(tmp_path):
    from oracle.errors import OracleError
    from oracle.keystore import KeyStore

    os.environ.setdefault("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    ks = KeyStore(tmp_path / "keys")
    ks.create("creator", "right-password")
    ks.create_bls("creator", "right-password")
    with pytest.raises(OracleError, match=r"^wrong password for keystore 'creator' \("):
        ks.load("creator", "wrong-password")
    with pytest.raises(OracleError, match=r"^wrong password for BLS keystore 'creator'"):
        ks.load_bls("creator", "wrong-password")
    assert ks.load("creator", "right-password").address == ks.address("creator")


def test_help_shows_no_bool_beside_flags():
    for args in (["market", "validate", "--help"], ["demo", "--help"], ["market", "new", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "--json" in result.output and "<bool>" not in result.output, args
    assert "<int range>" in runner.invoke(app, ["demo", "--help"]).output  # options taking a value still say so


# ------------------------------------------------------------------ validate == register
@pytest.mark.slow
def test_validate_refuses_what_register_refuses(tmp_path, circuit):
    """An unknown model, and a rule the model cannot answer (three bounds, a one-comparison resolver)."""
    unknown = _one_line(runner.invoke(app, ["market", "validate", str(_write(tmp_path / "a.json",
                                                                              spec_doc("0x" + "99" * 32))),
                                            "--now", NOW]))
    assert "field 'resolver'" in unknown and "0x9999" in unknown and circuit.model_id in unknown
    buckets = spec_doc(circuit.model_id, outcomes=["a", "b", "c", "d"],
                       shape={"kind": "range", "at": "2019-03-23", "bounds": [3900, 4000, 4100]})
    wrong = _one_line(runner.invoke(app, ["market", "validate", str(_write(tmp_path / "b.json", buckets)),
                                          "--now", NOW]))
    assert "field 'resolver'" in wrong and "over 3 comparison(s)" in wrong


# ------------------------------------------------------------------ on a real node (anvil)
@pytest.mark.slow
def test_node_registration_path(node_home, circuit, tmp_path, monkeypatch):
    """Unknown model refused before any forecaster is trained; register shows progress (quiet under
    --json) and says `already registered`; `model list` lists the models the chain knows; a wrong
    password and a malformed verify id are one line each."""
    import provers.reference
    from markets.spec import MarketSpec
    from network.node import Node
    from oracle.errors import SpecError

    def no_training(*a, **k):
        raise AssertionError("the forecaster was trained for a market that has no forecasts")

    monkeypatch.setattr(provers.reference, "reference_circuit", no_training)
    node = Node(password=PASSWORD)
    with pytest.raises(SpecError) as e:
        node.register(MarketSpec.parse(spec_doc("0x" + "99" * 32)))
    assert e.value.field == "resolver"

    path = _write(tmp_path / "m.json", spec_doc(circuit.model_id))
    first = runner.invoke(app, ["market", "register", str(path)])
    assert first.exit_code == 0, first.output
    assert "registering: " in first.stderr and first.stdout.startswith("registered 0x")
    again = runner.invoke(app, ["market", "register", str(path), "--json"])
    assert again.exit_code == 0 and again.stderr == ""  # --json: no progress lines
    assert json.loads(again.stdout)["already_registered"] is True

    stranger = "0x" + "77" * 32  # a resolver only the chain names (another operator's market)
    node.dep.register_market(node.creator, spec_hash="0x" + "55" * 32, model_id=stranger,
                             resolve_at=node.chain.timestamp() + 86400, outcome_count=2, quorum=3,
                             close_at=node.chain.timestamp() + 3600)
    models = {r["model_id"]: r for r in json.loads(runner.invoke(app, ["model", "list", "--json"]).stdout)}
    assert models[stranger]["known_from"] == ["chain: market resolver"]
    assert set(models[circuit.model_id]["known_from"]) == {"store", "chain: market resolver"}

    bad_id = _one_line(runner.invoke(app, ["verify", "0x1234"]))
    assert "MARKET_ID|TX_HASH" in bad_id and "'0x1234'" in bad_id

    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "not-the-password")
    wrong = runner.invoke(app, ["market", "register", str(path)])
    assert wrong.exit_code == 1 and "error: wrong password for keystore 'creator'" in wrong.output
    assert "MAC" not in wrong.output


@pytest.mark.slow
def test_scheduler_until_idle_says_what_it_waits_for_and_ends(node_home, circuit, tmp_path):
    """The only round is due two weeks ahead by the chain's clock: `--until-idle` says so and ends;
    APScheduler does not log its pull job every few seconds."""
    path = _write(tmp_path / "m.json", spec_doc(circuit.model_id))
    assert runner.invoke(app, ["market", "register", str(path)]).exit_code == 0
    env = {**os.environ, "ORACLE_HOME": str(node_home)}
    proc = subprocess.run([sys.executable, "-m", "cli", "scheduler", "run", "--until-idle", "--horizon", "3600"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "waiting for 1 round(s); next: " in proc.stderr and "round 0 at 2019-03-24 00:00Z" in proc.stderr
    assert "due in 14.0 days by the chain's clock" in proc.stderr
    assert "idle: no round is due within 3600 s" in proc.stderr
    assert "Running job" not in proc.stderr and "executed successfully" not in proc.stderr


# ------------------------------------------------------------------ chain up after chain down
@pytest.mark.slow
def test_chain_up_after_down_resumes_the_same_chain_on_the_same_port(tmp_path, monkeypatch):
    from oracle.chain import Chain

    monkeypatch.setenv("ORACLE_HOME", str(tmp_path / "home"))
    up = runner.invoke(app, ["chain", "up"])
    assert up.exit_code == 0, up.output
    url = up.stdout.strip()
    try:
        chain = Chain.rpc(url)
        chain.advance_time(86400)
        before = (chain.timestamp(), chain.w3.eth.block_number)
        assert runner.invoke(app, ["chain", "down"]).exit_code == 0
        again = runner.invoke(app, ["chain", "up"])
        assert again.exit_code == 0, again.output
        assert again.stdout.strip() == url and "resumed this home's chain" in again.stderr
        chain = Chain.rpc(url)
        assert (chain.timestamp(), chain.w3.eth.block_number) == before
    finally:
        assert runner.invoke(app, ["chain", "down", "--reset"]).exit_code == 0
    assert not (tmp_path / "home" / "anvil-state.json").exists()


# ------------------------------------------------------------------ display
def test_outcomes_read_as_names_and_probabilities():
    from commands.devnet import _render
    from commands.render import outcome_text

    assert outcome_text(["YES", "NO"], 0, 866867) == "YES 0.867"
    assert outcome_text(["YES", "NO"], 255, 0) == "INVALID" and outcome_text(None, 1) == "outcome 1"
    snap = {"anvil": {"url": "http://127.0.0.1:1", "alive": True}, "roles": [],
            "scheduler": {"rounds": {"pending": 0, "settled": 2, "failed": 0}, "in_flight": [],
                          "last": [{"market_id": "0x" + "ab" * 32, "round": 1, "outcome": 0,
                                    "probability_ppm": 866867, "outcomes": ["YES", "NO"]}]}}
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(_render(snap))
    text = console.export_text()
    assert "Rounds (2 settled)" in text and "YES 0.867" in text
    assert "{" not in text and "p=" not in text and "outcome=" not in text


@pytest.mark.slow
def test_model_show_renders_circuits_as_a_table(circuit):
    result = runner.invoke(app, ["model", "show", circuit.model_id])
    assert result.exit_code == 0, result.output
    assert "Circuits" in result.output and "({'batch'" not in result.output and "evidence-compare-1" in result.output


def test_model_list_on_an_empty_home_says_how_to_get_models(tmp_path, monkeypatch):
    monkeypatch.setenv("ORACLE_HOME", str(tmp_path / "empty"))
    result = runner.invoke(app, ["model", "list"])
    assert result.exit_code == 0 and "oracle model resolvers" in result.output


# ------------------------------------------------------------------ one home, packaging
def test_state_and_cache_live_in_the_users_home_not_the_cwd(tmp_path, monkeypatch):
    from oracle import config

    monkeypatch.delenv("ORACLE_HOME", raising=False)
    monkeypatch.delenv("ORACLE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    work = tmp_path / "somewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    assert config.home() == tmp_path / "user" / ".oracle"
    assert config.cache_dir() == tmp_path / "user" / ".oracle" / "cache"
    assert list(work.iterdir()) == []  # nothing created where the command ran
    monkeypatch.setenv("ORACLE_HOME", str(tmp_path / "node"))
    assert config.home() == tmp_path / "node" and config.cache_dir() == tmp_path / "user" / ".oracle" / "cache"


def test_pyproject_license_is_an_spdx_string():
    import tomllib

    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["license"] == "MIT"


# ------------------------------------------------------------------ verify from any home
@pytest.mark.slow
def test_anyone_with_the_rpc_url_verifies_from_another_home(node_home, anvil, tmp_path, monkeypatch):
    """A resolution made in the node's home is re-checked from an empty home with the RPC URL, the
    deployment file and a copy of the public store; this home decides which SRS it trusts."""
    import shutil

    from markets.spec import MarketSpec
    from network.node import Node
    from oracle.models import load_model

    node = Node(password=PASSWORD)
    spec = MarketSpec.parse(spec_doc(node.resolver_id()))
    node.register(spec)
    node.chain.advance_time(spec.resolve_at_unix - node.chain.timestamp())
    assert node.dispatch(spec.market_id, 0) == "settled"
    public = tmp_path / "public-store"
    shutil.copytree(node_home / "store", public)  # what a prover publishes, e.g. served or mirrored
    deployment = next((node_home / "deployments").glob("*.json"))
    srs = load_model(node.store, spec.resolver).circuits[0].srs

    monkeypatch.setenv("ORACLE_HOME", str(tmp_path / "someone-else"))
    lost = _one_line(runner.invoke(app, ["verify", spec.market_id, "--rpc-url", anvil.url]))
    assert "no deployment for chain" in lost
    args = ["verify", spec.market_id, "--rpc-url", anvil.url, "--deployment", str(deployment), "--store", str(public),
            "--json"]
    untrusted = runner.invoke(app, args)
    assert untrusted.exit_code == 1
    failed = [c for c in json.loads(untrusted.stdout)["checks"] if c["ok"] is False]
    assert failed and srs in json.dumps(failed)  # the SRS is named; trusting it is this home's choice
    assert runner.invoke(app, ["model", "trust-srs", srs]).exit_code == 0
    trusted = runner.invoke(app, args)
    assert trusted.exit_code == 0, trusted.output
    verdict = json.loads(trusted.stdout)
    assert verdict["ok"] and all(c["ok"] for c in verdict["checks"])


# ------------------------------------------------------------------ long work shows progress
def test_progress_spins_on_a_terminal_prints_lines_when_piped_and_is_quiet_under_json(monkeypatch):
    import io

    from rich.console import Console

    import commands.render as render

    def run(terminal: bool, quiet: bool = False) -> str:
        buf = io.StringIO()
        monkeypatch.setattr(render, "err", Console(file=buf, force_terminal=terminal, width=100))
        with render.progress("compiling", quiet=quiet) as log:
            log("setup batch 1: logrows 11")
            log("proving key written")
        return buf.getvalue()

    spun = run(terminal=True)
    assert "compiling: proving key written" in spun and "\x1b[2K" in spun  # one live line, redrawn
    piped = run(terminal=False)
    assert piped.splitlines() == ["compiling: setup batch 1: logrows 11", "compiling: proving key written"]
    assert run(terminal=True, quiet=True) == "" and run(terminal=False, quiet=True) == ""


def test_training_shows_its_epochs_and_a_cached_model_says_loaded(tmp_path, forecaster, store):
    """Issue 16: training reports its progress (about every tenth of the epochs), a cached model says
    it was loaded (the cached demo no longer says "training"), and batch proving reports each proof."""
    from dataclasses import replace

    from markets.feeds import bundled_path, load_source
    from oracle import config
    from provers.model import TrainingConfig, load_or_train
    from provers.reference import BTC_SOURCE, reference_circuit

    frame = load_source(BTC_SOURCE)
    cfg = replace(TrainingConfig(), epochs=20)
    lines: list[str] = []
    load_or_train(frame, bundled_path("btc_usd_daily.csv").read_bytes(), cfg, tmp_path, log=lines.append)
    assert lines[0].startswith("training the mlp forecaster (first run")
    epochs = [m for m in lines if ": epoch " in m]
    assert epochs[0].endswith("epoch 2/20") and epochs[-1].endswith("epoch 20/20") and len(epochs) == 10
    again: list[str] = []
    load_or_train(frame, bundled_path("btc_usd_daily.csv").read_bytes(), cfg, tmp_path, log=again.append)
    assert again == ["loaded the trained mlp forecaster from the cache"]

    cached: list[str] = []
    reference_circuit(store, config.cache_dir(), log=cached.append)  # the session's, already trained
    assert cached and not any("training" in m for m in cached) and "from the cache" in cached[0]
