"""Evidence: what happened, read from several sources after the event, and the question shapes that
turn it into an outcome.

A market's `observe` block names one observable (a price series) and where to read it: several
independent sources, a bar interval, the day boundary's time zone, a tick size. Its `shape` says which
bars matter and how they decide the outcome:

    above    close of bar `at` above `value`?                        (2 outcomes)
    up_down  close of bar `to` at or above the open of bar `from`?   (2 outcomes)
    range    which of the buckets split by `bounds` holds close `at`   (len(bounds) + 1 outcomes)
    touch    does the high (low) reach `level` in [from, to]?         (2 outcomes; resolves early)
    versus   which of two series gains more from `from` to `to`?     (2 outcomes; a tie is INVALID)

Every validator reads every source itself. A value counts only once it is final: its bar has ended by
the oracle's clock (the chain's time) and the source has published a later bar (a partial last row is
never evidence). The observation is the median of the sources that have it; a source further than
`tolerance` from the median is reported and does not count towards `min_sources`. Too few agreeing
sources: too early, retried, until `deadline`; after it the market is INVALID.

The resolver circuit (`provers.resolvers`) proves the comparison over integer ticks: inputs
[x, c1..cm], outputs x - ci. The circuit's inputs are these ticks, which every validator recomputes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from oracle.bundle import BN254_R
from oracle.eip712 import INVALID_OUTCOME, PPM
from oracle.errors import DataError, SpecError

from .fields import _iso, _parse_time, parse_source
from .rules import NOT_PINNED, Decision, ZkRule

RECIPE = "evidence_compare_v1"
MAX_TICKS = 2**24 - 1  # ezkl reads circuit inputs through f32: integers up to 2^24 are exact
MAX_BOUNDS = 8  # range buckets: at most 9 outcomes
MAX_BARS = 24 * 31  # a touch window: at most 31 days of hourly bars
INTERVALS = {"1d": timedelta(days=1), "1h": timedelta(hours=1)}
DEFAULT_DEADLINE = timedelta(days=7)
SHAPES = ("above", "up_down", "range", "touch", "versus")
NO_BAR = "no bar"  # the source has later bars but not this one


REFUSED = "refused"  # a reading that no retry can produce (the load failed for good)


class EvidenceMissing(DataError):
    """The evidence is not there (yet). `invalid`: past the spec's deadline, the market is INVALID."""

    def __init__(self, message: str, *, invalid: bool = False):
        super().__init__(message, retry=not invalid)
        self.invalid = invalid


