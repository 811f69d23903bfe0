"""Price questions as people write them on prediction platforms, read into what the oracle observes.

A question names an asset, a shape and a time:

    above    "Will the price of Bitcoin be above $84,000 on March 14?"      (price at a time vs a level)
    bucket   "Will the price of Bitcoin be between $82,000 and $84,000 on March 14?"  (one bucket of a range)
    up_down  "Bitcoin Up or Down - March 14, 12PM ET"                        (close vs open over a window)
    touch    "Will Bitcoin reach $100,000 in March?"                         (high/low reaches a level)
    versus   "Will Bitcoin outperform the Nasdaq-100 in 2025?"               (which gains more)

and a time as people write it: "on March 14" (no year: taken from the market's end date),
"March 14, 12PM ET", "on Dec 31, 2025", "in March", "in 2025", "by end of 2026", "May 25-31".
`read_question` returns a `Question` or, when the text is not one of these or names an asset the node
has no source for, an `Unmapped` with the reason. `markets.sources` turns a Question into a spec.

Which assets exist is the node's configuration: an `Asset` table (names people use, trading calendar,
the node's sources per bar interval), built from named sources with `node_assets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

ET = "America/New_York"
_TZ_WORDS = {"et": ET, "est": ET, "edt": ET, "utc": "UTC", "gmt": "UTC", "ct": "America/Chicago",
             "pt": "America/Los_Angeles"}


# ------------------------------------------------------------------------------------------ assets
@dataclass(frozen=True)
class Series:
    """The node's sources for one bar interval of an asset. `timezone`: where a daily bar's day begins."""

    interval: str
    sources: tuple[dict, ...]
    timezone: str = "UTC"

    @property
    def min_sources(self) -> int:
        return min(2, len(self.sources))


@dataclass(frozen=True)
class Asset:
    """An observable the node has sources for. `names`: how questions write it (lowercase);
    `calendar`: "24/7" or "NYSE" (daily bars exist on trading days only)."""

    symbol: str
    label: str
    names: tuple[str, ...]
    series: Mapping[str, Series]
    calendar: str = "24/7"
    decimals: int = 2  # tick 10^-decimals; prices x 10^decimals must stay within the resolver's 2^24

    def has(self, interval: str) -> bool:
        return interval in self.series


@dataclass(frozen=True)
class Profile:
    label: str
    names: tuple[str, ...]
    calendar: str = "24/7"
    timezone: str = "UTC"  # daily bars' day boundary at the usual vendors
    decimals: int = 2


# How questions name assets. Those in a node's table map; the others are recognised so that the
# skip reason says "no source for Ethereum" rather than "not a price question".
PROFILES: dict[str, Profile] = {
    "BTC": Profile("Bitcoin", ("bitcoin", "btc", "btc/usd", "btc-usd", "btcusd", "btc/usdt"), decimals=1),
    "NDX": Profile("NASDAQ-100", ("nasdaq-100", "nasdaq 100", "nasdaq100", "ndx", "nasdaq 100 index",
                                  "nasdaq-100 index", "nq"), calendar="NYSE", timezone=ET),
    "ETH": Profile("Ethereum", ("ethereum", "eth", "ether")),
    "SOL": Profile("Solana", ("solana", "sol")),
    "XRP": Profile("XRP", ("xrp", "ripple")),
    "DOGE": Profile("Dogecoin", ("dogecoin", "doge")),
    "SPX": Profile("S&P 500", ("s&p 500", "s&p500", "s&p", "spx", "spy", "sp500"), calendar="NYSE", timezone=ET),
    "DJI": Profile("Dow Jones", ("dow jones", "dow", "djia"), calendar="NYSE", timezone=ET),
    "COMP": Profile("NASDAQ Composite", ("nasdaq composite", "nasdaq"), calendar="NYSE", timezone=ET),
    "GOLD": Profile("Gold", ("gold", "xau", "xauusd")),
    "OIL": Profile("Crude oil", ("oil", "crude oil", "wti", "brent")),
}


def node_assets(sources: Mapping[str, dict], table: Mapping[str, Sequence[str]],
                profiles: Mapping[str, Profile] = PROFILES) -> dict[str, Asset]:
    """The node's asset table from its named sources: {"BTC": ["btc-yahoo", "btc-bitstamp-1h", ...]}.
    A source's `interval` (default 1d) says which series it belongs to."""
    out: dict[str, Asset] = {}
    for symbol, names in table.items():
        p = profiles[symbol]
        by_interval: dict[str, list[dict]] = {}
        for n in names:
            s = sources[n]
            by_interval.setdefault(s.get("interval", "1d"), []).append(dict(s))
        series = {iv: Series(iv, tuple(ss), p.timezone if iv == "1d" else "UTC") for iv, ss in by_interval.items()}
        out[symbol] = Asset(symbol, p.label, p.names, series, p.calendar, p.decimals)
    return out


