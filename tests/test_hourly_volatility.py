"""Recipe `trailing_returns_hourly_vol_v1`: the volatility from a second source's hourly bars, named by
the forecast spec, recomputed by provers and validators from the same bars, never from a bar that
ends after the forecast time."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from markets.evaluation import LookAheadError, assert_no_lookahead, questions
from markets.features import RECIPES, HourlyVolatility, hourly_window
from markets.spec import MarketSpec
from oracle.errors import DataError, SpecError

from conftest import forecast_doc

HOURLY = {"kind": "csv", "uri": "bundled:btc_usd_hourly_bitstamp.csv", "column": "close", "interval": "1h"}
RESOLVER = "0x" + "11" * 32
FORECASTER = "0x" + "22" * 32
IMPL = RECIPES[HourlyVolatility.name]


def hourly_doc(resolver=RESOLVER, forecaster=FORECASTER, *, hourly=HOURLY, **kw) -> dict:
    d = forecast_doc(resolver, forecaster, **kw)
    d["forecast"]["features"]["recipe"] = HourlyVolatility.name
    if hourly is not None:
        d["forecast"]["hourly_source"] = hourly
    return d


@pytest.fixture(scope="module")
def hourly(load):
    return load(HOURLY)


def test_prover_and_validator_recompute_the_same_features_from_the_bundled_hourly_bars(load):
    from markets.feeds import load_source

    spec = MarketSpec.parse(hourly_doc())
    assert spec.forecast.hourly_source == HOURLY and spec.to_json()["forecast"]["hourly_source"] == HOURLY
    assert MarketSpec.parse(spec.to_json()).spec_hash == spec.spec_hash
    fs = spec.round(0).features
    # two roles, two independent loads of the two sources
    mine = spec.forecast.load_inputs(lambda s: load_source(s), fs)
    theirs = spec.forecast.load_inputs(lambda s: load_source(dict(s)), fs)
    assert mine == theirs
    features, snapshot, rows = mine
    assert len(features) == IMPL.n_features == RECIPES["trailing_returns_v1"].n_features
    assert rows.endswith("hourly bars 2019-02-15 23:00..2019-03-17 23:00")
    # the volatility is the realised one of the 720 hourly returns ending at 2019-03-18 00:00
    bars = load_source(HOURLY)["close"].loc["2019-02-15 23:00":"2019-03-17 23:00"]
    r = np.diff(np.log(bars.to_numpy()))
    vol = math.sqrt((r ** 2).sum() / 30)
    assert abs(features[14] - vol * math.sqrt(fs.horizon_days) * 10) < 1e-12
    assert abs(features[16] - math.log(fs.threshold_ratio or fs.threshold(float(load_source(spec.forecast.source)
               .loc[fs.as_of, "Close"])) / float(load_source(spec.forecast.source).loc[fs.as_of, "Close"]))
               / (vol * math.sqrt(fs.horizon_days))) < 1e-9
    # the snapshot binds the hourly bars too: one hour's close moved changes it, and the volatility
    text = snapshot.decode()
    assert text.count("\n") == 1 + IMPL.rows_needed + 1 + IMPL.hourly_rows_needed
    moved = load_source(HOURLY).copy()
    moved.loc[pd.Timestamp("2019-03-01 12:00"), "close"] *= 1.01
    other = spec.forecast.load_inputs(lambda s: moved if s == HOURLY else load_source(s), fs)
    assert other[1] != snapshot and other[0][14] != features[14] and other[0][:14] == features[:14]


def test_a_bar_at_or_after_the_forecast_time_is_refused(hourly):
    t = pd.Timestamp("2019-03-18")  # forecast time of as_of 2019-03-17
    honest = hourly_window(hourly, t, IMPL.hourly_rows_needed)["close"]
    assert honest.index[-1] == t - pd.Timedelta(hours=1)
    vol = IMPL.volatility(honest, t)
    # bars after the forecast time in the source are never read
    assert IMPL.volatility(hourly_window(hourly.loc[: t + pd.Timedelta(days=3)], t, 721)["close"], t) == vol
    # a window that reaches the bar opening at the forecast time is look-ahead, whatever it holds
    late = hourly["close"].loc[t - pd.Timedelta(hours=720): t]
    assert late.index[-1] == t and len(late) == 721
    with pytest.raises(LookAheadError, match="2019-03-18 00:00 ends after the forecast time"):
        IMPL.volatility(late, t)
    with pytest.raises(LookAheadError):
        IMPL.vector([1.0] * IMPL.rows_needed, 7, 1.0, hourly=late, forecast_time=t)


def test_the_backtest_look_ahead_guard_cuts_the_hourly_bars_at_the_forecast_time(frame, hourly):
    qs = questions(frame, start="2021-01-01", end="2021-02-28", horizons=(7,), ratios=(1.0,),
                   recipe=HourlyVolatility.name, hourly=hourly)
    assert qs and all(q.trailing_vol > 0 for q in qs)

    def honest(cut, i, h, k, hourly_cut):
        t = cut.index[i] + pd.Timedelta(days=1)
        bars = hourly_window(hourly_cut, t, IMPL.hourly_rows_needed)["close"]
        return IMPL.vector([float(c) for c in cut["Close"].iloc[i - 14: i + 1]], h, k, hourly=bars, forecast_time=t)

    assert_no_lookahead(frame, qs, honest, hourly=hourly)

    def peeks(cut, i, h, k, hourly_cut):  # a recipe that reads a day of hourly bars past the forecast time
        t = cut.index[i] + pd.Timedelta(days=2)
        bars = hourly_window(hourly, t, IMPL.hourly_rows_needed)["close"]
        return IMPL.vector([float(c) for c in cut["Close"].iloc[i - 14: i + 1]], h, k, hourly=bars, forecast_time=t)

    forged = [replace(q, features=tuple(peeks(frame.loc[: q.date], len(frame.loc[: q.date]) - 1, q.horizon, q.ratio,
                                              None))) for q in qs]
    assert all(f.features != q.features for f, q in zip(forged, qs))
    with pytest.raises(LookAheadError, match="reads the future"):
        assert_no_lookahead(frame, forged, honest, hourly=hourly)


@pytest.mark.parametrize("hourly_source, field, reason", [
    (None, "forecast.hourly_source", "reads the volatility from hourly bars"),
    ({**HOURLY, "interval": "1d"}, "forecast.hourly_source.interval", "must be '1h'"),
    ({k: v for k, v in HOURLY.items() if k != "interval"}, "forecast.hourly_source.interval", "got '1d'"),
    ({"kind": "chain", "address": "0x" + "ab" * 20}, "forecast.hourly_source.kind", "daily closes"),
    ({**HOURLY, "uri": ""}, "forecast.hourly_source.uri", "non-empty"),
    ({**HOURLY, "extra": "x"}, "forecast.hourly_source.extra", "unknown field"),
])
def test_the_spec_must_name_an_hourly_source(hourly_source, field, reason):
    with pytest.raises(SpecError, match=reason) as e:
        MarketSpec.parse(hourly_doc(hourly=hourly_source))
    assert e.value.field == field


def test_a_daily_recipe_takes_no_hourly_source():
    d = forecast_doc(RESOLVER, FORECASTER)
    d["forecast"]["hourly_source"] = HOURLY
    with pytest.raises(SpecError, match="reads no hourly bars") as e:
        MarketSpec.parse(d)
    assert e.value.field == "forecast.hourly_source"


def test_an_hourly_source_that_does_not_cover_the_window_is_refused_naming_it(load):
    # Bitstamp's hourly bars start 2018-05-15 06:00: a forecast as of 2018-06-01 needs them from 2018-05-02
    spec = MarketSpec.parse(hourly_doc(as_of="2018-06-01", at="2018-06-08", value=7000))
    with pytest.raises(DataError, match=r"forecast.hourly_source: the window needs 721 consecutive hourly bars "
                                        r"2018-05-02 23:00..2018-06-01 23:00; the source .* does not cover it") as e:
        spec.forecast.load_inputs(load, spec.round(0).features)
    assert not e.value.retry
    # and bars not there yet: asked again later
    fs = spec.round(0).features
    with pytest.raises(DataError, match="no bar for 2018-06-01 23:00 yet") as e:
        fs.hourly_window(load(HOURLY).loc[:"2018-06-01 12:00"])
    assert e.value.retry
    # a daily frame passed off as the hourly bars
    with pytest.raises(DataError, match="not hourly bars"):
        fs.hourly_window(load({"kind": "csv", "uri": "bundled:btc_usd_daily_bitstamp.csv", "column": "close"}))


def test_questions_and_features_agree_with_the_spec_path(frame, hourly, load):
    """A backtest question's vector is what a prover computes for the same day and threshold."""
    spec = MarketSpec.parse(hourly_doc())
    fs = spec.round(0).features
    features, _, _ = spec.forecast.load_inputs(load, fs)
    ratio = fs.threshold(float(frame.loc[fs.as_of, "Close"])) / float(frame.loc[fs.as_of, "Close"])
    (q,) = questions(frame, start=str(fs.as_of.date()), end=str(fs.as_of.date()), horizons=(fs.horizon_days,),
                     ratios=(ratio,), recipe=HourlyVolatility.name, hourly=hourly)
    assert list(q.features) == features


