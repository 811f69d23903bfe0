"""Backtests without look-ahead: questions, baselines, scores, calibration.

A question is (date t, horizon h, threshold ratio k): "close[t+h] > k x close[t]?".
Features come only from rows up to t; `assert_no_lookahead` proves it for a
recipe by recomputing every feature vector on the data cut at t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .features import RECIPES, LookAheadError, daily_volatilities, recipe_vector  # noqa: F401  (re-exported)
from .scoring import accuracy, brier, log_loss, losses


@dataclass(frozen=True)
class Question:
    date: pd.Timestamp
    horizon: int
    ratio: float
    features: tuple[float, ...]
    outcome: int
    trailing_vol: float  # daily log-return std over the recipe's volatility window
    target: pd.Timestamp | None = None  # the outcome's row (h rows later: trading days on an exchange series)

    @property
    def known_at(self) -> pd.Timestamp:
        return self.target if self.target is not None else self.date + pd.Timedelta(days=self.horizon)


def questions(frame: pd.DataFrame, *, start: str, end: str | None = None, horizons: Sequence[int] = (7,),
              ratios: Sequence[float] = (0.95, 1.0, 1.05), recipe: str = "trailing_returns_v1",
              column: str = "Close", features_fn: Callable | None = None,
              hourly: pd.DataFrame | None = None) -> list[Question]:
    """Every question in [start, end] whose window and horizon lie inside the data (and, for a recipe
    that reads hourly bars, whose hourly window `hourly` covers).

    `features_fn(frame_up_to_t, h, k)` overrides the recipe (used to test the look-ahead guard).
    `trailing_vol` (the random walk's) is always the daily closes' over the last 30 returns.
    """
    impl = RECIPES[recipe]
    n = impl.rows_needed
    vol_rows = max(n, 31)  # the random walk baseline's 30 daily returns
    closes = frame[column].to_numpy(dtype=float)
    dates = frame.index
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) if end else None
    vols = daily_volatilities(impl, hourly, [d for d in dates if d >= lo and (hi is None or d <= hi)])
    out = []
    for h in horizons:
        for i in range(vol_rows - 1, len(closes) - h):
            d = dates[i]
            if d < lo or (hi is not None and d > hi):
                continue
            if impl.hourly_rows_needed and d not in vols:
                continue
            window = [float(c) for c in closes[i - n + 1 : i + 1]]
            r = np.diff(np.log(closes[i - 30 : i + 1]))
            vol = float(np.std(r, ddof=1))
            for k in ratios:
                if features_fn is None:
                    f = recipe_vector(impl, window, h, k, vols, d)
                else:
                    f = features_fn(frame.iloc[: i + 1 + h], i, h, k)  # deliberately handed future rows
                out.append(Question(d, h, k, tuple(f), int(closes[i + h] > k * closes[i]), vol, dates[i + h]))
    return out


def assert_no_lookahead(frame: pd.DataFrame, qs: Sequence[Question], features_of: Callable, *,
                        sample: int = 200, hourly: pd.DataFrame | None = None) -> None:
    """Recompute features with the data cut at each question's date (and the hourly bars, `hourly`,
    cut at its forecast time: the last bar is the one whose hour ends then); any difference is
    look-ahead. With `hourly`, `features_of(cut, i, h, k, hourly_cut)`."""
    idx = np.linspace(0, len(qs) - 1, num=min(sample, len(qs))).astype(int)
    for j in idx:
        q = qs[j]
        cut = frame.loc[: q.date]
        if hourly is None:
            again = features_of(cut, len(cut) - 1, q.horizon, q.ratio)
        else:
            forecast_time = q.date + pd.Timedelta(days=1)
            again = features_of(cut, len(cut) - 1, q.horizon, q.ratio,
                                hourly.loc[: forecast_time - pd.Timedelta(hours=1)])
        if tuple(again) != q.features:
            raise LookAheadError(f"features for {q.date.date()} (h={q.horizon}, k={q.ratio}) change when rows "
                                 f"after {q.date.date()} are removed: the recipe reads the future")


def assert_trained_before(targets: Sequence[pd.Timestamp], split: str | pd.Timestamp, *,
                          what: str = "training outcome") -> None:
    """Training discipline: every outcome a model learns from (or is calibrated, or selected, on)
    must be known before `split`, so the last question's date is at least its horizon before it."""
    split = pd.Timestamp(split)
    late = [t for t in targets if pd.Timestamp(t) >= split]
    if late:
        raise LookAheadError(f"{len(late)} {what}(s) on or after {split.date()} (first {min(late).date()}): "
                             f"training would read the future")