def default_assets() -> dict[str, Asset]:
    """This repository's bundled sources (markets/demo.py SOURCES): BTC daily x4 + hourly, NASDAQ-100 x2."""
    from .demo import BTC_2019, NDX, SOURCES

    return node_assets(SOURCES, {"BTC": (*BTC_2019, "btc-bitstamp-1h"), "NDX": NDX})


def _asset_pattern(names: Sequence[str]) -> re.Pattern:
    alts = sorted({re.escape(n) for n in names}, key=len, reverse=True)
    return re.compile(r"(?<![\w&])(?:" + "|".join(alts) + r")(?![\w&])", re.IGNORECASE)


class AssetBook:
    """Finds the asset a phrase names: the node's (mapped) or a recognised one without sources."""

    def __init__(self, assets: Mapping[str, Asset], profiles: Mapping[str, Profile] = PROFILES):
        self.assets = dict(assets)
        self._known = [(a.symbol, _asset_pattern(a.names)) for a in self.assets.values()]
        self._other = [(p.label, _asset_pattern(p.names)) for s, p in profiles.items() if s not in self.assets]

    def find(self, phrase: str) -> "Asset | Unmapped":
        phrase = phrase.strip()
        hits = [(m.start(), -len(m.group(0)), sym) for sym, pat in self._known if (m := pat.search(phrase))]
        if hits:
            return self.assets[min(hits)[2]]
        others = [(m.start(), -len(m.group(0)), label) for label, pat in self._other if (m := pat.search(phrase))]
        if others:
            return Unmapped(f"no source for {min(others)[2]} (this node reads "
                            f"{', '.join(a.label for a in self.assets.values())})")
        return Unmapped(f"{phrase!r} is not an asset this node knows "
                        f"({', '.join(a.label for a in self.assets.values())})")


# ------------------------------------------------------------------------------------ calendars
def _nth_weekday(y: int, m: int, weekday: int, n: int) -> date:
    d = date(y, m, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    if n > 0:
        return d + timedelta(weeks=n - 1)
    last = date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(y: int) -> date:  # anonymous Gregorian algorithm
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    return date(y, month, (h + l_ - 7 * m + 114) % 31 + 1)


def _observed(d: date) -> date:
    return d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=1) if d.weekday() == 6 else d


_NYSE_SPECIAL_CLOSURES = {date(2018, 12, 5), date(2025, 1, 9)}  # days of mourning (Bush, Carter)


def nyse_holidays(y: int) -> set[date]:
    days = {_nth_weekday(y, 1, 0, 3), _nth_weekday(y, 2, 0, 3), _easter(y) - timedelta(days=2),
            _nth_weekday(y, 5, 0, -1), _observed(date(y, 7, 4)), _nth_weekday(y, 9, 0, 1),
            _nth_weekday(y, 11, 3, 4), _observed(date(y, 12, 25))}
    if date(y, 1, 1).weekday() != 5:  # New Year on a Saturday is not observed on the Friday before
        days.add(_observed(date(y, 1, 1)))
    if y >= 2022:
        days.add(_observed(date(y, 6, 19)))
    return days | {d for d in _NYSE_SPECIAL_CLOSURES if d.year == y}


def trading_day(asset: Asset, d: date) -> bool:
    if asset.calendar == "24/7":
        return True
    return d.weekday() < 5 and d not in nyse_holidays(d.year)


# ----------------------------------------------------------------------------------- questions
@dataclass(frozen=True)
class Unmapped:
    reason: str