@pytest.mark.slow
def test_validators_sign_the_honest_hourly_forecast_and_refuse_a_forged_hourly_feature(
        network, circuit, hourly_forecaster, load):
    from oracle.pipeline import run_round
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    assert hourly_forecaster.record.circuit(1).logrows == circuit.record.circuit(1).logrows <= 12  # as small as the daily one
    assert hourly_forecaster.record.recipe == HourlyVolatility.name
    prover = EzklProver(hourly_forecaster, LocalSigner.create())
    spec = MarketSpec.parse(hourly_doc(circuit.model_id, hourly_forecaster.model_id))
    network.register(spec, advance=False)
    network.advance_to(spec.round(0).due_at)
    honest = prover.prove(spec, load, round=0)
    fs = spec.round(0).features
    features, snapshot, _ = spec.forecast.load_inputs(load, fs)
    assert list(honest.inputs) == pytest.approx(features, abs=2 ** -13)
    # the same market's inputs with the daily closes' volatility in the hourly slots (14, 16)
    daily = replace(fs, recipe="trailing_returns_v1").compute(load(spec.forecast.source))
    forged_features = features[:14] + [daily[14], features[15], daily[16]]
    assert abs(forged_features[14] - features[14]) > 0.01
    forged = prover.prove_features(spec.market_id, forged_features, round=0, data_snapshot=honest.data_snapshot)
    refused = run_round(spec, load, prover, network.validators, network.aggregator, bundle=forged)
    assert refused.submission is None and refused.signed == 0
    assert {r.check for r in refused.refusals} == {"inputs"}
    assert "input 14" in refused.refusals[0].reason
    # a validator whose copy of the hourly bars differs refuses on the snapshot; the others sign
    moved = load(HOURLY).copy()
    moved.loc[pd.Timestamp("2019-03-10 05:00"), "close"] *= 1.001
    network.validators[0].load_data = lambda s: moved if s == HOURLY else load(s)
    posted = run_round(spec, load, prover, network.validators, network.aggregator, bundle=honest)
    assert posted.signed == 3 and [r.check for r in posted.refusals] == ["data-snapshot"]
    assert posted.submission is not None and network.dep.forecast_of(spec.market_id, 0) is not None


