"""The reference forecaster: a residual on the random walk, its calibration map in the weights, its
training discipline (no outcome on or after a split reaches training, calibration or selection), and
the verdicts `oracle evaluate` prints (block-bootstrap intervals)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli import app
from markets.evaluation import (LookAheadError, Question, assert_trained_before, bootstrap_difference, bootstrap_ece,
                                expected_calibration_error, questions, random_walk_probability, verdict)
from provers.families import ResidualBody, walk_d, walk_logit_exact
from provers.model import ReferenceConfig, departs_with_evidence, fit_platt, fit_temperature, labelled, validation_gain

runner = CliRunner()


def test_residual_body_starts_as_the_random_walk(frame):
    """Zero correction: the body's probability is the log-normal walk's, from the recipe's own features."""
    qs = questions(frame, start="2021-01-01", end="2021-06-30", horizons=(1, 7, 30), ratios=(0.9, 1.0, 1.1))
    body = ResidualBody(17).eval()
    with torch.no_grad():
        p = torch.sigmoid(body(torch.tensor([q.features for q in qs]))).numpy().ravel()
    rw = np.array([random_walk_probability(q) for q in qs])
    assert np.abs(p - rw).max() < 1e-3  # the walk's quintic, clipped features: within 0.1 point
    d = walk_d(np.array([q.features for q in qs]))
    assert np.abs(1 / (1 + np.exp(-walk_logit_exact(d))) - rw).max() < 1e-4


def test_calibration_map_is_folded_into_the_weights():
    torch.manual_seed(0)
    body = ResidualBody(17).eval()
    with torch.no_grad():
        body.correction.net[-1].weight.normal_()
        x = torch.rand(64, 17) * 8 - 4
        before = body(x)
        body.calibrate_(0.8, 0.3)
        after = body(x)
    assert torch.allclose(after, 0.8 * before + 0.3, atol=1e-5)


def test_calibration_fits_recover_known_maps():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, 20000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(0.6 * z + 0.4)))).astype(float)
    a, b = fit_platt(z, y)
    assert a == pytest.approx(0.6, abs=0.05) and b == pytest.approx(0.4, abs=0.06)
    yt = (rng.random(z.size) < 1 / (1 + np.exp(-0.5 * z))).astype(float)
    assert fit_temperature(z, yt)[0] == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match="not increasing"):
        fit_platt(z, 1.0 - (z > 0))  # a decreasing relation: no monotone map