@dataclass(frozen=True)
class Instant:
    """The price at a moment (an aware datetime), or `day`'s daily close in the asset's bars."""

    at: datetime | None = None
    day: date | None = None

    def text(self) -> str:
        return f"{self.day} daily close" if self.day else self.at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Window:
    """A period: whole days [first, last] in `tz` (bar days), or [start, end) instants."""

    first: date | None = None
    last: date | None = None
    tz: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        if self.start is not None:
            return self.start, self.end
        z = ZoneInfo(self.tz)
        return (datetime.combine(self.first, time(), z),
                datetime.combine(self.last + timedelta(days=1), time(), z))


@dataclass(frozen=True)
class Question:
    """A platform question read: `kind` with its fields (see module doc)."""

    kind: str
    asset: Asset
    at: Instant | None = None
    window: Window | None = None
    value: float | None = None  # above: the level; touch: the level
    yes_above: bool = True  # above: YES when the price is above (False: YES when below)
    inclusive: bool = False  # above: "at or above" (or, asked as below, "not below")
    lo: float | None = None  # bucket: [lo, hi), None = open
    hi: float | None = None
    direction: str = "up"  # touch
    other: Asset | None = None  # versus: the second series
    note: str = ""  # how the platform's wording was read (goes into the spec's description)
    extra: dict = field(default_factory=dict, compare=False)


# ---------------------------------------------------------------------------------- text pieces
_MONTHS = {m: i + 1 for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                           "august", "september", "october", "november", "december"))}
_MON = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_NUM = r"\$?\s*(\d[\d,]*(?:\.\d+)?)\s*([km])?\b"
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:in\s+the\s+)?(et|est|edt|utc|gmt|ct|pt)\b(?:\s+timezone)?"
_CLOCK_ANY = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:(?:in\s+the\s+)?(et|est|edt|utc|gmt|ct|pt)\b(?:\s+timezone)?)?"


def _month(text: str) -> int:
    t = text.lower().rstrip(".")
    for name, i in _MONTHS.items():
        if name.startswith(t[:3]):
            return i
    raise ValueError(text)


def _amount(num: str, suffix: str | None) -> float:
    v = float(num.replace(",", ""))
    return v * {"k": 1e3, "m": 1e6}.get((suffix or "").lower(), 1)


def _year_near(month: int, day: int, ref: datetime | None) -> int | None:
    """A date written without a year: the year that puts it nearest the market's end date."""
    if ref is None:
        return None
    best = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        gap = abs((d - ref.date()).days)
        if best is None or gap < best[0]:
            best = (gap, y)
    return best[1] if best else None


def _clock(m: re.Match, zone: str | None = None) -> tuple[int, int, str]:
    """(hour, minute, IANA zone) of a clock time; `zone` when the text names none ('12PM-4PM ET')."""
    h, mi, ampm = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
    tz = (m.group(4) or "").lower()
    if not tz and zone is None:
        raise ValueError(f"the time {m.group(0).strip()!r} names no time zone")
    if ampm == "pm" and h != 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    if not (0 <= h <= 23 and 0 <= mi <= 59):
        raise ValueError(f"no such time {m.group(0)!r}")
    return h, mi, _TZ_WORDS[tz] if tz else zone


@dataclass(frozen=True)
class When:
    """A time expression: kind "day" (a date, maybe with a clock time), "window" or "by"."""

    kind: str
    day: date | None = None
    clock: tuple[int, int, str] | None = None
    clock_end: tuple[int, int, str] | None = None
    first: date | None = None
    last: date | None = None


_DAY_RE = re.compile(rf"^(?:on\s+|at\s+|for\s+)?(?:the\s+)?(?P<mon>{_MON})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?"
                     rf"(?:,?\s+(?P<year>\d{{4}}))?(?:\s*,?\s*(?:at\s+)?(?P<clock>{_CLOCK_ANY}))?"
                     rf"(?:\s*-\s*(?P<clock2>{_CLOCK}))?(?:\s*\(.*\))?$", re.IGNORECASE)