def test_the_recipe_is_kept_only_with_evidence_on_validation(frame, hourly):
    """`recipe_gate`: the hourly walk against the daily walk on 2019-20 validation questions (the test
    period unread), kept by `departs_with_evidence`; hourly bars that carry the wrong volatility are refused."""
    from provers.model import recipe_gate
    from provers.reference import hourly_config

    cfg = hourly_config()
    gate = recipe_gate(frame, cfg, hourly=hourly, resamples=300)
    assert gate["kept"] and gate["asked"] == ["2019-01-01", "2021-01-01"]
    pooled = gate["minus_daily_walk_log_loss"]["pooled"]
    assert pooled["high"] < 0 and sorted(gate["minus_daily_walk_log_loss"]["per_horizon"]) == list(cfg.horizons)
    # the same bars with every hourly move doubled: a volatility twice too high, refused
    loud = hourly.copy()
    loud["close"] = np.exp(2 * np.log(loud["close"]) - np.log(loud["close"].iloc[0]))
    refused = recipe_gate(frame, cfg, hourly=loud, resamples=300)
    assert not refused["kept"] and refused["minus_daily_walk_log_loss"]["pooled"]["difference"] > 0
    # anything from the test period on is never read: changing it changes nothing
    later = hourly.copy()
    later.loc["2021-01-01":, "close"] *= 3.0
    assert recipe_gate(frame, cfg, hourly=later, resamples=300) == gate


