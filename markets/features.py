"""Feature recipes: a named pandas transformation from a data window to a vector.

Provers and validators call the same recipe on the same rows. The arithmetic
is plain IEEE-754 in a fixed order (`math.fsum` is correctly rounded), so two
machines that load the same rows get the same floats, hence the same
quantized circuit inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from oracle.errors import DataError, OracleError, SpecError

# Every feature is clipped to [-CLIP, CLIP]. The circuit is calibrated on that
# whole box, so no market's witness can fall outside the proven lookup range.
CLIP = 4.0


def _clip(x: float) -> float:
    return min(max(x, -CLIP), CLIP)


class LookAheadError(OracleError):
    """A feature depends on data from after the question's forecast time."""


HOUR = pd.Timedelta(hours=1)


def _threshold_features(r: list[float], window: int, vol: float, horizon_days: int,
                        threshold_ratio: float) -> list[float]:
    """The layout both recipes share: last `window` daily log returns x 10, volatility x sqrt(h) x 10,
    log(k) x 10, log(k) / (volatility x sqrt(h)). The circuit's random-walk logit reads slots 14 and 16."""
    hv = vol * math.sqrt(horizon_days)
    lk = math.log(threshold_ratio)
    z = lk / hv if hv > 0 else math.copysign(CLIP, lk)
    return [_clip(x * 10) for x in r[-window:]] + [_clip(hv * 10), _clip(lk * 10), _clip(z)]


def _log_returns(closes: list[float], name: str) -> list[float]:
    if any(not (c > 0 and math.isfinite(c)) for c in closes):
        raise DataError(f"{name}: closes must be positive and finite")
    return [math.log(closes[i + 1]) - math.log(closes[i]) for i in range(len(closes) - 1)]


@dataclass(frozen=True)
class TrailingReturns:
    """Momentum + volatility features for "close `h` days ahead > k x today's close".

    From the `vol_window + 1` closes ending at `as_of`:
      f[0:window]  last `window` daily log returns x 10 (oldest first)
      f[window]    trailing daily volatility x sqrt(h) x 10
      f[window+1]  log(k) x 10
      f[window+2]  log(k) / (volatility x sqrt(h))   (distance to the threshold in sigmas)
    """

    name = "trailing_returns_v1"
    window: int = 14
    vol_window: int = 30
    hourly_rows_needed = 0  # reads no hourly bars

    @property
    def n_features(self) -> int:
        return self.window + 3

    @property
    def rows_needed(self) -> int:
        return self.vol_window + 1

    def vector(self, closes: list[float], horizon_days: int, threshold_ratio: float) -> list[float]:
        if len(closes) != self.rows_needed:
            raise DataError(f"{self.name} needs {self.rows_needed} closes, got {len(closes)}")
        r = _log_returns(closes, self.name)
        mean = math.fsum(r) / len(r)
        vol = math.sqrt(math.fsum((x - mean) ** 2 for x in r) / (len(r) - 1))
        return _threshold_features(r, self.window, vol, horizon_days, threshold_ratio)