_ISO_RE = re.compile(r"^(?:on\s+)?(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")
_MONTH_WIN_RE = re.compile(rf"^(?:in|during)\s+(?P<mon>{_MON})\.?(?:\s+(?P<year>\d{{4}}))?$", re.IGNORECASE)
_YEAR_WIN_RE = re.compile(r"^(?:in|during)\s+(?P<year>\d{4})$")
_RANGE_WIN_RE = re.compile(rf"^(?:from\s+|between\s+|in\s+|during\s+)?(?P<mon>{_MON})\.?\s+(?P<d1>\d{{1,2}})\s*(?:-|–|to|and)\s*"
                           rf"(?:(?P<mon2>{_MON})\.?\s+)?(?P<d2>\d{{1,2}})(?:,?\s+(?P<year>\d{{4}}))?$", re.IGNORECASE)
_END_OF_RE = re.compile(r"^(?P<by>by|before|at|on)?\s*(?:the\s+)?end\s+of\s+(?:(?P<year>\d{4})|(?P<mon>" + _MON +
                        r")\.?(?:\s+(?P<year2>\d{4}))?)$", re.IGNORECASE)
_BY_RE = re.compile(r"^(?:by|before)\s+(?P<rest>.+)$", re.IGNORECASE)


def read_when(text: str, ref: datetime | None) -> When | Unmapped:
    """'on March 14', 'March 14, 12PM ET', 'in March', 'in 2025', 'May 25-31', 'by end of 2026', ..."""
    t = re.sub(r"\s+", " ", text.strip().rstrip("?.!").strip())
    if not t:
        return Unmapped("the question gives no date")
    if m := _END_OF_RE.match(t):
        y = m.group("year") or m.group("year2")
        if m.group("mon"):
            mon = _month(m.group("mon"))
            y = int(y) if y else _year_near(mon, 1, ref)
            if y is None:
                return Unmapped(f"{text!r} gives no year and the market no end date")
            last = date(y + (mon == 12), mon % 12 + 1, 1) - timedelta(days=1)
        else:
            last = date(int(y), 12, 31)
        return When("by" if (m.group("by") or "").lower() in ("by", "before") else "day", day=last)
    if m := _BY_RE.match(t):
        inner = read_when("on " + m.group("rest"), ref)
        if isinstance(inner, When) and inner.kind == "day" and inner.clock is None:
            day = inner.day - timedelta(days=1) if m.group(0).lower().startswith("before") else inner.day
            return When("by", day=day)
        if (y := re.fullmatch(r"(?:by|before)\s+(\d{4})", t, re.IGNORECASE)):
            return When("by", day=date(int(y.group(1)) - 1, 12, 31))
        return Unmapped(f"cannot read the date in {text!r}")
    if m := _ISO_RE.match(t):
        return When("day", day=date(int(m.group("y")), int(m.group("m")), int(m.group("d"))))
    if m := re.match(rf"^(?:on\s+)?(?P<mon>{_MON})\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<h>\d{{1,2}}):(?P<m1>\d{{2}})\s*(?P<ap>am|pm)"
                     rf"\s*-\s*\d{{1,2}}:\d{{2}}\s*(?:am|pm)\s*(?:et|utc)$", t, re.IGNORECASE):
        return Unmapped("a window of minutes: the node's finest bars are 1 hour")
    if m := _DAY_RE.match(t):
        mon, d = _month(m.group("mon")), int(m.group("day"))
        y = int(m.group("year")) if m.group("year") else _year_near(mon, d, ref)
        if y is None:
            return Unmapped(f"{text!r} gives no year and the market no end date")
        try:
            day = date(y, mon, d)
            c2 = _clock(re.match(_CLOCK, m.group("clock2"), re.IGNORECASE)) if m.group("clock2") else None
            c1 = (_clock(re.match(_CLOCK_ANY, m.group("clock"), re.IGNORECASE), c2[2] if c2 else None)
                  if m.group("clock") else None)
        except ValueError as e:
            return Unmapped(f"cannot read the date in {text!r}: {e}")
        return When("day", day=day, clock=c1, clock_end=c2)
    if m := _MONTH_WIN_RE.match(t):
        mon = _month(m.group("mon"))
        y = int(m.group("year")) if m.group("year") else _year_near(mon, 15, ref)
        if y is None:
            return Unmapped(f"{text!r} gives no year and the market no end date")
        return When("window", first=date(y, mon, 1),
                    last=date(y + (mon == 12), mon % 12 + 1, 1) - timedelta(days=1))
    if m := _YEAR_WIN_RE.match(t):
        y = int(m.group("year"))
        return When("window", first=date(y, 1, 1), last=date(y, 12, 31))
    if m := _RANGE_WIN_RE.match(t):
        mon = _month(m.group("mon"))
        mon2 = _month(m.group("mon2")) if m.group("mon2") else mon
        y = int(m.group("year")) if m.group("year") else _year_near(mon, int(m.group("d1")), ref)
        if y is None:
            return Unmapped(f"{text!r} gives no year and the market no end date")
        try:
            first = date(y, mon, int(m.group("d1")))
            last = date(y + (mon2 < mon), mon2, int(m.group("d2")))
        except ValueError as e:
            return Unmapped(f"cannot read the dates in {text!r}: {e}")
        if last < first:
            return Unmapped(f"{text!r} ends before it begins")
        return When("window", first=first, last=last)
    return Unmapped(f"cannot read the date in {text!r}")