def random_walk_probability(q: Question) -> float:
    """Digital-option probability under a driftless log-normal walk with trailing volatility."""
    s = q.trailing_vol * math.sqrt(q.horizon)
    if s <= 0:
        return 1.0 if q.ratio < 1 else 0.0
    d = (-math.log(q.ratio) - 0.5 * s * s) / s
    return 0.5 * (1 + math.erf(d / math.sqrt(2)))


def calibration_table(probabilities: Sequence[float], outcomes: Sequence[int], bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    rows = []
    for b in range(bins):
        mask = (p >= edges[b]) & ((p < edges[b + 1]) if b < bins - 1 else (p <= 1))
        if mask.any():
            rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(mask.sum()),
                         "mean_predicted": float(p[mask].mean()), "observed": float(y[mask].mean())})
    return rows


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[int], bins: int = 10) -> float:
    """sum over the bins of calibration_table: (bin count / n) x |mean predicted - observed|."""
    table = calibration_table(probabilities, outcomes, bins)
    n = sum(r["n"] for r in table)
    return sum(r["n"] / n * abs(r["mean_predicted"] - r["observed"]) for r in table) if n else 0.0


def scores(probabilities: Sequence[float], outcomes: Sequence[int]) -> dict[str, float]:
    return {"brier": brier(probabilities, outcomes), "log_loss": log_loss(probabilities, outcomes),
            "accuracy": accuracy(probabilities, outcomes), "ece": expected_calibration_error(probabilities, outcomes),
            "n": len(outcomes)}


def per_question_losses(probabilities: Sequence[float], outcomes: Sequence[int], metric: str) -> np.ndarray:
    """Each question's term of `brier` or `log_loss`, from markets.scoring (the node's reputation
    scores forecasts with the same functions)."""
    return np.asarray(losses(probabilities, outcomes, metric), dtype=float)


def bootstrap_difference(model: Sequence[float], baseline: Sequence[float], outcomes: Sequence[int],
                         dates: Sequence[pd.Timestamp], *, metric: str, block_days: int = 30,
                         resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Mean score difference model - baseline (negative: the model is better) with a bootstrap interval.

    Questions asked on nearby dates share most of their outcome path (a 30-day question asked today
    and tomorrow), so whole blocks of `block_days` consecutive question dates are resampled, not
    single questions: an i.i.d. bootstrap would give intervals several times too narrow."""
    diff = per_question_losses(model, outcomes, metric) - per_question_losses(baseline, outcomes, metric)
    days = pd.DatetimeIndex(dates)
    origin = days.min()
    block = np.asarray((days - origin).days // block_days)
    ids, inverse = np.unique(block, return_inverse=True)
    sums = np.bincount(inverse, weights=diff, minlength=len(ids))
    counts = np.bincount(inverse, minlength=len(ids)).astype(float)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ids), size=(resamples, len(ids)))
    means = sums[pick].sum(axis=1) / counts[pick].sum(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"difference": float(diff.mean()), "low": float(lo), "high": float(hi), "level": level,
            "blocks": int(len(ids)), "block_days": block_days}


def bootstrap_ece(probabilities: Sequence[float], outcomes: Sequence[int], dates: Sequence[pd.Timestamp], *,
                  bins: int = 10, block_days: int = 30, resamples: int = 2000, level: float = 0.95,
                  seed: int = 0) -> dict[str, float]:
    """`expected_calibration_error` with a block-bootstrap interval (the same blocks of question dates
    as `bootstrap_difference`): each resample adds up the bins' counts and sums of whole blocks. A
    percentile interval: ECE sums absolute errors, so resampling noise only raises it, and on
    well-calibrated forecasts the interval can sit wholly above the estimate (it errs against the goal)."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    days = pd.DatetimeIndex(dates)
    block = np.asarray((days - days.min()).days // block_days)
    ids, inverse = np.unique(block, return_inverse=True)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)  # [e_b, e_b+1), the last bin closed
    cell = inverse * bins + which
    size = len(ids) * bins
    count = np.bincount(cell, minlength=size).reshape(len(ids), bins).astype(float)
    sp = np.bincount(cell, weights=p, minlength=size).reshape(len(ids), bins)
    sy = np.bincount(cell, weights=y, minlength=size).reshape(len(ids), bins)

    def ece(n, a, b):
        return np.abs(a - b).sum(axis=-1) / n.sum(axis=-1)  # sum_b n_b/N |mean p_b - mean y_b|

    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ids), size=(resamples, len(ids)))
    draws = ece(count[pick].sum(axis=1), sp[pick].sum(axis=1), sy[pick].sum(axis=1))
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {"ece": float(ece(count.sum(0), sp.sum(0), sy.sum(0))), "low": float(lo), "high": float(hi),
            "level": level, "blocks": int(len(ids)), "block_days": block_days}


