"""Backtests: no look-ahead (a leaking feature fails), hand-checked scores, baselines, the CLI."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from markets.evaluation import (LookAheadError, Question, assert_no_lookahead, base_rates, calibration_table,
                                evaluate, questions, random_walk_probability)
from markets.features import RECIPES
from markets.scoring import accuracy, brier, log_loss

runner = CliRunner()
IMPL = RECIPES["trailing_returns_v1"]


def honest(cut, i, h, k):
    return IMPL.vector([float(c) for c in cut["Close"].iloc[i - IMPL.rows_needed + 1 : i + 1]], h, k)


def leaky(cut, i, h, k):
    f = honest(cut, i, h, k)
    if i + h < len(cut):  # peeks at the answer when the rows are there
        f[-1] = 1.0 if cut["Close"].iloc[i + h] > k * cut["Close"].iloc[i] else -1.0
    return f


def test_lookahead_guard_catches_a_leaking_feature(frame):
    qs = questions(frame, start="2021-01-01", end="2021-03-31", features_fn=leaky)
    with pytest.raises(LookAheadError, match="reads the future"):
        assert_no_lookahead(frame, qs, leaky)


def test_lookahead_guard_passes_the_real_recipe(frame):
    qs = questions(frame, start="2021-01-01", end="2021-03-31")
    assert_no_lookahead(frame, qs, honest)


def test_scores_match_hand_computation():
    p, y = [0.8, 0.3, 0.6, 0.1], [1, 0, 0, 0]
    assert brier(p, y) == pytest.approx((0.04 + 0.09 + 0.36 + 0.01) / 4)
    assert log_loss(p, y) == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.4) + math.log(0.9)) / 4)
    assert accuracy(p, y) == 0.75  # 0.6 predicted YES for a NO
    cal = calibration_table(p, y, bins=2)
    assert cal == [{"bin": "0.0-0.5", "n": 2, "mean_predicted": pytest.approx(0.2), "observed": 0.0},
                   {"bin": "0.5-1.0", "n": 2, "mean_predicted": pytest.approx(0.7), "observed": 0.5}]


def test_random_walk_baseline_is_the_digital_option_probability():
    q = Question(pd.Timestamp("2021-01-01"), 4, 1.0, (), 1, 0.05)  # sigma sqrt(h) = 0.1
    assert random_walk_probability(q) == pytest.approx(0.5 * (1 + math.erf(-0.05 / math.sqrt(2))))
    far = Question(pd.Timestamp("2021-01-01"), 1, 1.5, (), 0, 0.01)
    assert random_walk_probability(far) < 1e-6


def test_base_rate_uses_only_the_past():
    qs = [Question(pd.Timestamp("2020-01-0%d" % d), 7, 1.0, (), y, 0.01) for d, y in ((1, 1), (2, 1), (3, 0))]
    assert base_rates(qs) == {(7, 1.0): pytest.approx(2 / 3)}
    report = evaluate(qs, {"m": [0.5, 0.5, 0.5]}, rates=base_rates(qs))
    assert set(report["models"]) == {"m", "base_rate", "random_walk"}


def test_evaluate_another_asset_with_plots(tmp_path):
    from conftest import ROOT

    data = str(ROOT / "tests" / "data" / "nasdaq100_daily.csv")
    result = runner.invoke(app, ["evaluate", "--data", data, "--start", "2021-01-01", "--no-proven",
                                 "--plot", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] > 500 and set(report["models"]) == {"model_float", "base_rate", "random_walk"}
    assert {p.split("/")[-1] for p in report["plots"]} == {"calibration.png", "brier_over_time.png"}
    assert all((tmp_path / name).stat().st_size > 1000 for name in ("calibration.png", "brier_over_time.png"))


def test_evaluating_the_training_period_is_refused():
    result = runner.invoke(app, ["evaluate", "--start", "2019-01-01", "--no-proven"])
    assert result.exit_code == 1 and "field 'start'" in result.output


@pytest.mark.slow
def test_proven_outputs_score_like_the_float_model(circuit):
    result = runner.invoke(app, ["evaluate", "--start", "2021-06-01", "--end", "2021-09-30", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert abs(report["brier_float_minus_proven"]) <= 1e-3
    assert report["models"]["model_proven"]["n"] == report["models"]["model_float"]["n"] > 100


def test_model_show_prints_the_latest_backtest_beside_the_reputation(circuit, store, frame):
    """`oracle evaluate` keeps its scores, ECE interval and verdicts for the model it proved with;
    `oracle model show` prints them (the same Brier and log loss functions as the reputation)."""
    from markets.evaluation import bootstrap_ece, latest_evaluation, record_evaluation

    qs = questions(frame, start="2021-01-01", end="2021-03-31", horizons=(7,), ratios=(1.0,))
    ys, dates = [q.outcome for q in qs], [q.date for q in qs]
    p = [random_walk_probability(q) for q in qs]
    report = evaluate(qs, {"model_float": p}, rates={})
    report.update(data="bundled:btc_usd_daily.csv", horizons=[7], ratios=[1.0],
                  ece_interval={"model_float": bootstrap_ece(p, ys, dates)},
                  verdicts=["model selection: test sentence"] + report["verdicts"])
    assert latest_evaluation(store, circuit.model_id) is None
    record_evaluation(store, circuit.model_id, report)
    shown = runner.invoke(app, ["model", "show", circuit.model_id])
    assert shown.exit_code == 0, shown.output
    assert "held-out backtest" in shown.output and f"Brier {brier(p, ys):.4f}" in shown.output
    assert "model selection: test sentence" in shown.output and "the random walk on log loss" in shown.output
    doc = json.loads(runner.invoke(app, ["model", "show", circuit.model_id, "--json"]).stdout)
    assert doc["evaluation"]["scores"]["model_float"]["log_loss"] == pytest.approx(log_loss(p, ys))
    assert doc["evaluation"]["ece_interval"]["model_float"]["high"] >= doc["evaluation"]["ece_interval"]["model_float"]["low"]