def rule_clock(description: str) -> tuple[int, int, str] | None:
    """The time of day a platform's rules name ('the Binance 1 minute candle for BTC/USDT 12:00 in the
    ET timezone (noon)'), or None."""
    m = re.search(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\s*(?:in\s+the\s+)?(et|est|edt|utc|gmt)\b", description or "",
                  re.IGNORECASE)
    return _clock(m) if m else None


def rule_timezone(description: str) -> str | None:
    """The time zone a platform's rules name for its dates ('... in the ET timezone'), or None."""
    m = re.search(r"\b(et|utc|gmt)\s+timezone\b|\b\d{1,2}:\d{2}\s*(?:am|pm)?\s*(et|utc|gmt)\b", description or "",
                  re.IGNORECASE)
    return _TZ_WORDS[(m.group(1) or m.group(2)).lower()] if m else None


# ------------------------------------------------------------------------------------- patterns
_ABOVE_WORDS = {"above": (True, False), "over": (True, False), "higher than": (True, False),
                "greater than": (True, False), "more than": (True, False), "at or above": (True, True),
                "at least": (True, True), "below": (False, False), "under": (False, False),
                "lower than": (False, False), "less than": (False, False), "at or below": (False, True)}
_CMP = "|".join(sorted((re.escape(w) for w in _ABOVE_WORDS), key=len, reverse=True))
_SUBJ = r"(?:will\s+)?(?:the\s+)?(?:price\s+of\s+|closing\s+price\s+of\s+)?(?P<asset>.+?)(?:'s\s+price|\s+price)?"
_ABOVE_RE = re.compile(rf"^{_SUBJ}\s+(?:close|be|trade|finish|end|settle|stay)(?:\s+the\s+(?:day|year|month|week))?"
                       rf"\s+(?P<cmp>{_CMP})\s+{_NUM}\s*(?P<when>.*)$", re.IGNORECASE)
_ABOVE_SHORT_RE = re.compile(rf"^(?P<asset>.+?)\s+(?P<cmp>above|below)\s+{_NUM}\s*(?P<when>.*)$", re.IGNORECASE)
_BETWEEN_RE = re.compile(rf"^{_SUBJ}\s+(?:close|be|trade|finish|end|settle)\s+between\s+{_NUM}\s+and\s+"
                         rf"\$?\s*(\d[\d,]*(?:\.\d+)?)\s*([km])?\b\s*(?P<when>.*)$", re.IGNORECASE)
_UPDOWN_RE = re.compile(r"^(?P<asset>.+?)\s+up\s+or\s+down\b\s*(?:-|–|—|:)?\s*(?P<when>.*)$", re.IGNORECASE)
_TOUCH_UP = ("reach", "hit", "rise to", "climb to", "go above", "break", "exceed", "surpass", "top", "touch",
             "cross", "pass")
_TOUCH_DOWN = ("dip to", "dip below", "fall to", "fall below", "drop to", "drop below", "sink to", "sink below",
               "crash to", "go below")
