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

from oracle.errors import OracleError

from .features import RECIPES
from .scoring import accuracy, brier, log_loss


class LookAheadError(OracleError):
    """A feature depends on rows after the question's date."""


@dataclass(frozen=True)
class Question:
    date: pd.Timestamp
    horizon: int
    ratio: float
    features: tuple[float, ...]
    outcome: int
    trailing_vol: float  # daily log-return std over the recipe's volatility window


def questions(frame: pd.DataFrame, *, start: str, end: str | None = None, horizons: Sequence[int] = (7,),
              ratios: Sequence[float] = (0.95, 1.0, 1.05), recipe: str = "trailing_returns_v1",
              column: str = "Close", features_fn: Callable | None = None) -> list[Question]:
    """Every question in [start, end] whose window and horizon lie inside the data.

    `features_fn(frame_up_to_t, h, k)` overrides the recipe (used to test the look-ahead guard).
    """
    impl = RECIPES[recipe]
    n = impl.rows_needed
    closes = frame[column].to_numpy(dtype=float)
    dates = frame.index
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) if end else None
    out = []
    for h in horizons:
        for i in range(n - 1, len(closes) - h):
            d = dates[i]
            if d < lo or (hi is not None and d > hi):
                continue
            window = [float(c) for c in closes[i - n + 1 : i + 1]]
            r = np.diff(np.log(window))
            vol = float(np.std(r, ddof=1))
            for k in ratios:
                if features_fn is None:
                    f = impl.vector(window, h, k)
                else:
                    f = features_fn(frame.iloc[: i + 1 + h], i, h, k)  # deliberately handed future rows
                out.append(Question(d, h, k, tuple(f), int(closes[i + h] > k * closes[i]), vol))
    return out


def assert_no_lookahead(frame: pd.DataFrame, qs: Sequence[Question], features_of: Callable, *,
                        sample: int = 200) -> None:
    """Recompute features with the data cut at each question's date; any difference is look-ahead."""
    idx = np.linspace(0, len(qs) - 1, num=min(sample, len(qs))).astype(int)
    for j in idx:
        q = qs[j]
        cut = frame.loc[: q.date]
        again = features_of(cut, len(cut) - 1, q.horizon, q.ratio)
        if tuple(again) != q.features:
            raise LookAheadError(f"features for {q.date.date()} (h={q.horizon}, k={q.ratio}) change when rows "
                                 f"after {q.date.date()} are removed: the recipe reads the future")


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


def scores(probabilities: Sequence[float], outcomes: Sequence[int]) -> dict[str, float]:
    return {"brier": brier(probabilities, outcomes), "log_loss": log_loss(probabilities, outcomes),
            "accuracy": accuracy(probabilities, outcomes), "n": len(outcomes)}


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
    return {"n": len(qs), "period": [str(min(q.date for q in qs).date()), str(max(q.date for q in qs).date())],
            "models": report}