BASELINE_WORDS = {"random_walk": "the random walk", "base_rate": "the base rate"}


def verdict(model: str, baseline: str, metric: str, d: dict[str, float]) -> str:
    """One sentence: beats / does not beat / is worse than, with the interval's half-width."""
    words = BASELINE_WORDS.get(baseline, baseline)
    half = (d["high"] - d["low"]) / 2
    name = metric.replace("_", " ")
    interval = f"{name} {d['difference']:+.4f} ± {half:.4f}, {d['level']:.0%} interval [{d['low']:+.4f}, {d['high']:+.4f}]"
    if d["high"] < 0:
        return f"{model} beats {words} on {name} by {-d['difference']:.4f} ± {half:.4f} ({interval})"
    if d["low"] > 0:
        return f"{model} is worse than {words} on {name} by {d['difference']:.4f} ± {half:.4f} ({interval})"
    return f"{model} does not beat {words} on {name}: no difference it can show ({interval})"


def compare(qs: Sequence["Question"], predictions: dict[str, Sequence[float]], baselines: dict[str, Sequence[float]],
            **bootstrap) -> dict:
    """Every model vs every baseline, on Brier and log loss: difference, interval, verdict."""
    ys = [q.outcome for q in qs]
    dates = [q.date for q in qs]
    out: dict = {}
    for name, p in predictions.items():
        for base, b in baselines.items():
            for metric in ("brier", "log_loss"):
                d = bootstrap_difference(p, b, ys, dates, metric=metric, **bootstrap)
                out.setdefault(name, {}).setdefault(base, {})[metric] = {**d, "verdict": verdict(name, base, metric, d)}
    return out


def base_rates(history: Sequence[Question]) -> dict[tuple[int, float], float]:
    """YES frequency per (horizon, ratio), from questions before the evaluation period."""
    acc: dict[tuple[int, float], list[int]] = {}
    for q in history:
        acc.setdefault((q.horizon, q.ratio), []).append(q.outcome)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def evaluate(qs: Sequence[Question], predictions: dict[str, Sequence[float]], *,
             rates: dict[tuple[int, float], float]) -> dict:
    """Scores and calibration for each named predictor, plus the two baselines."""
    ys = [q.outcome for q in qs]
    preds = dict(predictions)
    preds["base_rate"] = [rates.get((q.horizon, q.ratio), 0.5) for q in qs]
    preds["random_walk"] = [random_walk_probability(q) for q in qs]
    report = {name: {**scores(p, ys), "calibration": calibration_table(p, ys)} for name, p in preds.items()}
    baselines = {k: preds[k] for k in ("base_rate", "random_walk")}
    comparisons = compare(qs, predictions, baselines) if predictions else {}
    return {"n": len(qs), "period": [str(min(q.date for q in qs).date()), str(max(q.date for q in qs).date())],
            "models": report, "comparisons": comparisons,
            "verdicts": [m["verdict"] for per in comparisons.values() for b in per.values() for m in b.values()]}


EVALUATIONS = "evaluation"  # store refs: model id -> its latest held-out backtest (`oracle model show`)


def record_evaluation(store, model_id: str, report: dict) -> str:
    """Keep the backtest's scores, ECE and verdicts as the model's latest evaluation (what `oracle model
    show` prints beside its reputation, scored with the same functions, markets.scoring)."""
    summary = {"version": 1, "model_id": model_id, "data": report["data"], "period": report["period"],
               "n": report["n"], "horizons": report["horizons"], "ratios": report["ratios"],
               "scores": {k: {m: r[m] for m in ("brier", "log_loss", "accuracy", "ece")}
                          for k, r in report["models"].items()},
               "ece_interval": report["ece_interval"], "verdicts": report["verdicts"]}
    rid = store.put_json(summary)
    store.set_ref(EVALUATIONS, model_id, rid)
    return rid


def latest_evaluation(store, model_id: str) -> dict | None:
    from oracle.errors import NotFound

    try:
        return store.get_json(store.ref(EVALUATIONS, model_id))
    except NotFound:
        return None
