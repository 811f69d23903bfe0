"""The demo's markets: real questions of every shape on real dates, resolved from several providers'
bundled data (see markets/data/SOURCE.md), each registered before its event on a replay chain.

The dates were picked for the data they exercise, not for any model being right: March 2019 is when
Yahoo ran ~1 % above the exchanges and Coinbase's feed was stale, so the median has work to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .spec import MarketSpec

# The forecaster's data (the reference model trained on it) and the markets' evidence sources.
BTC_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}
_OHLC = {"open": "Open", "high": "High", "low": "Low"}
_ohlc = {"open": "open", "high": "high", "low": "low"}
SOURCES: dict[str, dict[str, str]] = {
    "btc-yahoo": {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close", **_OHLC},
    "btc-bitstamp": {"kind": "csv", "uri": "bundled:btc_usd_daily_bitstamp.csv", "column": "close", **_ohlc},
    "btc-coinbase": {"kind": "csv", "uri": "bundled:btc_usd_daily_coinbase.csv", "column": "Close", **_OHLC},
    "btc-binance": {"kind": "csv", "uri": "bundled:btc_usdt_daily_binance.csv", "column": "close", **_ohlc},
    "ndx-yahoo": {"kind": "csv", "uri": "bundled:nasdaq100_daily.csv", "column": "Close", **_OHLC},
    "ndx-stooq": {"kind": "csv", "uri": "bundled:nasdaq100_daily_stooq.csv", "column": "Close", **_OHLC},
    "btc-bitstamp-1h": {"kind": "csv", "uri": "bundled:btc_usd_hourly_bitstamp.csv", "column": "close",
                        "interval": "1h", **_ohlc},
}
BTC_2019 = ("btc-yahoo", "btc-bitstamp", "btc-coinbase", "btc-binance")
BTC_2021 = ("btc-yahoo", "btc-bitstamp", "btc-binance")  # Coinbase's file ends 2020-11-20
NDX = ("ndx-yahoo", "ndx-stooq")  # one official print, two vendors: not independent, still two reads

# The replay chain starts here: every demo market is registered before its event.
REPLAY_START = datetime(2019, 3, 10, tzinfo=timezone.utc)


@dataclass(frozen=True)
class DemoMarket:
    question: str
    outcomes: tuple[str, ...]
    observe: dict[str, Any]
    shape: dict[str, Any]
    close_at: str
    resolve_at: str
    forecast: dict[str, Any] | None = None  # reference-model forecast schedule (its model id added)

    @property
    def width(self) -> int:
        return len(self.shape.get("bounds", [0]))


def _observe(names, **extra) -> dict[str, Any]:
    return {"sources": [SOURCES[n] for n in names], "min_sources": 2, "tolerance": 0.01, **extra}


DEMO_MARKETS = (
    DemoMarket(
        "Will BTC close above $4,000 on March 23, 2019 (UTC day)?", ("YES", "NO"),
        _observe(BTC_2019), {"kind": "above", "at": "2019-03-23", "value": 4000, "above": "YES", "below": "NO"},
        close_at="2019-03-23T00:00:00Z", resolve_at="2019-03-24T00:00:00Z",
        forecast={"source": BTC_SOURCE, "every_days": 2,
                  "features": {"recipe": "trailing_returns_v1",
                               "params": {"as_of": "2019-03-17", "horizon_days": 6, "threshold_price": 4000}}}),
    DemoMarket(
        "Bitcoin up or down in the week of January 25, 2021 (Mon open to Sun close, UTC)?", ("Up", "Down"),
        _observe(BTC_2021), {"kind": "up_down", "from": "2021-01-25", "to": "2021-01-31", "up": "Up", "down": "Down"},
        close_at="2021-01-25T00:00:00Z", resolve_at="2021-02-01T00:00:00Z"),
    DemoMarket(
        "Where will the NASDAQ-100 close on January 29, 2021?",
        ("below 12,500", "12,500-13,000", "13,000-13,500", "13,500 or above"),
        _observe(NDX, timezone="America/New_York", tolerance=0.001, sessions="exchange"),
        {"kind": "range", "at": "2021-01-29",
                                                      "bounds": [12500, 13000, 13500]},
        close_at="2021-01-29T05:00:00Z", resolve_at="2021-01-30T05:00:00Z"),
    DemoMarket(
        "Will Bitcoin reach $40,000 between January 25 and February 14, 2021 (UTC)?", ("YES", "NO"),
        _observe(BTC_2021), {"kind": "touch", "from": "2021-01-25", "to": "2021-02-14", "level": 40000,
                             "direction": "up", "yes": "YES", "no": "NO"},
        close_at="2021-01-25T00:00:00Z", resolve_at="2021-01-26T00:00:00Z"),
    DemoMarket(
        "Which gains more in February 2021 (Feb 1 open to Feb 26 close): Bitcoin or the NASDAQ-100?",
        ("Bitcoin", "NASDAQ-100"),
        _observe(BTC_2021), {"kind": "versus", "from": "2021-02-01", "to": "2021-02-26", "a": "Bitcoin",
                             "b": "NASDAQ-100", "other": {"sources": [SOURCES[n] for n in NDX],
                                                          "timezone": "America/New_York", "sessions": "exchange"}},
        close_at="2021-02-01T00:00:00Z", resolve_at="2021-02-27T05:00:00Z"),
)


def demo_spec(m: DemoMarket, resolver_of: Callable[[int], str], forecaster: str | None, quorum: int) -> MarketSpec:
    """The market's spec with this node's resolver (over the shape's comparisons) and forecaster."""
    doc: dict[str, Any] = {
        "version": 2,
        "question": m.question,
        "description": "Resolved from the listed sources' data after the event: the median of the sources "
                       "that have it, a source more than 1 % off the median reported and not counted.",
        "outcomes": list(m.outcomes),
        "kind": "forecast" if m.forecast else "resolve",
        "observe": m.observe,
        "shape": m.shape,
        "resolver": resolver_of(m.width),
        "close_at": m.close_at,
        "resolve_at": m.resolve_at,
        "quorum": quorum,
    }
    if m.forecast:
        doc["forecast"] = {"model": forecaster, **m.forecast}
    return MarketSpec.parse(doc)