def test_the_walk_is_three_multiplications(tmp_path):
    """The circuit computes the walk's logit as an odd quintic in its z-score (three products), within
    0.006 of the exact logit over the whole input box: no ReLU, no knot matrix. Only the correction's
    hidden layers have ReLUs."""
    import onnx

    from provers.circuit import export_onnx

    torch.manual_seed(0)
    body = ResidualBody(17, (4,)).eval()
    x = (torch.rand(4096, 17) * 2 - 1) * 4
    with torch.no_grad():
        got = body.walk_logit(x).numpy().ravel()
    assert np.abs(got - walk_logit_exact(walk_d(x.numpy()))).max() < 0.006
    export_onnx(body, 17, tmp_path / "m.onnx")
    ops = [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    assert ops.count("Relu") == 1, ops  # the (4,) correction's one hidden layer, nothing for the walk
    body.calibrate_(0.8, 0.1)  # Platt folded in: the walk's coefficients scale, the offset is added once
    with torch.no_grad():
        assert np.abs(body(x).numpy().ravel() - (0.8 * got + 0.1)).max() < 1e-5


def test_training_outcomes_stop_before_the_split(frame):
    X, y, dates, targets = labelled(frame, "trailing_returns_v1", (1, 30), (1.0,), label_before="2019-01-01")
    assert len(X) and targets.max() < pd.Timestamp("2019-01-01")
    month = (targets - dates).days == 30
    assert month.any() and dates[month].max() == pd.Timestamp("2018-12-01")  # the gap is the horizon
    with pytest.raises(LookAheadError, match="training would read the future"):
        assert_trained_before(list(targets) + [pd.Timestamp("2019-01-01")], "2019-01-01")


def test_a_training_set_that_reads_the_test_period_is_refused(frame, monkeypatch):
    """The guard sits in fit_reference itself: a data path that forgets to cut at the split fails."""
    import provers.model as model

    real = model.labelled

    def leaky(frame_, recipe, horizons, thresholds, *, start=None, label_before=None, **kw):
        return real(frame_, recipe, horizons, thresholds, start=start, label_before=None, **kw)  # no cut at the split

    monkeypatch.setattr(model, "labelled", leaky)
    cfg = ReferenceConfig(epochs=1, penalties=())
    with pytest.raises(LookAheadError, match="outcome"):
        model.fit_reference(frame, cfg)


def test_fit_reference_never_reads_the_test_period(frame):
    """Rows from the test start on are replaced by nonsense: the fitted model is the same."""
    cfg = ReferenceConfig(horizons=(1, 7), thresholds=(0.95, 1.0, 1.05), epochs=20, penalties=(1.0,))
    from provers.model import fit_reference

    report: dict = {}
    a = fit_reference(frame, cfg, report=report)
    poisoned = frame.copy()
    late = poisoned.index >= pd.Timestamp(cfg.test_start)
    poisoned.loc[late, "Close"] = poisoned.loc[late, "Close"].to_numpy()[::-1] * 3.0
    b = fit_reference(poisoned, cfg)
    x = torch.rand(32, 17) * 8 - 4
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    assert report["chosen"]["calibration"] in ("identity", "temperature", "platt")
    assert {r["fit"] + 1 for r in report["calibration_folds"]} == {r["score"] for r in report["calibration_folds"]}
    assert max(r["score"] for r in report["calibration_folds"]) < pd.Timestamp(cfg.test_start).year


def test_bootstrap_interval_and_verdicts():
    rng = np.random.default_rng(0)
    dates = list(pd.date_range("2021-01-01", periods=400))
    y = (rng.random(400) < 0.5).astype(int)
    good = np.where(y == 1, 0.7, 0.3)
    same = bootstrap_difference([0.5] * 400, [0.5] * 400, y, dates, metric="brier")
    assert same["difference"] == same["low"] == same["high"] == 0.0
    d = bootstrap_difference(good, [0.5] * 400, y, dates, metric="brier")
    assert d["high"] < 0 and d["difference"] == pytest.approx(0.09 - 0.25)
    assert verdict("model", "random_walk", "brier", d).startswith("model beats the random walk on brier by 0.1600 ± ")
    worse = bootstrap_difference([0.5] * 400, good, y, dates, metric="log_loss")
    assert verdict("model", "base_rate", "log_loss", worse).startswith("model is worse than the base rate")
    assert "does not beat" in verdict("m", "random_walk", "brier", {**same, "level": 0.95})
    assert d["blocks"] == math.ceil(400 / 30)


def test_expected_calibration_error_by_hand():
    p, y = [0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1]
    # bins 0.1-0.2: predicted 0.1, observed 0.5; 0.9-1.0: predicted 0.9, observed 1.0
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)


def test_question_outcome_date_is_the_outcome_row():
    idx = pd.bdate_range("2021-01-01", periods=60)
    frame = pd.DataFrame({"Close": np.linspace(100, 160, 60)}, index=idx)
    qs = questions(frame, start="2021-02-15", horizons=(5,), ratios=(1.0,))
    assert all(q.known_at == idx[idx.get_loc(q.date) + 5] for q in qs)
    assert Question(pd.Timestamp("2021-01-01"), 7, 1.0, (), 1, 0.01).known_at == pd.Timestamp("2021-01-08")