# ---------------------------------------------------------------------------------------- parsing
def _obj(d: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(d, dict):
        raise SpecError(where, "must be an object")
    for k in d:
        if k not in allowed:
            raise SpecError(f"{where}.{k}", "unknown field")
    for k in sorted(required):
        if k not in d:
            raise SpecError(f"{where}.{k}", "is required")
    return d


def _number(v: Any, where: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise SpecError(where, "must be a number")
    try:
        d = Decimal(str(v))
    except ArithmeticError:
        raise SpecError(where, f"not a number: {v!r}") from None
    if not d.is_finite():
        raise SpecError(where, "must be finite")
    return d


def _ticks_of(value: Decimal, decimals: int, where: str) -> int:
    scaled = value * (Decimal(10) ** decimals)
    if scaled != scaled.to_integral_value():
        raise SpecError(where, f"{value} has more than observe.decimals={decimals} decimal places")
    if abs(scaled) > MAX_TICKS:
        raise SpecError(where, f"{value} is beyond the resolver's range ±{MAX_TICKS} ticks at "
                        f"{decimals} decimals: use fewer decimals")
    return int(scaled)


def _outcome(d: dict, key: str, outcomes: Sequence[str], where: str) -> str:
    name = d.get(key)
    if name not in outcomes:
        raise SpecError(f"{where}.{key}", f"must name one of the outcomes {list(outcomes)}")
    return name


def parse_sources(d: Any, where: str) -> tuple[dict, ...]:
    if not isinstance(d, list) or not d:
        raise SpecError(where, "must be a non-empty list of sources")
    if len(d) > 16:
        raise SpecError(where, "at most 16 sources")
    out = tuple(parse_source(s, f"{where}[{i}]") for i, s in enumerate(d))
    seen: dict[str, int] = {}
    for i, s in enumerate(out):  # one file read twice (even through other columns) is not a second source
        label = source_label(s)
        if label in seen:
            raise SpecError(f"{where}[{i}]", f"names the same source as {where}[{seen[label]}] ({label}): a "
                            "median needs independent sources")
        seen[label] = i
    return out


@dataclass(frozen=True)
class Observe:
    """Where and how the observable is read."""

    sources: tuple[dict, ...]
    interval: str = "1d"
    timezone: str = "UTC"
    decimals: int = 2
    min_sources: int = 1
    tolerance: float = 0.01
    deadline: datetime | None = None  # None: DEFAULT_DEADLINE after the window ends
    # "continuous" (24/7, e.g. crypto): every bar exists, one missing from every source is missing
    # evidence; "exchange" (trading sessions, e.g. an index): a bar no source has, while all have
    # later ones, is a closed session (a weekend, a holiday) that a touch window steps over
    sessions: str = "continuous"

    FIELDS = {"sources", "interval", "timezone", "decimals", "min_sources", "tolerance", "deadline", "sessions"}
    SESSIONS = ("continuous", "exchange")

    @classmethod
    def parse(cls, d: Any) -> "Observe":
        _obj(d, "observe", cls.FIELDS, {"sources"})
        sources = parse_sources(d["sources"], "observe.sources")
        interval = d.get("interval", "1d")
        if interval not in INTERVALS:
            raise SpecError("observe.interval", f"must be one of {sorted(INTERVALS)}")
        for i, s in enumerate(sources):
            if s.get("interval", "1d") != interval:
                raise SpecError(f"observe.sources[{i}].interval", f"is {s.get('interval', '1d')!r}, the "
                                f"observable's bars are {interval!r}")
        tz = d.get("timezone", "UTC")
        if not isinstance(tz, str):
            raise SpecError("observe.timezone", "must be an IANA time zone name such as UTC or America/New_York")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise SpecError("observe.timezone", f"unknown time zone {tz!r}") from None
        if interval == "1h" and tz != "UTC":
            raise SpecError("observe.timezone", "hourly bars are UTC bars; write `at` in UTC")
        decimals = d.get("decimals", 2)
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 8:
            raise SpecError("observe.decimals", "must be an integer in [0, 8]")
        n = d.get("min_sources", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(sources):
            raise SpecError("observe.min_sources", f"must be an integer in [1, {len(sources)}] (the sources named)")
        tol = d.get("tolerance", 0.01)
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not 0 < tol <= 0.5:
            raise SpecError("observe.tolerance", "must be a number in (0, 0.5]")
        deadline = _parse_time(d["deadline"], "observe.deadline") if "deadline" in d else None
        sessions = d.get("sessions", "continuous")
        if sessions not in cls.SESSIONS:
            raise SpecError("observe.sessions", f"must be one of {list(cls.SESSIONS)}: 'continuous' for a series "
                            "that trades around the clock, 'exchange' for one with closed sessions")
        return cls(sources, interval, tz, decimals, n, float(tol), deadline, sessions)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"sources": [dict(s) for s in self.sources], "interval": self.interval,
                             "timezone": self.timezone, "decimals": self.decimals,
                             "min_sources": self.min_sources, "tolerance": self.tolerance}
        if self.deadline is not None:
            d["deadline"] = _iso(self.deadline)
        if self.sessions != "continuous":
            d["sessions"] = self.sessions
        return d

    # ---------------------------------------------------------------- bars
    def bar(self, text: Any, where: str) -> pd.Timestamp:
        """A bar as the spec names it: a day `YYYY-MM-DD` (in `timezone`) or a UTC hour
        `YYYY-MM-DDTHH:00Z`; returned as the sources' index key (tz-naive)."""
        if not isinstance(text, str):
            raise SpecError(where, "must be a string")
        try:
            if self.interval == "1d":
                t = pd.Timestamp(datetime.strptime(text, "%Y-%m-%d"))
            else:
                t = pd.Timestamp(datetime.strptime(text, "%Y-%m-%dT%H:%MZ"))
        except ValueError:
            form = "YYYY-MM-DD" if self.interval == "1d" else "YYYY-MM-DDTHH:00Z (UTC)"
            raise SpecError(where, f"must be a {self.interval} bar written {form}, got {text!r}") from None
        if self.interval == "1h" and t.minute:
            raise SpecError(where, "an hourly bar starts on the hour")
        return t

    def bar_text(self, bar: pd.Timestamp) -> str:
        return bar.strftime("%Y-%m-%d") if self.interval == "1d" else bar.strftime("%Y-%m-%dT%H:%MZ")

    def bar_open(self, bar: pd.Timestamp) -> datetime:
        """When the bar begins, in UTC (a day begins at 00:00 in the spec's time zone)."""
        if self.interval == "1h":
            return bar.to_pydatetime().replace(tzinfo=timezone.utc)
        local = datetime(bar.year, bar.month, bar.day, tzinfo=ZoneInfo(self.timezone))
        return local.astimezone(timezone.utc)

    def bar_end(self, bar: pd.Timestamp) -> datetime:
        """When the bar is over (its value can exist), in UTC."""
        if self.interval == "1h":
            return self.bar_open(bar) + timedelta(hours=1)
        nxt = bar + pd.Timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(self.timezone)).astimezone(timezone.utc)

    def step(self) -> pd.Timedelta:
        return pd.Timedelta(INTERVALS[self.interval])


# ------------------------------------------------------------------------------------------ shapes
@dataclass(frozen=True)
class Need:
    """One observation: `field` (open/high/low/close) of `bar` in series `series` (0: main, 1: other)."""

    series: int
    bar: pd.Timestamp
    field: str


def _clip(t: int) -> int:
    return max(-MAX_TICKS, min(MAX_TICKS, t))  # clipping keeps the order against in-range constants


def _floor_ticks(value: Decimal | Fraction, decimals: int) -> int:
    """The largest tick at or below `value`: `x >= c` holds exactly when floor(x) >= c, for every
    tick-exact constant c (a median of two readings often falls between ticks)."""
    return _clip(math.floor(Fraction(value) * 10**decimals))


def _ceil_ticks(value: Decimal | Fraction, decimals: int) -> int:
    """The smallest tick at or above `value`: `x > c` holds exactly when ceil(x) > c."""
    return _clip(math.ceil(Fraction(value) * 10**decimals))


def _signed_ticks(value: Fraction) -> int:
    """A difference as whole ticks with its sign kept: 0 only when it is exactly 0."""
    return math.ceil(value) if value > 0 else math.floor(value)


@dataclass(frozen=True)
class Shape:
    """A question shape. Subclasses fill `needs`, `inputs`, `decide`."""

    kind: str
    outcomes: tuple[str, ...]
    params: dict = field(compare=False)

    n_constants = 1  # m: the resolver circuit's comparisons

    def _key(self) -> tuple:
        return (self.kind, self.outcomes, json.dumps(public_params(self), sort_keys=True))

    def __eq__(self, other: object) -> bool:  # the params decide the outcome: they are the shape
        return isinstance(other, Shape) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def resolver_width(self) -> int:
        return self.n_constants

    def first_bar(self) -> pd.Timestamp:
        raise NotImplementedError

    def last_bar(self) -> pd.Timestamp:
        raise NotImplementedError

    def earliest_bar(self) -> pd.Timestamp:
        """The first bar whose end can settle the market (a touch can resolve early)."""
        return self.last_bar()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}

    def decide(self, outputs: Sequence[int]) -> Decision:
        raise NotImplementedError

    def zk_rule(self, outcomes: Sequence[str], decimals: int) -> ZkRule:
        raise SpecError("shape", f"a {self.kind} market has {len(outcomes)} outcomes: only binary shapes "
                        "can be enforced on-chain (requireZk)")

    def _win(self, name: str) -> Decision:
        return Decision(self.outcomes.index(name), name, 1.0)


