"""Proper scoring of probability forecasts against what happened."""

from __future__ import annotations

import math
from typing import Sequence

EPS = 1e-6


def brier(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    return sum((p - y) ** 2 for p, y in zip(probabilities, outcomes, strict=True)) / len(probabilities)


def log_loss(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    total = 0.0
    for p, y in zip(probabilities, outcomes, strict=True):
        p = min(max(p, EPS), 1 - EPS)
        total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return total / len(probabilities)


def accuracy(probabilities: Sequence[float], outcomes: Sequence[int], threshold: float = 0.5) -> float:
    return sum((p >= threshold) == bool(y) for p, y in zip(probabilities, outcomes, strict=True)) / len(probabilities)


def losses(probabilities: Sequence[float], outcomes: Sequence[int], metric: str) -> list[float]:
    """Each forecast's term of `brier` or `log_loss` (their means are those scores): what backtest
    intervals resample, with the same clipping."""
    if metric == "brier":
        return [(p - y) ** 2 for p, y in zip(probabilities, outcomes, strict=True)]
    if metric == "log_loss":
        return [-(y * math.log(min(max(p, EPS), 1 - EPS)) + (1 - y) * math.log(1 - min(max(p, EPS), 1 - EPS)))
                for p, y in zip(probabilities, outcomes, strict=True)]
    raise ValueError(f"unknown metric {metric!r}")