def test_training_rows_never_read_hourly_bars_after_their_block(frame, hourly):
    from provers.model import labelled

    cut = "2019-01-01"
    X, y, dates, targets = labelled(frame, HourlyVolatility.name, (1, 7), (1.0,), label_before=cut, hourly=hourly)
    assert len(X) and dates.min() >= pd.Timestamp("2018-06-14") and targets.max() < pd.Timestamp(cut)
    later = hourly.copy()
    later.loc["2018-12-31 23:00":, "close"] *= 1.5  # the first bar ending after the block's last forecast time
    X2, *_ = labelled(frame, HourlyVolatility.name, (1, 7), (1.0,), label_before=cut, hourly=later)
    assert (X == X2).all()


@pytest.mark.slow
def test_the_prover_role_proves_an_hourly_round_with_its_shared_worker_and_refuses_a_model_it_lacks(
        network, store, circuit, forecaster, hourly_forecaster, load):
    """`oracle prover serve`'s shelf: a forecast round naming the hourly model gets the hourly forecaster
    (loaded on first use, then kept), proven by the shelf's one prove worker, signed by validators that
    recompute the hourly feature; a round naming a model this prover does not have is a clear SpecError."""
    from types import SimpleNamespace

    from network.roles.prover import ModelShelf
    from oracle.pipeline import run_round
    from oracle.signer import LocalSigner

    home = SimpleNamespace(key=LocalSigner.create(), store=store, chain=network.chain)
    shelf = ModelShelf(home, log=lambda *a, **k: None)
    assert shelf.forecasters == {"trailing_returns_v1": shelf.forecaster}  # nothing hourly compiled yet
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, hourly_forecaster.model_id, hourly=True))
    prover = shelf.for_round(spec, 0)
    assert prover.circuit.model_id == hourly_forecaster.model_id and prover.worker is shelf.worker
    assert shelf.for_round(spec, 1) is prover and shelf.for_round(spec, 3) is shelf.resolvers[1]
    assert shelf.health()["forecasters"] == {"trailing_returns_v1": forecaster.model_id,
                                             HourlyVolatility.name: hourly_forecaster.model_id}
    network.register(spec, advance=False)
    network.advance_to(spec.round(0).due_at)
    bundle = prover.prove(spec, load, round=0)
    posted = run_round(spec, load, prover, network.validators, network.aggregator, bundle=bundle)
    assert posted.signed == 4 and posted.submission is not None and shelf.worker.started == 1
    assert network.dep.forecast_of(spec.market_id, 0) is not None

    # the hourly recipe with another forecaster's id; the daily recipe with the hourly model's id
    other = MarketSpec.parse(forecast_doc(circuit.model_id, "0x" + "77" * 32, hourly=True))
    with pytest.raises(SpecError, match=f"answered by 0x7777.*recipe {HourlyVolatility.name} is "
                                        f"{hourly_forecaster.model_id}") as e:
        shelf.for_round(other, 0)
    assert e.value.field == "forecast.model"
    daily = MarketSpec.parse(forecast_doc(circuit.model_id, hourly_forecaster.model_id))
    with pytest.raises(SpecError, match=f"recipe trailing_returns_v1 is {forecaster.model_id}") as e:
        shelf.for_round(daily, 0)
    assert e.value.field == "forecast.model"