class _Binary(Shape):
    """outputs[0] = x - c: `yes` when >= `from_q` (strictly above: 1; at or above: 0)."""

    yes_key = "above"
    no_key = "below"
    tie_invalid = False

    def _from_q(self) -> int:
        return 0 if self.params.get("inclusive", False) else 1

    def decide(self, outputs: Sequence[int]) -> Decision:
        q = int(outputs[0])
        if self.tie_invalid and q == 0:
            return Decision(INVALID_OUTCOME, "INVALID", 1.0)
        return self._win(self.params[self.yes_key] if q >= self._from_q() else self.params[self.no_key])

    def zk_rule(self, outcomes: Sequence[str], decimals: int) -> ZkRule:
        yes, no = outcomes.index(self.params[self.yes_key]), outcomes.index(self.params[self.no_key])
        above_from = self._from_q()
        pinned = self.pinned(decimals)
        index, value = pinned if pinned is not None else (NOT_PINNED, 0)
        return ZkRule(0 if self.tie_invalid else above_from, above_from, yes, no, index, value % BN254_R)

    def pinned(self, decimals: int) -> tuple[int, int] | None:
        """(input index, ticks) of the market's own constant among the resolver's inputs, which the
        contract checks against the proof; None where every input is an observation."""
        return None


class Above(_Binary):
    def first_bar(self):
        return self.params["_at"]

    last_bar = first_bar

    def pinned(self, decimals: int) -> tuple[int, int]:
        return 1, _ticks_of(self.params["_value"], decimals, "shape.value")  # inputs [x, value]