def test_evaluate_prints_verdicts_with_intervals():
    result = runner.invoke(app, ["evaluate", "--start", "2021-01-01", "--horizon", "7", "--no-proven"])
    assert result.exit_code == 0, result.output
    assert "the random walk on brier" in result.output and "the base rate on log loss" in result.output
    assert "95% interval" in result.output
    as_json = runner.invoke(app, ["evaluate", "--start", "2021-01-01", "--horizon", "1", "--horizon", "30",
                                  "--no-proven", "--json"])
    report = json.loads(as_json.stdout)
    comp = report["comparisons"]["model_float"]["random_walk"]["brier"]
    assert comp["low"] <= comp["difference"] <= comp["high"]
    assert report["models"]["model_float"]["ece"] >= 0 and len(report["verdicts"]) == 1 + 4 + 2 * 2 + 1
    assert [v[:7] for v in report["verdicts"][5:9]] == ["h = 1: "] * 2 + ["h = 30:"] * 2  # per horizon vs the walk
    assert report["verdicts"][0].startswith("model selection: ")  # what validation made of the model
    e = report["ece_interval"]["model_float"]
    assert e["low"] < e["high"] and e["ece"] <= e["high"]
    assert report["verdicts"][-1].startswith("model_float expected calibration")


def test_held_out_start_is_refused_for_every_asset():
    from conftest import ROOT

    data = str(ROOT / "tests" / "data" / "nasdaq100_daily.csv")
    result = runner.invoke(app, ["evaluate", "--data", data, "--start", "2020-06-01", "--no-proven"])
    assert result.exit_code == 1 and "field 'start'" in result.output and "2020-12-31" in result.output


def test_the_shipped_forecaster_stays_with_the_walk_on_its_held_out_period():
    """BTC 2021-22, k in 0.9..1.1: per horizon the model's Brier is at most 0.004 above the random walk's
    (the plain MLP before was 0.0068 worse at h = 7; being better is no departure to guard against) and
    not shown worse (the temperature-mapped model
    before was, at h = 1: +0.0016 [+0.0003, +0.0028]); pooled the interval of model - walk reaches 0 on
    both scores."""
    from provers.evaluate import evaluate_reference

    ratios = (0.9, 0.95, 1.0, 1.05, 1.1)
    for h in (1, 7, 30):
        report = evaluate_reference("bundled:btc_usd_daily.csv", start="2021-01-01", horizons=(h,), ratios=ratios,
                                    proven=False)
        d = report["comparisons"]["model_float"]["random_walk"]["brier"]
        assert d["difference"] < 0.004 and d["low"] <= 0, (h, report["verdicts"])
    pooled = evaluate_reference("bundled:btc_usd_daily.csv", start="2021-01-01", horizons=(1, 7, 30), ratios=ratios,
                                proven=False)["comparisons"]["model_float"]["random_walk"]
    assert pooled["brier"]["low"] <= 0 and pooled["log_loss"]["low"] <= 0


def test_base_rate_reads_no_outcome_after_the_start_on_a_trading_day_series():
    """h counts rows: a 5-day question asked on a Tuesday resolves the next Tuesday, 7 calendar days on.
    Before the start the series only falls (every outcome NO), after it only rises: a base rate that
    counted calendar days would take in YES outcomes from after the start."""
    from provers.evaluate import backtest
    from provers.model import Forecaster

    idx = pd.bdate_range("2020-09-01", "2021-03-31")
    start = pd.Timestamp("2021-01-04")
    closes = np.where(idx < start, 1000 - np.arange(len(idx)), 0.0)
    closes[idx >= start] = closes[idx < start][-1] * 1.05 ** np.arange(1, (idx >= start).sum() + 1)
    frame = pd.DataFrame({"Close": closes}, index=idx)
    _, qs, _, rates = backtest(frame, Forecaster(17, body=ResidualBody(17)), None, start=str(start.date()),
                               horizons=(5,), ratios=(1.0,))
    assert rates == {(5, 1.0): 0.0}
    assert all(q.outcome == 1 for q in qs)