_TOUCH_RE = re.compile(r"^(?:will\s+)?(?:the\s+price\s+of\s+)?(?P<asset>.+?)\s+(?P<verb>"
                       + "|".join(sorted((re.escape(v) for v in _TOUCH_UP + _TOUCH_DOWN), key=len, reverse=True))
                       + rf")\s+{_NUM}\s*(?P<when>.*)$", re.IGNORECASE)
_VERSUS_RE = re.compile(r"^(?:will\s+)?(?P<a>.+?)\s+(?P<verb>outperform|beat|gain\s+more\s+than|do\s+better\s+than|"
                        r"close\s+higher\s+than|rise\s+more\s+than)\s+(?P<b>.+?)\s*(?P<when>(?:in|during|by|from|"
                        r"between|on|over)\b.*)?$", re.IGNORECASE)


def _clean(text: str) -> str:
    t = (text or "").replace("\u2019", "'").replace("\u00a0", " ").replace("___", "").strip()
    return re.sub(r"\s+", " ", t)


def read_question(text: str, book: AssetBook, *, ref: datetime | None, description: str = "",
                  rule_tz: str | None = None) -> Question | Unmapped:
    """Read one question. `ref`: the market's end (gives the year of "on March 14"); `description`: the
    platform's rules, which may name the time of day and the time zone; `rule_tz`: the platform's
    default zone for windows ("in March" on Polymarket means the ET month)."""
    q = _clean(text)
    tz_rule = rule_timezone(description) or rule_tz

    def asset(phrase: str) -> Asset | Unmapped:
        return book.find(phrase)

    if m := _UPDOWN_RE.match(q):
        a = asset(m.group("asset"))
        if isinstance(a, Unmapped):
            return a
        when = read_when(m.group("when"), ref)
        if isinstance(when, Unmapped):
            return when
        return _up_down(a, when, description)
    if m := _VERSUS_RE.match(q):
        a, b = asset(m.group("a")), asset(m.group("b"))
        for x in (a, b):
            if isinstance(x, Unmapped):
                return x
        if a.symbol == b.symbol:
            return Unmapped("compares an asset with itself")
        when = read_when(m.group("when") or "", ref)
        if isinstance(when, Unmapped):
            return when
        if when.kind == "day":
            return Unmapped("a versus question needs a period (from .. to), not one day")
        first = when.first if when.kind == "window" else None
        if first is None:
            return Unmapped("a versus question 'by' a date gives no start: the period is unknown")
        return Question("versus", a, window=Window(first, when.last, "UTC"), other=b,
                        note=f"{a.label} vs {b.label}: gain from the open of the first day both trade to the "
                             f"close of the last, each in its own day boundary")
    if m := _BETWEEN_RE.match(q):
        a = asset(m.group("asset"))
        if isinstance(a, Unmapped):
            return a
        lo, hi = _amount(m.group(2), m.group(3)), _amount(m.group(4), m.group(5))
        if hi <= lo:
            return Unmapped(f"bucket bounds {lo:g} .. {hi:g} are not increasing")
        at = _point(a, read_when(m.group("when"), ref), description)
        if isinstance(at, Unmapped):
            return at
        return Question("bucket", a, at=at, lo=lo, hi=hi)
    if m := _TOUCH_RE.match(q):
        a = asset(m.group("asset"))
        if isinstance(a, Unmapped):
            return a
        verb = m.group("verb").lower()
        direction = "down" if verb in _TOUCH_DOWN else "up"
        if verb in ("hit", "touch", "cross", "pass"):  # says neither: the rules say High or Low
            d = description or ""
            if re.search(r'"?low"?\s+price', d, re.IGNORECASE) and not re.search(r'"?high"?\s+price', d, re.IGNORECASE):
                direction = "down"
            elif not re.search(r'"?high"?\s+price', d, re.IGNORECASE):
                return Unmapped(f"'{verb}' does not say whether the price rises or falls to the level, "
                                "and the rules name neither High nor Low")
        when = read_when(m.group("when"), ref)
        if isinstance(when, Unmapped):
            return when
        level = _amount(m.group(3), m.group(4))
        return _touch(a, when, level, direction, tz_rule)
    for rx in (_ABOVE_RE, _ABOVE_SHORT_RE):
        if m := rx.match(q):
            a = asset(m.group("asset"))
            if isinstance(a, Unmapped):
                return a
            yes_above, inclusive = _ABOVE_WORDS[m.group("cmp").lower()]
            when = read_when(m.group("when"), ref)
            if isinstance(when, Unmapped):
                return when
            at = _point(a, when, description)
            if isinstance(at, Unmapped):
                return at
            note = "" if when.kind == "day" else "'by' a date read as the price at that date"
            # YES when below x  <=>  NO when at or above x: the above shape with inclusive flipped
            return Question("above", a, at=at, value=_amount(m.group(3), m.group(4)), yes_above=yes_above,
                            inclusive=inclusive if yes_above else not inclusive, note=note)
    return Unmapped("not a price question of a supported shape (above/below, up or down, range bucket, "
                    "touch, versus)")