class UpDown(_Binary):
    yes_key, no_key = "up", "down"

    def _from_q(self) -> int:
        return 0 if self.params.get("inclusive", True) else 1

    def first_bar(self):
        return self.params["_from"]

    def last_bar(self):
        return self.params["_to"]


class Touch(_Binary):
    yes_key, no_key = "yes", "no"

    def _from_q(self) -> int:
        return 0  # touching the level counts

    def first_bar(self):
        return self.params["_from"]

    def last_bar(self):
        return self.params["_to"]

    def earliest_bar(self):
        return self.params["_from"]

    def pinned(self, decimals: int) -> tuple[int, int]:
        # inputs [extreme, level] going up, [level, extreme] going down (`_touch`)
        return (1 if self.params["direction"] == "up" else 0), _ticks_of(self.params["_level"], decimals, "shape.level")


class Versus(_Binary):
    yes_key, no_key = "a", "b"
    tie_invalid = True

    def first_bar(self):
        return self.params["_from"]

    def last_bar(self):
        return self.params["_to"]


class Range(Shape):
    @property
    def n_constants(self) -> int:  # type: ignore[override]
        return len(self.params["bounds"])

    def first_bar(self):
        return self.params["_at"]

    last_bar = first_bar

    def decide(self, outputs: Sequence[int]) -> Decision:
        ds = [int(q) for q in outputs]
        if any(a < b for a, b in zip(ds, ds[1:])):  # x - b_i must fall as the bounds rise
            return Decision(INVALID_OUTCOME, "INVALID", 0.0)
        i = sum(1 for q in ds if q >= 0)  # bucket i holds [b_i, b_{i+1})
        return self._win(self.outcomes[i])


