"""The demo's markets: real dates from the BTC data the reference model never trained on.

Each asks "will BTC close h days later above k x the close on `as_of`?". The
actual answer, read from the same data, is shown next to the oracle's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from .spec import MarketSpec

BTC_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}


@dataclass(frozen=True)
class DemoQuestion:
    as_of: str
    threshold_ratio: float
    horizon_days: int = 7


# Dates where the reference model is confident (|p - 0.5| > 0.3), two that went each
# way. Its overall held-out quality, against baselines, is what `oracle evaluate` reports.
DEMO_QUESTIONS = (
    DemoQuestion("2021-01-12", 0.95),
    DemoQuestion("2021-01-20", 1.05),
    DemoQuestion("2021-01-18", 1.10),
    DemoQuestion("2021-01-28", 0.95),
)


def demo_spec(q: DemoQuestion, frame: pd.DataFrame, model_id: str, quorum: int) -> MarketSpec:
    as_of = pd.Timestamp(q.as_of)
    close = float(frame.loc[as_of, "Close"])
    target_day = as_of + timedelta(days=q.horizon_days)
    resolve_at = (target_day + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    question = (
        f"Will BTC-USD close above ${q.threshold_ratio * close:,.0f} ({q.threshold_ratio:.2f} x the "
        f"{as_of.date()} close of ${close:,.0f}) on {target_day.date()}?"
    )
    return MarketSpec.parse({
        "version": 1,
        "question": question,
        "description": "Resolved by the reference BTC forecaster's proven probability (>= 0.5 is YES).",
        "outcomes": ["YES", "NO"],
        "kind": "resolve",
        "source": BTC_SOURCE,
        "features": {
            "recipe": "trailing_returns_v1",
            "params": {"as_of": q.as_of, "horizon_days": q.horizon_days, "threshold_ratio": q.threshold_ratio},
        },
        "model": model_id,
        "rule": {"kind": "threshold", "threshold": 0.5, "above": "YES", "below": "NO"},
        "resolve_at": resolve_at,
        "quorum": quorum,
    })


def actual_outcome(spec: MarketSpec, frame: pd.DataFrame) -> str | None:
    """What really happened, from the data (None if the data ends before the target day)."""
    truth = spec.features.truth(frame)
    if truth is None:
        return None
    return spec.rule.above if truth else spec.rule.below