def _point(a: Asset, when: When | Unmapped, description: str) -> Instant | Unmapped:
    """The moment a price is read: a clock time in the question or the rules, else the daily close."""
    if isinstance(when, Unmapped):
        return when
    if when.kind == "window":
        return Unmapped("asks about a period where a single time is needed")
    if when.clock_end is not None:
        return Unmapped("names a time window where a single time is needed")
    clock = when.clock or rule_clock(description)
    if clock is None:
        return Instant(day=when.day)
    h, mi, tz = clock
    return Instant(at=datetime.combine(when.day, time(h, mi), ZoneInfo(tz)))


def _up_down(a: Asset, when: When, description: str) -> Question | Unmapped:
    if when.kind != "day":
        if when.kind == "window":
            return Question("up_down", a, window=Window(when.first, when.last, a.series.get("1d", Series("1d", ())).timezone),
                            note="up or down: close of the last day vs open of the first")
        return Unmapped("an up-or-down question 'by' a date gives no start")
    if when.clock is not None:  # an hour candle ('12PM ET') or hours ('12PM-4PM ET')
        h, mi, tz = when.clock
        start = datetime.combine(when.day, time(h, mi), ZoneInfo(tz))
        if when.clock_end is not None:
            h2, m2, tz2 = when.clock_end
            end = datetime.combine(when.day, time(h2, m2), ZoneInfo(tz2))
            if end <= start:
                end += timedelta(days=1)
        else:
            end = start + timedelta(hours=1)
        if re.search(r"time-weighted|twap", description or "", re.IGNORECASE):
            return Unmapped("resolves on a time-weighted average price, not a bar's open and close")
        return Question("up_down", a, window=Window(start=start, end=end),
                        note="up if the close is at or above the open of the candle(s) named")
    clock = rule_clock(description)
    if clock is not None and re.search(r"previous day|prior day|day before", description or "", re.IGNORECASE):
        h, mi, tz = clock  # Polymarket's daily: the price at noon ET against noon ET the day before
        end = datetime.combine(when.day, time(h, mi), ZoneInfo(tz))
        start = datetime.combine(when.day - timedelta(days=1), time(h, mi), ZoneInfo(tz))
        return Question("up_down", a, window=Window(start=start, end=end),
                        note=f"up if the price at {h:02d}:{mi:02d} {tz} on the day is at or above the price "
                             "at that time the day before")
    return Question("up_down", a, window=Window(when.day, when.day, a.series.get("1d", Series("1d", ())).timezone),
                    note="up if the day's close is at or above its open")


def _touch(a: Asset, when: When, level: float, direction: str, tz_rule: str | None) -> Question | Unmapped:
    tz = tz_rule or (a.series["1d"].timezone if a.has("1d") else "UTC")
    if when.kind == "window":
        return Question("touch", a, window=Window(when.first, when.last, tz), value=level, direction=direction,
                        note=f"any bar's {'high' if direction == 'up' else 'low'} in the period ({tz} days)")
    if when.kind == "by":
        return Question("touch", a, window=Window(None, when.day, tz), value=level, direction=direction,
                        note=f"any bar's {'high' if direction == 'up' else 'low'} until the end of {when.day} ({tz})")
    if when.clock is None:
        return Question("touch", a, window=Window(when.day, when.day, tz), value=level, direction=direction,
                        note=f"any bar's {'high' if direction == 'up' else 'low'} on the day ({tz})")
    return Unmapped("a touch question at one moment is an above/below question: the wording is ambiguous")