def test_oracle_evaluate_backtests_the_hourly_model_by_name_or_id_with_its_verdicts(hourly_forecaster, tmp_path):
    """`oracle evaluate hourly` (or the hourly model's id): the same held-out backtest and verdicts as for
    the reference, of the hourly-volatility model, with the recipe gate's record in words."""
    import json

    from typer.testing import CliRunner

    from cli import app
    from provers.reference import HOURLY_NAME

    runner = CliRunner()
    args = ["--start", "2021-01-01", "--end", "2021-03-31", "--horizon", "7", "--no-proven"]
    shown = runner.invoke(app, ["evaluate", "hourly", *args])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert f"Backtest of {HOURLY_NAME} ({HourlyVolatility.name})" in text
    assert "recipe gate: trailing_returns_hourly_vol_v1 kept on validation" in text
    assert "model_float does not beat the random walk on brier" in text or "model_float beats the random walk" in text
    by_id = json.loads(runner.invoke(app, ["evaluate", hourly_forecaster.model_id, *args, "--json"]).stdout)
    daily = json.loads(runner.invoke(app, ["evaluate", "reference", *args, "--json"]).stdout)
    assert by_id["model"]["name"] == HOURLY_NAME and by_id["model"]["recipe"] == HourlyVolatility.name
    assert by_id["hourly_data"] == "bundled:btc_usd_hourly_bitstamp.csv"
    assert by_id["verdicts"][1].startswith("recipe gate: ") and not daily["verdicts"][1].startswith("recipe gate")
    assert len(by_id["verdicts"]) == len(daily["verdicts"]) + 1
    # the same questions, other probabilities: the hourly volatility, not the daily one
    assert by_id["n"] == daily["n"] and by_id["models"]["random_walk"] == daily["models"]["random_walk"]
    assert by_id["models"]["model_float"]["brier"] != daily["models"]["model_float"]["brier"]
    # hourly bars that end before the held-out period cannot give its questions a volatility
    short = tmp_path / "hourly.csv"
    short.write_text("\n".join(bundled_lines(3000)))
    refused = runner.invoke(app, ["evaluate", "hourly", *args, "--hourly-data", str(short)])
    assert refused.exit_code == 1 and "the hourly bars run 2018-05-15 06:00..2018-09-17" in refused.output


def test_oracle_model_compile_hourly_is_the_hourly_forecaster(hourly_forecaster):
    import json

    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["model", "compile", "hourly", "--json"])
    assert made.exit_code == 0, made.output
    record = json.loads(made.stdout)
    assert record["model_id"] == hourly_forecaster.model_id and record["recipe"] == HourlyVolatility.name
    hashed = runner.invoke(app, ["model", "compile", "hourly", "--inputs", "hashed"])
    assert hashed.exit_code != 0 and "public inputs and fixed parameters" in hashed.output


def bundled_lines(n: int) -> list[str]:
    from markets.feeds import bundled_path

    return bundled_path("btc_usd_hourly_bitstamp.csv").read_text().splitlines()[:n]