@dataclass(frozen=True)
class HourlyVolatility:
    """Recipe v1's layout, with the volatility measured on a second source's hourly bars.

    From the `window + 1` daily closes ending at `as_of` (the forecast source) and the
    `24 * hourly_days + 1` consecutive hourly bars of the hourly source whose hours end by the
    forecast time (`as_of` + 1 day, 00:00 UTC: the bar opening at 23:00 on `as_of` is the last):
      f[0:window]  last `window` daily log returns x 10 (oldest first)
      f[window]    realised daily volatility x sqrt(h) x 10, where the realised daily variance is
                   the sum of the `24 * hourly_days` squared hourly log returns / `hourly_days`
      f[window+1]  log(k) x 10
      f[window+2]  log(k) / (volatility x sqrt(h))
    On 2019-20 validation the walk with this volatility beat the walk with 30 daily closes' at every
    horizon (benchmarks/forecasts.py, `candidate_feature_hourly_volatility`).
    """

    name = "trailing_returns_hourly_vol_v1"
    window: int = 14
    hourly_days: int = 30

    @property
    def n_features(self) -> int:
        return self.window + 3

    @property
    def rows_needed(self) -> int:
        return self.window + 1

    @property
    def hourly_rows_needed(self) -> int:
        return 24 * self.hourly_days + 1

    def volatility(self, hourly: pd.Series, forecast_time: pd.Timestamp) -> float:
        """Realised daily volatility from the hourly closes `hourly` (indexed by each bar's opening
        hour): exactly the `hourly_rows_needed` consecutive bars whose hours end by `forecast_time`.
        A bar that opens at or after `forecast_time` is look-ahead, refused."""
        n = self.hourly_rows_needed
        index = pd.DatetimeIndex(hourly.index)
        if len(index) and index[-1] + HOUR > forecast_time:
            late = index[index + HOUR > forecast_time][0]
            raise LookAheadError(f"{self.name}: hourly bar {late:%Y-%m-%d %H:%M} ends after the forecast time "
                                 f"{forecast_time:%Y-%m-%d %H:%M}: the features would read the future")
        if len(index) != n:
            raise DataError(f"{self.name} needs {n} hourly closes, got {len(index)}")
        if index[0] != forecast_time - n * HOUR:
            raise DataError(f"{self.name}: the hourly bars are not {n} consecutive hours ending at "
                            f"{forecast_time:%Y-%m-%d %H:%M}")
        r = _log_returns([float(c) for c in hourly], self.name)
        return math.sqrt(math.fsum(x * x for x in r) / self.hourly_days)

    def from_volatility(self, closes: list[float], vol: float, horizon_days: int,
                        threshold_ratio: float) -> list[float]:
        if len(closes) != self.rows_needed:
            raise DataError(f"{self.name} needs {self.rows_needed} closes, got {len(closes)}")
        return _threshold_features(_log_returns(closes, self.name), self.window, vol, horizon_days, threshold_ratio)

    def vector(self, closes: list[float], horizon_days: int, threshold_ratio: float, *, hourly: pd.Series,
               forecast_time: pd.Timestamp) -> list[float]:
        return self.from_volatility(closes, self.volatility(hourly, forecast_time), horizon_days, threshold_ratio)


RECIPES = {TrailingReturns.name: TrailingReturns(), HourlyVolatility.name: HourlyVolatility()}


def hourly_window(hourly: pd.DataFrame, forecast_time: pd.Timestamp, n: int) -> pd.DataFrame:
    """The `n` hourly bars whose hours end by `forecast_time` (the last opens one hour before it),
    which must all be there: a DataError naming `forecast.hourly_source` otherwise (retry: the data
    does not reach the forecast time yet)."""
    index = hourly.index
    if not isinstance(index, pd.DatetimeIndex) or (len(index) and (index == index.normalize()).all()):
        raise DataError("forecast.hourly_source: not hourly bars (load it with interval 1h)")
    last = forecast_time - HOUR
    if hourly.empty or index[-1] < last:
        have = f"{index[-1]:%Y-%m-%d %H:%M}" if len(index) else "none"
        raise DataError(f"forecast.hourly_source: no bar for {last:%Y-%m-%d %H:%M} yet (last bar {have})", retry=True)
    upto = hourly.loc[:last]
    first = forecast_time - n * HOUR
    if len(upto) < n or upto.index[-n] != first or upto.index[-1] != last:
        span = f"{index[0]:%Y-%m-%d %H:%M}..{index[-1]:%Y-%m-%d %H:%M}"
        raise DataError(f"forecast.hourly_source: the window needs {n} consecutive hourly bars "
                        f"{first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M}; the source ({span}) does not cover it")
    return upto.iloc[-n:]


def daily_volatilities(impl, hourly: pd.DataFrame | None, dates) -> dict[pd.Timestamp, float]:
    """For a recipe that reads hourly bars: each question date's volatility (its forecast time the
    next midnight), for the dates whose hourly window `hourly` covers; backtests and training ask no
    question on another date. Each value is the recipe's own `volatility`, so what a backtest scores
    is what a prover proves."""
    if not impl.hourly_rows_needed:
        return {}
    if hourly is None:
        raise DataError(f"{impl.name} reads hourly bars: give the hourly source")
    out = {}
    for d in dates:
        t = pd.Timestamp(d) + pd.Timedelta(days=1)
        try:
            bars = hourly_window(hourly, t, impl.hourly_rows_needed)["close"]
        except DataError:
            continue
        out[pd.Timestamp(d)] = impl.volatility(bars, t)
    return out