def parse_shape(d: Any, outcomes: Sequence[str], observe: Observe, *, other: Observe | None = None) -> Shape:
    if not isinstance(d, dict):
        raise SpecError("shape", "must be an object")
    kind = d.get("kind")
    if kind not in SHAPES:
        raise SpecError("shape.kind", f"must be one of {list(SHAPES)}, got {kind!r}")
    outcomes = tuple(outcomes)
    dec = observe.decimals

    def two(yes: str, no: str) -> None:
        if len(outcomes) != 2:
            raise SpecError("outcomes", f"a {kind} market has exactly 2 outcomes")
        if _outcome(d, yes, outcomes, "shape") == _outcome(d, no, outcomes, "shape"):
            raise SpecError(f"shape.{no}", f"must differ from shape.{yes}")

    def interval(key_from: str = "from", key_to: str = "to") -> tuple[pd.Timestamp, pd.Timestamp]:
        a, b = observe.bar(d.get(key_from), f"shape.{key_from}"), observe.bar(d.get(key_to), f"shape.{key_to}")
        if b < a:
            raise SpecError(f"shape.{key_to}", "is before shape.from")
        return a, b

    if kind == "above":
        _obj(d, "shape", {"kind", "at", "value", "above", "below", "inclusive"}, {"at", "value"})
        two("above", "below")
        at = observe.bar(d["at"], "shape.at")
        value = _number(d["value"], "shape.value")
        _ticks_of(value, dec, "shape.value")
        inclusive = d.get("inclusive", False)
        if not isinstance(inclusive, bool):
            raise SpecError("shape.inclusive", "must be true or false")
        params = {"at": d["at"], "value": _plain(value), "above": d["above"], "below": d["below"],
                  "inclusive": inclusive, "_at": at, "_value": value}
        return Above(kind, outcomes, params)
    if kind == "up_down":
        _obj(d, "shape", {"kind", "from", "to", "up", "down", "inclusive"}, {"from", "to"})
        two("up", "down")
        a, b = interval()
        inclusive = d.get("inclusive", True)
        if not isinstance(inclusive, bool):
            raise SpecError("shape.inclusive", "must be true or false")
        return UpDown(kind, outcomes, {"from": d["from"], "to": d["to"], "up": d["up"], "down": d["down"],
                                       "inclusive": inclusive, "_from": a, "_to": b})
    if kind == "range":
        _obj(d, "shape", {"kind", "at", "bounds"}, {"at", "bounds"})
        at = observe.bar(d["at"], "shape.at")
        bounds = d["bounds"]
        if not isinstance(bounds, list) or not 1 <= len(bounds) <= MAX_BOUNDS:
            raise SpecError("shape.bounds", f"must be a list of 1..{MAX_BOUNDS} numbers")
        values = [_number(b, f"shape.bounds[{i}]") for i, b in enumerate(bounds)]
        for i, v in enumerate(values):
            _ticks_of(v, dec, f"shape.bounds[{i}]")
        if any(a >= b for a, b in zip(values, values[1:])):
            raise SpecError("shape.bounds", "must be strictly increasing")
        if len(outcomes) != len(values) + 1:
            raise SpecError("outcomes", f"{len(values)} bounds make {len(values) + 1} buckets, the spec names "
                            f"{len(outcomes)} outcomes")
        return Range(kind, outcomes, {"at": d["at"], "bounds": [_plain(v) for v in values], "_at": at,
                                      "_bounds": values})
    if kind == "touch":
        _obj(d, "shape", {"kind", "from", "to", "level", "direction", "yes", "no"}, {"from", "to", "level"})
        two("yes", "no")
        a, b = interval()
        if int((b - a) / observe.step()) + 1 > MAX_BARS:
            raise SpecError("shape.to", f"a touch window spans at most {MAX_BARS} bars")
        level = _number(d["level"], "shape.level")
        _ticks_of(level, dec, "shape.level")
        direction = d.get("direction", "up")
        if direction not in ("up", "down"):
            raise SpecError("shape.direction", "must be 'up' (high reaches the level) or 'down' (low reaches it)")
        return Touch(kind, outcomes, {"from": d["from"], "to": d["to"], "level": _plain(level),
                                      "direction": direction, "yes": d["yes"], "no": d["no"], "_from": a, "_to": b,
                                      "_level": level})
    # versus
    _obj(d, "shape", {"kind", "from", "to", "a", "b", "other"}, {"from", "to", "other"})
    two("a", "b")
    a, b = interval()
    if other is None:
        raise SpecError("shape.other", "a versus market names the other series: {sources, timezone}")
    return Versus(kind, outcomes, {"from": d["from"], "to": d["to"], "a": d["a"], "b": d["b"],
                                   "other": {"sources": [dict(x) for x in other.sources], "timezone": other.timezone,
                                             **({"sessions": other.sessions} if other.sessions != "continuous"
                                                else {})},
                                   "_from": a, "_to": b})