def test_a_departure_from_the_walk_needs_evidence_at_every_horizon():
    """Better pooled is not enough: a map that helps long horizons but is shown worse at h = 1 is refused,
    and so is one whose pooled gain has an interval reaching 0."""
    good = {"difference": -0.01, "low": -0.02, "high": -0.001}
    unclear = {"difference": -0.01, "low": -0.02, "high": 0.001}
    worse = {"difference": 0.004, "low": 0.0001, "high": 0.007}
    assert departs_with_evidence({"pooled": good, "per_horizon": {1: unclear, 30: good}})
    assert not departs_with_evidence({"pooled": good, "per_horizon": {1: worse, 30: good}})
    assert not departs_with_evidence({"pooled": unclear, "per_horizon": {1: good, 30: good}})
    rng = np.random.default_rng(3)
    dates = pd.DatetimeIndex(np.repeat(pd.date_range("2020-01-01", periods=360), 4))
    hs = np.tile([1, 1, 30, 30], 360)
    z = rng.normal(0, 1.5, dates.size)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-np.where(hs == 1, z, 0.5 * z)))).astype(float)
    shrunk = 0.5 * z  # right at h = 30, too timid at h = 1
    gain = validation_gain(shrunk, z, y, dates, hs)
    assert gain["per_horizon"][30]["high"] < 0 < gain["per_horizon"][1]["low"]
    assert not departs_with_evidence(gain)
    assert departs_with_evidence(validation_gain(np.where(hs == 1, z, shrunk), z, y, dates, hs))