def recipe_vector(impl, closes: list[float], horizon_days: int, threshold_ratio: float,
                  vols: dict[pd.Timestamp, float], date: pd.Timestamp) -> list[float] | None:
    """The recipe's vector for a question asked on `date` (None: no hourly volatility that day)."""
    if not impl.hourly_rows_needed:
        return impl.vector(closes, horizon_days, threshold_ratio)
    vol = vols.get(pd.Timestamp(date))
    return None if vol is None else impl.from_volatility(closes, vol, horizon_days, threshold_ratio)


@dataclass(frozen=True)
class FeatureSpec:
    """A recipe with its parameters, as a market spec names it.

    The question is "close on `as_of + horizon_days` above the threshold?", the
    threshold given relative to the `as_of` close (`threshold_ratio`) or as a
    price (`threshold_price`).
    """

    recipe: str
    as_of: pd.Timestamp
    horizon_days: int
    threshold_ratio: float | None = None
    threshold_price: float | None = None
    column: str = "Close"

    @classmethod
    def parse(cls, d: Any, *, column: str = "Close") -> "FeatureSpec":
        if not isinstance(d, dict):
            raise SpecError("features", "must be an object")
        for k in d:
            if k not in ("recipe", "params"):
                raise SpecError(f"features.{k}", "unknown field")
        if d.get("recipe") not in RECIPES:
            raise SpecError("features.recipe", f"unknown recipe {d.get('recipe')!r}; known: {sorted(RECIPES)}")
        p = d.get("params")
        if not isinstance(p, dict):
            raise SpecError("features.params", "must be an object")
        for k in p:
            if k not in ("as_of", "horizon_days", "threshold_ratio", "threshold_price"):
                raise SpecError(f"features.params.{k}", "unknown parameter")
        try:
            as_of = pd.Timestamp(p.get("as_of"))
            if as_of is pd.NaT or as_of != as_of.normalize() or as_of.tzinfo is not None:
                raise ValueError
        except (ValueError, TypeError):
            raise SpecError("features.params.as_of", "must be a date YYYY-MM-DD") from None
        h = p.get("horizon_days")
        if not isinstance(h, int) or isinstance(h, bool) or not 1 <= h <= 365:
            raise SpecError("features.params.horizon_days", "must be an integer in [1, 365]")
        ratio, price = p.get("threshold_ratio"), p.get("threshold_price")
        if (ratio is None) == (price is None):
            raise SpecError("features.params.threshold_ratio", "give exactly one of threshold_ratio, threshold_price")
        if ratio is not None and (not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0.2 <= ratio <= 5):
            raise SpecError("features.params.threshold_ratio", "must be a number in [0.2, 5]")
        if price is not None and (not isinstance(price, (int, float)) or isinstance(price, bool) or not price > 0):
            raise SpecError("features.params.threshold_price", "must be a positive number")
        return cls(d["recipe"], as_of, h, None if ratio is None else float(ratio),
                   None if price is None else float(price), column)

    def to_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {"as_of": self.as_of.strftime("%Y-%m-%d"), "horizon_days": self.horizon_days}
        if self.threshold_ratio is not None:
            params["threshold_ratio"] = self.threshold_ratio
        else:
            params["threshold_price"] = self.threshold_price
        return {"recipe": self.recipe, "params": params}

    @property
    def impl(self) -> TrailingReturns | HourlyVolatility:
        return RECIPES[self.recipe]

    @property
    def reads_hourly(self) -> bool:
        return self.impl.hourly_rows_needed > 0

    @property
    def forecast_time(self) -> pd.Timestamp:
        """When the `as_of` close exists and the round is due: the next midnight (UTC)."""
        return self.as_of + pd.Timedelta(days=1)

    def hourly_window(self, hourly: pd.DataFrame) -> pd.DataFrame:
        """The hourly bars the features read (part of the market's data snapshot)."""
        return hourly_window(hourly, self.forecast_time, self.impl.hourly_rows_needed)

    @property
    def target_date(self) -> pd.Timestamp:
        return self.as_of + pd.Timedelta(days=self.horizon_days)

    def at(self, as_of: pd.Timestamp) -> "FeatureSpec":
        """The same question asked later: same target date, shorter horizon."""
        return replace(self, as_of=as_of, horizon_days=(self.target_date - as_of).days)

    def window(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The exact rows the features read (the market's data snapshot): the last `rows_needed`
        rows up to and including the `as_of` row, which must exist. Rows, not calendar days, so a
        trading-day series (weekends absent) works; the target day is never read from here."""
        _require_daily(frame)
        if frame.empty or self.as_of > frame.index[-1]:
            last = frame.index[-1].date() if not frame.empty else "none"
            raise DataError(f"no row for {self.as_of.date()} yet (last row {last})", retry=True)
        if self.as_of not in frame.index:
            raise DataError(f"no row for {self.as_of.date()}: the data has a gap there")
        upto = frame.loc[: self.as_of]
        n = self.impl.rows_needed
        if len(upto) < n:
            raise DataError(f"{self.recipe} needs {n} rows up to {self.as_of.date()}, data has {len(upto)}")
        return upto.iloc[-n:]

    def threshold(self, as_of_close: float) -> float:
        return self.threshold_price if self.threshold_price is not None else self.threshold_ratio * as_of_close

    def compute(self, frame: pd.DataFrame, hourly: pd.DataFrame | None = None) -> list[float]:
        """The feature vector from the forecast source's daily rows (`frame`) and, for a recipe that
        reads them, the hourly source's bars (`hourly`)."""
        closes = [float(c) for c in self.window(frame)[self.column]]
        ratio = self.threshold(closes[-1]) / closes[-1]
        if not self.reads_hourly:
            return self.impl.vector(closes, self.horizon_days, ratio)
        if hourly is None:
            raise DataError(f"{self.recipe} reads hourly bars: the forecast's hourly_source was not loaded")
        bars = self.hourly_window(hourly)["close"]
        return self.impl.vector(closes, self.horizon_days, ratio, hourly=bars, forecast_time=self.forecast_time)

    def snapshot(self, frame: pd.DataFrame, hourly: pd.DataFrame | None = None) -> bytes:
        """The canonical bytes of every row the features read (the proof's data snapshot): the daily
        window, then, for a recipe that reads them, the hourly bars."""
        out = snapshot_bytes(self.window(frame), self.column)
        if self.reads_hourly:
            if hourly is None:
                raise DataError(f"{self.recipe} reads hourly bars: the forecast's hourly_source was not loaded")
            bars = self.hourly_window(hourly)["close"]
            out += ("Hour,close\n" + "".join(f"{t:%Y-%m-%d %H:%M},{float(v)!r}\n" for t, v in bars.items())).encode()
        return out

    def truth(self, frame: pd.DataFrame) -> bool | None:
        """Did the close on the target date end above the threshold? None if not known yet.
        Both days are looked up exactly: a missing target row is None, never a neighbouring row."""
        _require_daily(frame)
        if self.target_date not in frame.index or self.as_of not in frame.index:
            return None
        return float(frame.loc[self.target_date, self.column]) > self.threshold(float(frame.loc[self.as_of, self.column]))


def _require_daily(frame: pd.DataFrame) -> None:
    """Recipes read daily closes: an hourly frame's 00:00 bar must not pass for a day's close."""
    index = frame.index
    if len(index) and isinstance(index, pd.DatetimeIndex) and not (index == index.normalize()).all():
        first = index[index != index.normalize()][0]
        raise DataError(f"features read daily rows, but the data has an intraday time ({first}); "
                        "load it with interval 1d")


def snapshot_bytes(window: pd.DataFrame, column: str) -> bytes:
    """Canonical serialization of the rows a round used: `Date,<column>` lines, repr floats."""
    lines = [f"Date,{column}"]
    lines += [f"{d.strftime('%Y-%m-%d')},{float(v)!r}" for d, v in window[column].items()]
    return ("\n".join(lines) + "\n").encode()
