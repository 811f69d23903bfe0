"""The CLI as a user types it (Typer's CliRunner): the demo, and bad input giving one clear line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "market", "model"):
        assert command in result.output


@pytest.mark.slow
def test_demo_json_end_to_end(circuit):
    result = runner.invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["validators"] == 5 and doc["threshold"] == 4
    assert doc["late_bet"] == "reverted: TradingClosed"  # trading closed before the evidence existed
    markets = doc["markets"]
    assert {m["shape"] for m in markets} == {"above", "up_down", "range", "touch", "versus"}
    binary = [m for m in markets if m["shape"] != "range"]
    outcomes = {(m["question"], m["outcome"]) for m in binary}
    assert ("Will BTC close above $4,000 on March 23, 2019 (UTC day)?", "NO") in outcomes
    assert any(o in ("YES", "Up") for _, o in outcomes), "demo must include markets that really went each way"
    for m in markets:
        assert set(m) >= {"market_id", "question", "outcome", "actual_outcome", "evidence", "proof_verified",
                          "validators_signed", "quorum", "tx_hash", "onchain_outcome", "payout_wei"}
        assert m["proof_verified"] is True and m["validators_signed"] == 5 and m["quorum"] == 4
        # the outcome the quorum settled is what the providers' data shows
        assert m["onchain_outcome"] == m["outcome"] == m["actual_outcome"] and m["tx_hash"].startswith("0x")
        assert m["court_state"] == "final"  # no dispute window: final as it lands, so the winner redeems
        assert len(m["evidence"]["sources"]) >= 2
    for m in binary:  # 1 ETH on the first outcome, 2 ETH on the second: the winning side takes the 3 ETH pot
        assert m["payout_wei"] == 3 * 10**18
    above = next(m for m in markets if m["shape"] == "above")
    assert [f["posted"] for f in above["forecasts"]] == [True] * 3  # forecasts beside the resolution
    assert doc["resolvers"]["1"] == doc["model"]["model_id"] == circuit.model_id
    t = doc["timings"]
    assert t["prove_s"] > 0 and 0 < t["verify_s_median"] < t["prove_s"] and t["end_to_end_s"] > 0

    # what the demo stored is visible to the market commands
    listed = runner.invoke(app, ["market", "list", "--json"])
    assert listed.exit_code == 0
    assert {e["market_id"] for e in json.loads(listed.stdout)} >= {m["market_id"] for m in markets}
    shown = runner.invoke(app, ["market", "show", markets[0]["market_id"], "--json"])
    assert shown.exit_code == 0
    entry = json.loads(shown.stdout)
    assert entry["resolution"]["onchain_outcome"] == markets[0]["onchain_outcome"]
    models = {r["model_id"]: r for r in json.loads(runner.invoke(app, ["model", "list", "--json"]).stdout)}
    assert set(doc["resolvers"].values()) | {doc["forecaster"]["model_id"]} <= set(models)
    assert models[circuit.model_id]["family"] == "resolver"


@pytest.mark.slow
def test_demo_renders_tables(circuit):
    result = runner.invoke(app, ["demo", "--validators", "3", "--threshold", "2"])
    assert result.exit_code == 0, result.output
    assert "Markets resolved from post-event evidence" in result.output and "TradingClosed" in result.output


def test_unknown_market_is_one_clear_line():
    result = runner.invoke(app, ["market", "show", "0x" + "12" * 32])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown market 0x1212" in lines[0]


def test_malformed_spec_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "market.json"
    bad.write_text('{"version": 1, "question": ')
    result = runner.invoke(app, ["market", "validate", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "field 'file'" in lines[0] and "not valid JSON" in lines[0]


RESOLVER = "0x" + "ab" * 32  # a model id no home knows: only a spec that fails before its models are read


def _spec_file(tmp_path, resolver=RESOLVER, **changes):
    from conftest import spec_doc

    p = tmp_path / "market.json"
    p.write_text(json.dumps({**spec_doc(resolver), **changes}))
    return p


def test_invalid_spec_field_is_named(tmp_path):
    result = runner.invoke(app, ["market", "validate", str(_spec_file(tmp_path, quorum=-1)),
                                 "--now", "2019-03-10T00:00:00Z"])
    assert result.exit_code == 1 and "field 'quorum'" in result.output


def test_version_1_spec_is_refused_naming_the_version(tmp_path):
    result = runner.invoke(app, ["market", "validate", str(_spec_file(tmp_path, version=1))])
    assert result.exit_code == 1 and "field 'version'" in result.output and "version 2" in result.output


def test_validate_good_spec(tmp_path, circuit):
    from conftest import spec_doc
    from markets.spec import MarketSpec

    result = runner.invoke(app, ["market", "validate", str(_spec_file(tmp_path, circuit.model_id)),
                                 "--now", "2019-03-10T00:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    spec = MarketSpec.parse(spec_doc(circuit.model_id))
    assert doc["market_id"] == spec.market_id and doc["resolver"] == circuit.model_id
    assert (doc["shape"], doc["sources"], doc["close_at"], doc["rounds"]) == ("above", 4, "2019-03-23T00:00:00Z", 1)


def test_validate_refuses_a_market_whose_trading_has_closed(tmp_path, circuit):
    """March 2019 is over by the wall clock (the default `now`), and by 2019-03-23T00:00Z on a replay."""
    spec = str(_spec_file(tmp_path, circuit.model_id))
    for now in ([], ["--now", "2019-03-23T00:00:00Z"], ["--now", "2019-03-24T12:00:00+00:00"]):
        result = runner.invoke(app, ["market", "validate", spec, *now])
        assert result.exit_code == 1, (now, result.output)
        assert "field 'close_at'" in result.output and "not in the future" in result.output
    ok = runner.invoke(app, ["market", "validate", spec, "--now", "2019-03-22T23:59:59Z"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["market", "validate", spec, "--now", "yesterday"])
    assert bad.exit_code == 1 and "field '--now'" in bad.output


def test_threshold_above_validators_is_refused():
    result = runner.invoke(app, ["demo", "--validators", "3", "--threshold", "4"])
    assert result.exit_code != 0 and "threshold" in result.output


@pytest.mark.slow
def test_model_compile_from_files(tmp_path, circuit):
    import torch

    from provers.families import MLPBody

    torch.manual_seed(3)
    module = MLPBody(17)
    torch.save(module, tmp_path / "mine.pt")
    from provers.circuit import export_onnx

    export_onnx(module, 17, tmp_path / "mine.onnx")
    ids = []
    for f in ("mine.pt", "mine.onnx"):
        result = runner.invoke(app, ["model", "compile", str(tmp_path / f), "--json"])
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["family"] == "custom" and record["srs_kind"] == "dev" and record["n_inputs"] == 17
        ids.append(record["model_id"])
    listed_ids = {r["model_id"] for r in json.loads(runner.invoke(app, ["model", "list", "--json"]).stdout)}
    assert set(ids) <= listed_ids
    listed = runner.invoke(app, ["model", "list"])
    assert "NOT for production" in listed.output
    shown = runner.invoke(app, ["model", "show", ids[0], "--json"])
    assert json.loads(shown.stdout)["reputation"]["forecasts"] == 0


def test_model_compile_bad_input():
    result = runner.invoke(app, ["model", "compile", "/no/such/model.pt"])
    assert result.exit_code == 1 and "neither a model family nor a file" in result.output
    result = runner.invoke(app, ["model", "compile", "mlp", "--batch", "0"])
    assert result.exit_code != 0 and "--batch" in result.output


class _Payload:
    """A pickle that runs code when loaded the old way (torch.load(weights_only=False))."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_model_compile_never_runs_code_from_a_pickle(tmp_path):
    import torch

    marker = tmp_path / "ran"
    torch.save(_Payload(marker), tmp_path / "evil.pt")
    result = runner.invoke(app, ["model", "compile", str(tmp_path / "evil.pt")])
    assert result.exit_code == 1 and "not a saved torch module" in result.output
    assert not marker.exists()


def test_operator_trusts_an_srs_by_hash():
    from commands.home import store
    from oracle.models import trusted_srs

    a, b = "0x" + "ab" * 32, "0x" + "cd" * 32
    first = runner.invoke(app, ["model", "trust-srs", a.upper().replace("0X", "0x"), "--json"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["model", "trust-srs", b, "--json"])
    assert {a, b} <= set(json.loads(second.stdout)["trusted_srs"]) and {a, b} <= trusted_srs(store())
    bad = runner.invoke(app, ["model", "trust-srs", "0x1234"])
    assert bad.exit_code == 1 and "trusted_srs" in bad.output