def _plain(v: Decimal) -> int | float:
    """A spec number in canonical JSON form: an int when integral, else the float."""
    return int(v) if v == v.to_integral_value() else float(v)


def public_params(shape: Shape) -> dict[str, Any]:
    return {k: v for k, v in shape.params.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------- gathering
@dataclass
class Observation:
    """One needed value: each source's reading, the median and who deviated."""

    need: Need
    readings: dict[str, Decimal | str]  # source label -> value, or why it has none
    median: Decimal
    deviants: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"series": self.need.series, "bar": str(self.need.bar), "field": self.need.field,
                "median": str(self.median), "deviants": self.deviants,
                "readings": {k: str(v) for k, v in self.readings.items()}}


@dataclass
class Evidence:
    """What a resolver proves over: integer ticks, plus the observations behind them."""

    inputs: list[int]
    observations: list[Observation]
    bars: tuple[str, ...]

    @property
    def features(self) -> list[float]:
        return [float(x) for x in self.inputs]

    @property
    def outputs(self) -> list[int]:
        """What the resolver circuit computes from these inputs: x - c_i (the shape decides on them)."""
        return [self.inputs[0] - c for c in self.inputs[1:]]

    def snapshot(self) -> bytes:
        """What the proof's inputs were computed from, canonical: the bars and combined medians.
        Every validator that agrees on the medians has the same bytes (per-source readings may
        differ between validators and are reported, not hashed)."""
        doc = {"recipe": RECIPE, "bars": list(self.bars), "inputs": self.inputs,
               "medians": [[o.need.series, str(o.need.bar), o.need.field, str(o.median)] for o in self.observations]}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @property
    def deviants(self) -> list[dict[str, Any]]:
        return [{"bar": str(o.need.bar), "field": o.need.field, "source": s, "value": str(o.readings[s]),
                 "median": str(o.median)} for o in self.observations for s in o.deviants]


def source_label(source: dict) -> str:
    return source.get("uri") or source.get("address") or json.dumps(source, sort_keys=True)


def median(values: Sequence[Decimal]) -> Decimal:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class Reader:
    """Reads needed values from every source of a series, once per source per instance."""

    def __init__(self, observes: Sequence[Observe], load: Callable[[dict], pd.DataFrame], now: datetime,
                 deadline: datetime):
        self.observes, self.load, self.now, self.deadline = observes, load, now, deadline
        self._frames: dict[str, pd.DataFrame | str] = {}

    def frame(self, source: dict) -> pd.DataFrame | str:
        key = json.dumps(source, sort_keys=True)
        if key not in self._frames:
            try:
                self._frames[key] = self.load(source)
            except DataError as e:  # a source that is down or malformed is one missing reading, reported
                self._frames[key] = f"{REFUSED if not e.retry else 'unavailable'}: {e}"
        return self._frames[key]

    def read(self, need: Need, *, closed_ok: bool = False) -> Observation | None:
        """The observation for `need`. With `closed_ok`, None when every source has published later
        bars but none this one (the market was closed)."""
        ob = self.observes[need.series]
        end = ob.bar_end(need.bar)
        if self.now < end:
            raise EvidenceMissing(f"too early: bar {ob.bar_text(need.bar)} ends {end:%Y-%m-%dT%H:%M:%SZ}, "
                                  f"now {self.now:%Y-%m-%dT%H:%M:%SZ}")
        readings: dict[str, Decimal | str] = {}
        for source in ob.sources:
            label = source_label(source)
            f = self.frame(source)
            if isinstance(f, str):
                readings[label] = f
                continue
            column = need.field if need.field != "close" else "close"
            if column not in f.columns:
                readings[label] = f"source has no {need.field} column"
            elif need.bar not in f.index:
                readings[label] = NO_BAR if (len(f) and f.index[-1] > need.bar) else "not published yet"
            elif f.index[-1] <= need.bar:
                readings[label] = "last bar (may be partial): not final until the next bar is published"
            else:
                v = float(f.at[need.bar, column])
                # a reading is a price in ticks: 12925.379883 (a float32 artefact) is 12925.38
                readings[label] = (Decimal(repr(v)).quantize(Decimal(1).scaleb(-ob.decimals), ROUND_HALF_EVEN)
                                   if math.isfinite(v) and v > 0 else f"bad value {v!r}")
        values = {k: v for k, v in readings.items() if isinstance(v, Decimal)}
        if closed_ok and all(v == NO_BAR for v in readings.values()):
            return None
        if not values and all(str(v).startswith(REFUSED) for v in readings.values()):
            # nothing a retry can fix (a source outside the allow-policy, a malformed file): say so
            raise DataError(f"no source of bar {ob.bar_text(need.bar)} can be read: "
                            + "; ".join(f"{k}: {v}" for k, v in readings.items()))
        if not values:
            raise self._missing(need, "no source has it", readings)
        mid = median(list(values.values()))
        tol = Decimal(repr(ob.tolerance))
        deviants = sorted(k for k, v in values.items() if abs(v - mid) > tol * mid)
        agreeing = len(values) - len(deviants)
        if agreeing < ob.min_sources:
            raise self._missing(need, f"{agreeing} agreeing source(s), the spec needs {ob.min_sources}", readings)
        return Observation(need, readings, mid, deviants)

    def _missing(self, need: Need, why: str, readings: dict) -> EvidenceMissing:
        detail = "; ".join(f"{k}: {v}" for k, v in readings.items())
        past = self.now >= self.deadline
        what = "INVALID: deadline passed" if past else "too early"
        return EvidenceMissing(f"{what} for {need.field} of bar {self.observes[need.series].bar_text(need.bar)}: "
                               f"{why} ({detail})",
                               invalid=past)