def _log_normal_frame(seed: int = 11) -> pd.DataFrame:
    """Closes of a log-normal random walk whose volatility varies slowly: nothing to find but the walk."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2014-01-01", "2021-06-30")
    vol = 0.03 * np.exp(0.3 * np.sin(np.arange(idx.size) / 90))
    return pd.DataFrame({"Close": 100 * np.exp(np.cumsum(rng.normal(0, vol)))}, index=idx)


def test_a_forecaster_that_cannot_beat_the_walk_is_the_walk_exactly():
    """On a log-normal random walk (no structure to find) model selection keeps no correction and no
    map: the shipped weights compute the walk's own logit, bit for bit. (The walk's volatility spread is
    held at 0 here; the next test is about it.)"""
    from provers.model import fit_reference

    cfg = ReferenceConfig(horizons=(1, 7), thresholds=(0.95, 1.0, 1.05), epochs=30, penalties=(0.3,), spreads=(0.0,))
    report: dict = {}
    model = fit_reference(_log_normal_frame(), cfg, report=report)
    assert report["chosen"]["random_walk_only"], report["candidates"]
    assert all(not r["kept"] for r in report["candidates"])
    x = torch.rand(64, 17) * 8 - 4
    with torch.no_grad():
        assert torch.equal(model.logit(x), ResidualBody(17)(x))


def test_on_a_log_normal_walk_the_sampling_spread_is_what_is_kept():
    """The same log-normal walk, with the shipped spreads (0 and 0.13, the sampling error of a volatility
    from 30 returns): the walk that knows its volatility is an estimate beats the one that takes it as
    exact, on train and on validation, and no correction is kept on top of it."""
    from provers.model import fit_reference

    cfg = ReferenceConfig(horizons=(1, 7), thresholds=(0.95, 1.0, 1.05), epochs=30, penalties=(0.3,))
    report: dict = {}
    model = fit_reference(_log_normal_frame(), cfg, report=report)
    losses = report["walk_spread"]["train_log_loss"]
    assert report["walk_spread"]["fitted"] == 0.13 and losses[0.13] < losses[0.0]
    chosen = report["chosen"]
    assert chosen["spread"] == 0.13 and chosen["penalty"] is None and not chosen["random_walk_only"], chosen
    x = torch.rand(64, 17) * 8 - 4
    with torch.no_grad():
        assert torch.equal(model.logit(x), ResidualBody(17, spread=0.13)(x))


def test_the_walk_with_a_spread_is_the_same_circuit_with_fatter_tails(tmp_path):
    """A volatility spread changes the walk's three constants, not the circuit: the same ONNX operators,
    the logit of the scale mixture E[Phi(d exp(-w e))] (checked against Monte Carlo), within 0.035 of it
    at w = 0.4, increasing in d, and less sure than the log-normal far from the threshold."""
    import onnx

    from provers.circuit import export_onnx
    from provers.families import walk_coefficients

    d = np.array([-3.0, -1.0, 0.5, 2.5])
    e = np.random.default_rng(2).standard_normal(20_000)
    mc = np.array([np.mean([0.5 * math.erfc(-v / math.sqrt(2)) for v in di * np.exp(-0.4 * e)]) for di in d])
    assert np.abs(1 / (1 + np.exp(-walk_logit_exact(d, 0.4))) - mc).max() < 0.01
    x = (torch.rand(4096, 17) * 2 - 1) * 4
    plain, fat = ResidualBody(17, (4,)).eval(), ResidualBody(17, (4,), spread=0.4).eval()
    with torch.no_grad():
        got, base = fat.walk_logit(x).numpy().ravel(), plain.walk_logit(x).numpy().ravel()
    dx = walk_d(x.numpy())
    assert np.abs(got - walk_logit_exact(dx, 0.4)).max() < 0.035
    far = np.abs(dx) > 2.5
    assert (np.abs(got[far]) < np.abs(base[far])).all()
    order = np.argsort(dx)
    assert (np.diff(got[order]) >= -1e-5).all()
    ops = []
    for body, name in ((plain, "plain"), (fat, "fat")):
        export_onnx(body, 17, tmp_path / f"{name}.onnx")
        ops.append([n.op_type for n in onnx.load(str(tmp_path / f"{name}.onnx")).graph.node])
    assert ops[0] == ops[1]
    with pytest.raises(ValueError, match="spread"):
        walk_coefficients(1.5)


def test_the_spread_fit_recovers_a_known_spread():
    """Outcomes drawn from the walk with spread 0.3: `fit_spread` finds 0.3 on the grid, not 0 or the edge."""
    from provers.families import walk_coefficients
    from provers.model import fit_spread

    rng = np.random.default_rng(4)
    u = rng.uniform(-1, 1, 60_000)
    c1, c3, c5 = walk_coefficients(0.3)
    y = (rng.random(u.size) < 1 / (1 + np.exp(-u * (c1 + u * u * (c3 + u * u * c5))))).astype(float)
    w, losses = fit_spread(u, y, [i / 20 for i in range(11)])
    assert w == pytest.approx(0.3, abs=0.051) and losses[w] < losses[0.0]


def test_ece_interval_by_blocks():
    rng = np.random.default_rng(5)
    dates = list(pd.date_range("2021-01-01", periods=3000, freq="6h"))
    p = rng.random(3000)
    honest_y = (rng.random(3000) < p).astype(int)
    e = bootstrap_ece(p, honest_y, dates)
    assert e["ece"] == pytest.approx(expected_calibration_error(p, honest_y), abs=1e-12)
    assert e["low"] < e["high"] < 0.05 and e["ece"] <= e["high"]  # resampled ECE is biased up: low may exceed it
    off = bootstrap_ece(np.clip(p + 0.2, 0, 1), honest_y, dates)  # 0.2 too high: ECE near 0.2, interval too
    assert 0.12 < off["low"] <= off["ece"] <= off["high"] < 0.25


def test_the_shipped_selection_kept_only_what_validation_showed():
    """The BTC reference as trained: the temperature map the previous model shipped is refused (worse at
    h = 1 over the rolling-origin years), the correction it keeps beat the walk on validation, and every
    candidate marked kept passes the rule."""
    from markets.feeds import bundled_path
    from oracle import config
    from provers.model import fit_report
    from provers.reference import config_for, trained

    trained("mlp")
    fit = fit_report(config_for("mlp"), bundled_path("btc_usd_daily.csv").read_bytes(), config.cache_dir())
    assert fit["calibration_minus_identity"]["temperature"]["per_horizon"]["1"]["low"] > 0
    assert fit["calibration_kind"] == "identity"
    for row in fit["candidates"]:
        assert row["kept"] == departs_with_evidence(row["minus_walk"])
    chosen = fit["chosen"]
    row = next(r for r in fit["candidates"]
               if all(r[k] == chosen[k] for k in ("penalty", "hidden", "spread", "calibration")))
    assert row["kept"] and row["minus_walk"]["pooled"]["high"] < 0


def test_the_ece_floor_bins_questions_as_the_evaluation_does():
    """benchmarks/ece_floor.py scores many simulated histories at once: on one history its ECE is
    `expected_calibration_error`'s, bins and edge (p = 1) included."""
    from benchmarks.ece_floor import ece_batch

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(997), [0.0, 1.0, 0.1, 0.9]])
    ys = (rng.random((3, p.size)) < p).astype(float)
    got = ece_batch(p, ys)
    for row, e in zip(ys, got):
        assert e == pytest.approx(expected_calibration_error(p, row.astype(int)), abs=1e-12)