def gather(spec, load: Callable[[dict], pd.DataFrame], now: datetime) -> Evidence:
    """The evidence for `spec`'s resolution as of `now` (the oracle's clock: the chain's time): the
    median of the sources (`_gather_median`), held to one more rule: at least `min_sources` sources,
    each read alone, must give the outcome the median gives. A source that is wrong within the
    tolerance (stale on a quiet market) can move a median across a line that the honest sources,
    each on its own, agree it did not cross; then there is no vote (too early; INVALID past the
    deadline), never a flipped outcome. (A versus market compares two series: its median stands.)

    Raises EvidenceMissing: too early (retry) or, past the deadline, INVALID."""
    evidence = _gather_median(spec, load, now)
    if spec.other is not None or len(spec.observe.sources) == 1:
        return evidence
    outcome = spec.shape.decide(evidence.outputs).outcome
    alone = {}
    for source in spec.observe.sources:
        single = replace(spec, observe=replace(spec.observe, sources=(source,), min_sources=1))
        try:
            alone[source_label(source)] = spec.shape.decide(_gather_median(single, load, now).outputs).outcome
        except DataError:  # this source cannot say (yet): it does not support any outcome
            alone[source_label(source)] = None
    support = sum(1 for o in alone.values() if o == outcome)
    if support < spec.observe.min_sources:
        past = now >= spec.deadline
        names = {None: "no answer", INVALID_OUTCOME: "INVALID"}
        detail = "; ".join(f"{k}: {names.get(o, spec.outcomes[o] if o is not None else '')}" for k, o in alone.items())
        raise EvidenceMissing(f"{'INVALID: deadline passed' if past else 'too early'}: the median gives "
                              f"{spec.outcomes[outcome] if outcome != INVALID_OUTCOME else 'INVALID'}, which only "
                              f"{support} source(s) read alone give, the spec needs {spec.observe.min_sources} "
                              f"({detail})", invalid=past)
    return evidence