def _regime_closes(rng, days: int, *, tau: float, omega: float, vol: float = 0.03) -> np.ndarray:
    """Closes whose 30-day blocks each draw a drift N(0, tau^2) and a volatility: the trailing 30-return
    volatility at the block's start times exp(omega * eta), kept near `vol` so it cannot drift away."""
    r = list(rng.normal(0, vol, 30))
    while len(r) < days:
        trailing = np.std(r[-30:], ddof=1)
        sigma = trailing * np.exp(omega * rng.standard_normal()) * (vol / trailing) ** 0.5
        r += list(rng.normal(rng.normal(0, tau), sigma, 30))
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(r[:days])]))


def test_regime_parameters_find_the_trailing_estimates_error_in_a_plain_walk_and_more_where_there_are_regimes():
    """benchmarks/ece_floor.py measures the regimes world's drift and volatility spreads beyond a block's
    own sampling noise: on a log-normal walk with a fixed volatility no drift, and only the trailing
    30-return estimate's own error (about 1 / sqrt(58) = 0.13); clearly more where blocks draw them."""
    from benchmarks.ece_floor import regime_parameters

    rng = np.random.default_rng(8)
    plain = regime_parameters(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 12_000))))
    assert plain["tau"] < 0.0025 and 0.08 < plain["omega"] < 0.18 and 2.6 < plain["kurtosis"] < 3.1, plain
    regimes = regime_parameters(_regime_closes(rng, 12_000, tau=0.005, omega=0.4))
    assert regimes["tau"] > 0.003 and regimes["omega"] > 0.3, regimes


def test_a_window_splits_at_the_block_boundary():
    """Blocks of 30 days from day 100 ([100, 129], [130, 159], ...): a question asked on day t covers days
    t+1..t+h, counted in day t+1's block, then in the next one."""
    from benchmarks.ece_floor import window_split

    cases = [(100, 7), (125, 7), (128, 1), (129, 1), (128, 30), (189, 30)]
    got = [tuple(int(n) for n in window_split(t, h, 100)) for t, h in cases]
    assert got == [(7, 0), (4, 3), (1, 0), (1, 0), (1, 29), (30, 0)]


def test_the_regimes_forecaster_is_calibrated_and_the_plain_walk_is_not():
    """Over many simulated histories the regimes world's forecaster (integrating over the unknown drift
    and volatility of its window's blocks) is calibrated: for every question whose window straddles two
    blocks, and for all of them by bin, its forecast is the outcomes' frequency across histories. The walk
    that ignores the regimes is not, so the check can fail."""
    from benchmarks.ece_floor import BINS, regime_histories, window_split

    closes = _regime_closes(np.random.default_rng(9), 400, tau=0.0, omega=0.0)
    p, y, dates = regime_histories(closes, 40, (7,), (0.9, 1.0, 1.1), 4000, 1, tau=0.01, omega=0.5)[7]
    plain = regime_histories(closes, 40, (7,), (0.9, 1.0, 1.1), 4000, 1, tau=0.0, omega=0.0)[7][0]
    straddle = np.tile(window_split(np.arange(40, 40 + dates), 7, 40)[1] > 0, 3)
    freq = y.mean(axis=0)
    se = np.sqrt(p * (1 - p) / y.shape[0])
    assert straddle.sum() > 50 and (np.abs(freq - p)[straddle] < 5 * se[straddle] + 1e-3).all()

    def pooled_ece(q):
        idx = np.minimum((q * BINS).astype(int), BINS - 1)
        return sum((idx == b).mean() * abs(q[idx == b].mean() - freq[idx == b].mean())
                   for b in range(BINS) if (idx == b).any())

    assert pooled_ece(p) < 0.01 < 0.03 < pooled_ece(plain)