def _gather_median(spec, load: Callable[[dict], pd.DataFrame], now: datetime) -> Evidence:
    """The evidence for `spec`'s resolution as of `now` (the oracle's clock: the chain's time).

    Each input is a whole number of ticks, rounded so that the circuit's integer comparison gives
    what the exact median gives against the spec's tick-exact constants (`x > c` rounds x up,
    `x >= c` rounds it down; a difference keeps its sign and is 0 only when exactly 0).

    Raises EvidenceMissing: too early (retry) or, past the deadline, INVALID."""
    ob: Observe = spec.observe
    shape: Shape = spec.shape
    reader = Reader([ob] + ([spec.other] if spec.other is not None else []), load, now, spec.deadline)
    dec = ob.decimals
    p = shape.params
    if isinstance(shape, Above):
        o = reader.read(Need(0, p["_at"], "close"))
        x = (_ceil_ticks if shape._from_q() else _floor_ticks)(o.median, dec)
        return Evidence([x, _ticks_of(p["_value"], dec, "shape.value")], [o], (ob.bar_text(p["_at"]),))
    if isinstance(shape, Range):
        o = reader.read(Need(0, p["_at"], "close"))  # bucket i: x >= b_i and not x >= b_{i+1}
        return Evidence([_floor_ticks(o.median, dec)] + [_ticks_of(b, dec, "shape.bounds") for b in p["_bounds"]],
                        [o], (ob.bar_text(p["_at"]),))
    if isinstance(shape, UpDown):
        start, end = reader.read(Need(0, p["_from"], "open")), reader.read(Need(0, p["_to"], "close"))
        diff = (Fraction(end.median) - Fraction(start.median)) * 10**dec
        opened = _clip(round(Fraction(start.median) * 10**dec))
        moved = math.floor(diff) if shape._from_q() == 0 else math.ceil(diff)  # >= 0, or > 0: exact
        return Evidence([_clip(opened + moved), opened], [start, end],
                        (ob.bar_text(p["_from"]), ob.bar_text(p["_to"])))
    if isinstance(shape, Versus):
        obs, gains = [], []
        for s in (0, 1):
            start, end = reader.read(Need(s, p["_from"], "open")), reader.read(Need(s, p["_to"], "close"))
            obs += [start, end]
            gains.append((Fraction(end.median) / Fraction(start.median) - 1) * PPM)  # exact gain in ppm
        b = round(gains[1])
        return Evidence([b + _signed_ticks(gains[0] - gains[1]), b], obs,
                        (ob.bar_text(p["_from"]), ob.bar_text(p["_to"])))
    return _touch(spec, reader, now)


def _touch(spec, reader: Reader, now: datetime) -> Evidence:
    """Bars in order up to the first one that reaches the level (so every reader agrees whenever it
    reads), or the whole window. For an exchange-traded series (`sessions: exchange`), a bar that
    every source has passed over without a row (a weekend, a holiday) is a closed session; for a
    continuous one it is missing evidence."""
    ob: Observe = spec.observe
    p = spec.shape.params
    dec = ob.decimals
    up = p["direction"] == "up"
    level = _ticks_of(p["_level"], dec, "shape.level")
    extreme: int | None = None
    obs: list[Observation] = []
    bar = p["_from"]
    while bar <= p["_to"]:
        if now < ob.bar_end(bar):
            seen = f"by {ob.bar_text(obs[-1].need.bar)}" if obs else "yet"
            raise EvidenceMissing(f"too early: the level {p['level']} has not been reached {seen}, and bar "
                                  f"{ob.bar_text(bar)} is not over")
        o = reader.read(Need(0, bar, "high" if up else "low"), closed_ok=ob.sessions == "exchange")
        if o is not None:
            obs.append(o)
            t = _floor_ticks(o.median, dec) if up else _ceil_ticks(o.median, dec)  # reaches: exact
            extreme = t if extreme is None else (max(extreme, t) if up else min(extreme, t))
            if (extreme >= level) if up else (extreme <= level):
                break
        bar = bar + ob.step()
    if extreme is None:
        past = now >= reader.deadline
        raise EvidenceMissing(f"{'INVALID: deadline passed' if past else 'too early'}: no source has a bar in "
                              f"{p['from']} .. {p['to']}", invalid=past)
    inputs = [extreme, level] if up else [level, extreme]
    return Evidence(inputs, obs, (ob.bar_text(p["_from"]), ob.bar_text(obs[-1].need.bar)))
