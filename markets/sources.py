"""Where markets come from: the on-chain registry, a folder of spec files, and
external platforms (Polymarket's Gamma API, Manifold) mapped into specs.

An external question becomes a spec when it is a price question of a shape the resolvers answer
(above/below at a time, up or down, range buckets, touches a level, A vs B; `markets.questions`)
about an asset the node has sources for (the asset table passed in); the spec observes those sources
after the event. Everything else is reported as skipped with the reason. A platform that is down or
answers something that is not its API's shape raises DataError: the operator sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from oracle.errors import DataError, NotFound, OracleError

from .questions import Asset, AssetBook, Instant, Question, Unmapped, Window, read_question, trading_day
from .spec import MarketSpec


@dataclass(frozen=True)
class Discovered:
    spec: MarketSpec
    origin: str
    external_id: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Skipped:
    origin: str
    external_id: str
    reason: str
    waiting_at: int | None = None  # a registry block to read again: the spec may still arrive


@dataclass
class PullResult:
    found: list[Discovered] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# ------------------------------------------------------------------ local files
class LocalFolderSource:
    origin = "local"

    def __init__(self, folder: str | Path, *, now: datetime | None = None):
        self.folder = Path(folder)
        self.now = now

    def pull(self) -> PullResult:
        result = PullResult()
        if not self.folder.exists():
            raise DataError(f"spec folder {self.folder} does not exist", retry=True)
        for path in sorted(self.folder.iterdir()):
            if path.suffix not in (".json", ".yaml", ".yml"):
                continue
            try:
                result.found.append(Discovered(MarketSpec.load(path, now=self.now), self.origin, path.name))
            except OracleError as e:
                result.skipped.append(Skipped(self.origin, path.name, str(e)))
        return result


# ------------------------------------------------------------------ on-chain registry
class RegistrySource:
    """`MarketRegistered` events since a block; specs fetched from the artifact store by spec hash."""

    origin = "chain"

    def __init__(self, deployment, store, *, batch_blocks: int = 5_000):
        self.dep = deployment
        self.store = store
        self.batch_blocks = batch_blocks

    def pull(self, from_block: int) -> tuple[PullResult, int]:
        """Markets registered in [from_block, latest]; returns the next block to read from."""
        result = PullResult()
        latest = self.dep.chain.block_number()
        start = from_block
        while start <= latest:
            end = min(latest, start + self.batch_blocks - 1)
            for ev in self.dep.registered_events(start, end):
                market_id = ev.market_id
                try:
                    spec = MarketSpec.parse(json.loads(self.store.get(ev.spec_hash)))
                except NotFound:
                    result.skipped.append(Skipped(self.origin, market_id,
                                                  f"spec {ev.spec_hash} not in the artifact store (yet)",
                                                  waiting_at=ev.block))
                    continue
                except OracleError as e:
                    result.skipped.append(Skipped(self.origin, market_id, f"registered spec is invalid: {e}"))
                    continue
                if spec.market_id != market_id or spec.model != ev.model_id:
                    result.skipped.append(Skipped(self.origin, market_id, "registry entry does not match its spec"))
                    continue
                result.found.append(Discovered(spec, self.origin, market_id, {"creator": ev.creator,
                                                                              "block": ev.block}))
            start = end + 1
        return result, latest + 1


def follow_registry(state, deployment, store) -> tuple[list[Discovered], list[Skipped]]:
    """Read the registry from the state's cursor; track every market found (returns those new to
    the state) and record every one skipped. The one cursor policy of every follower: it moves on
    past what was read, except that it stays at the first market whose spec has not arrived yet,
    so that market is picked up once its spec is published."""
    cursor = int(state.cursor("registry", str(deployment.from_block)))
    result, next_block = RegistrySource(deployment, store).pull(cursor)
    new = [d for d in result.found
           if state.add_market(d.spec, d.origin, [(r.index, r.due_at) for r in d.spec.rounds()])]
    for s in result.skipped:
        state.skip(s.origin, s.external_id, s.reason)
    waiting = [s.waiting_at for s in result.skipped if s.waiting_at is not None]
    state.set_cursor("registry", str(min(waiting) if waiting else next_block))
    return new, result.skipped


# ------------------------------------------------------------------ questions -> specs
TOLERANCE = 0.01  # a source more than 1 % off the median is reported and not counted
_FAR = "2100-01-01T00:00:00Z"


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc)


def _iso(t: datetime) -> str:
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour_text(t: datetime) -> str:
    return _utc(t).strftime("%Y-%m-%dT%H:00Z")


@dataclass(frozen=True)
class _Bars:
    """Bars of one series of an asset, as a spec's observe block names them."""

    asset: Asset
    interval: str
    first: str
    last: str
    count: int

    @property
    def series(self):
        return self.asset.series[self.interval]


def _on_hour(t: datetime) -> bool:
    u = _utc(t)
    return u.minute == 0 and u.second == 0 and u.microsecond == 0


def _bar_at(a: Asset, at: Instant) -> _Bars | str:
    """The bar whose close is the price `at` names."""
    if at.day is not None:
        if not a.has("1d"):
            return f"asks for a daily close and the node has no daily source for {a.label}"
        if not trading_day(a, at.day):
            return f"{at.day} is not a trading day of {a.label} ({a.calendar})"
        return _Bars(a, "1d", at.day.isoformat(), at.day.isoformat(), 1)
    t = at.at
    if a.has("1d"):
        from zoneinfo import ZoneInfo

        local = t.astimezone(ZoneInfo(a.series["1d"].timezone))
        if a.calendar == "24/7" and local.time().isoformat() == "00:00:00":  # a day boundary: the daily close
            day = (local - timedelta(days=1)).date().isoformat()
            return _Bars(a, "1d", day, day, 1)
        if a.calendar == "NYSE" and local.strftime("%H:%M:%S") == "16:00:00" and trading_day(a, local.date()):
            return _Bars(a, "1d", local.date().isoformat(), local.date().isoformat(), 1)
    if not a.has("1h"):
        return (f"reads the price at {_iso(t)} ({t.tzname()}): that needs hourly bars and the node has no hourly "
                f"source for {a.label}")
    if not _on_hour(t):
        return f"reads the price at {_iso(t)}, not on the hour: the node's finest bars are 1 hour"
    bar = _hour_text(t - timedelta(hours=1))  # the hour ending at t: its close is the price at t
    return _Bars(a, "1h", bar, bar, 1)


def _trading_span(assets: Sequence[Asset], first: date, last: date) -> tuple[date, date] | str:
    d0 = first
    while d0 <= last and not all(trading_day(a, d0) for a in assets):
        d0 += timedelta(days=1)
    d1 = last
    while d1 >= d0 and not all(trading_day(a, d1) for a in assets):
        d1 -= timedelta(days=1)
    if d0 > d1:
        return f"no day in {first} .. {last} on which {' and '.join(a.label for a in assets)} trade(s)"
    return d0, d1


def _bars_over(a: Asset, w: Window) -> _Bars | str:
    """The bars that exactly cover the window: whole daily bars when the window is whole days in the
    daily series' time zone, else hourly bars when it starts and ends on the hour."""
    from zoneinfo import ZoneInfo

    start, end = w.bounds()
    if a.has("1d"):
        tz = ZoneInfo(a.series["1d"].timezone)
        ls, le = start.astimezone(tz), end.astimezone(tz)
        if ls.time().isoformat() == "00:00:00" and le.time().isoformat() == "00:00:00":
            span = _trading_span([a], ls.date(), (le - timedelta(days=1)).date())
            if isinstance(span, str):
                return span
            return _Bars(a, "1d", span[0].isoformat(), span[1].isoformat(), (span[1] - span[0]).days + 1)
    if a.has("1h") and _on_hour(start) and _on_hour(end):
        n = int((end - start).total_seconds() // 3600)
        return _Bars(a, "1h", _hour_text(start), _hour_text(end - timedelta(hours=1)), n)
    zone = w.tz if w.start is None else start.tzname()
    have = ", ".join(f"{iv} ({s.timezone} days)" if iv == "1d" else iv for iv, s in a.series.items())
    return (f"the period {_iso(start)} .. {_iso(end)} ({zone}) is not whole bars of {a.label}'s sources "
            f"({have})")


def _sessions(a: Asset, interval: str) -> dict[str, str]:
    """An exchange-traded asset's daily bars have closed sessions (weekends, holidays)."""
    return {"sessions": "exchange"} if a.calendar != "24/7" and interval == "1d" else {}


def _observe(bars: _Bars, decimals: int) -> dict[str, Any]:
    s = bars.series
    return {"sources": [dict(x) for x in s.sources], "interval": bars.interval, "timezone": s.timezone,
            "decimals": decimals, "min_sources": s.min_sources, "tolerance": TOLERANCE,
            **_sessions(bars.asset, bars.interval)}


def _decimals(a: Asset, constants: Sequence[float]) -> int | str:
    """The finest tick at which the asset's decimals hold every constant within the resolver's range."""
    from decimal import Decimal

    from .evidence import MAX_TICKS

    for d in range(a.decimals, -1, -1):
        scaled = [Decimal(repr(c)) * (Decimal(10) ** d) for c in constants]
        if all(abs(x) <= MAX_TICKS for x in scaled):
            if all(x == x.to_integral_value() for x in scaled):
                return d
            break
    return f"levels {list(constants)} do not fit the resolver's integer range at {a.label}'s tick"


def _plain(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


@dataclass(frozen=True)
class Importing:
    """What every mapped spec shares: this node's resolver per comparison width, quorum, clock."""

    resolver_of: Callable[[int], str]
    quorum: int
    now: datetime


def question_spec(q: Question, imp: Importing, *, question: str, description: str, outcomes: Sequence[str],
                  yes: str | None = None, no: str | None = None, bounds: Sequence[float] = (),
                  trading_end: datetime | None = None, started: datetime | None = None,
                  ctf_question_id: str | None = None) -> MarketSpec | str:
    """The version-2 spec of a question read from a platform, or why it cannot be one.

    close_at = min(the platform's trading end, the window's open): positions close before any
    evidence exists; a market whose close is already past at `imp.now` is refused."""
    a = q.asset
    other_bars = None
    if q.kind in ("above", "bucket", "range"):
        bars = _bar_at(a, q.at)
        constants = list(bounds) if q.kind == "range" else [q.value] if q.kind == "above" else []
    elif q.kind in ("up_down", "touch"):
        w = q.window
        if w.first is None and w.start is None:  # "by <date>": from when the platform opened it
            if started is None:
                return "the question runs 'by' a date from its creation, and the market gives no start"
            if started <= imp.now:
                return (f"the question counts any touch since the market opened ({_iso(started)}), before now "
                        f"({_iso(imp.now)}): a touch before this market could open would be missed")
            w = Window(start=started, end=Window(w.last, w.last, w.tz).bounds()[1])
        bars = _bars_over(a, w)
        constants = [q.value] if q.kind == "touch" else []
    elif q.kind == "versus":
        span = _trading_span([a, q.other], q.window.first, q.window.last)
        if isinstance(span, str):
            return span
        for x in (a, q.other):
            if not x.has("1d"):
                return f"a versus question reads daily bars and the node has no daily source for {x.label}"
        d0, d1 = (d.isoformat() for d in span)
        bars = _Bars(a, "1d", d0, d1, (span[1] - span[0]).days + 1)
        other_bars = _Bars(q.other, "1d", d0, d1, bars.count)
        constants = []
    else:
        return f"no shape for question kind {q.kind!r}"
    if isinstance(bars, str):
        return bars
    from .evidence import MAX_BARS

    if q.kind == "touch" and bars.count > MAX_BARS:
        return (f"the touch window spans {bars.count} {bars.interval} bars, more than a touch resolver reads "
                f"({MAX_BARS})")
    dec = _decimals(a, constants) if constants else a.decimals
    if isinstance(dec, str):
        return dec
    if q.kind == "above":
        above, below = (yes, no) if q.yes_above else (no, yes)
        shape = {"kind": "above", "at": bars.first, "value": _plain(q.value), "above": above, "below": below,
                 "inclusive": q.inclusive}
    elif q.kind == "range":
        shape = {"kind": "range", "at": bars.first, "bounds": [_plain(b) for b in bounds]}
    elif q.kind == "up_down":
        shape = {"kind": "up_down", "from": bars.first, "to": bars.last, "up": yes, "down": no}
    elif q.kind == "touch":
        shape = {"kind": "touch", "from": bars.first, "to": bars.last, "level": _plain(q.value),
                 "direction": q.direction, "yes": yes, "no": no}
    else:
        shape = {"kind": "versus", "from": bars.first, "to": bars.last, "a": yes, "b": no,
                 "other": {"sources": [dict(x) for x in other_bars.series.sources],
                           "timezone": other_bars.series.timezone,
                           **_sessions(other_bars.asset, other_bars.interval)}}
    width = len(bounds) if q.kind == "range" else 1
    read = (f"Observed: {a.label} {bars.interval} bars {bars.first} .. {bars.last} "
            f"({bars.series.timezone} days)" if bars.interval == "1d" else
            f"Observed: {a.label} hourly bars (UTC) {bars.first} .. {bars.last}")
    desc = (f"{read}, median of {len(bars.series.sources)} source(s)." + (f" {q.note}." if q.note else "")
            + (f"\n\nPlatform rules: {description}" if description else ""))
    doc: dict[str, Any] = {
        "version": 2, "question": question[:500], "description": desc[:4000], "outcomes": list(outcomes),
        "kind": "resolve", "observe": _observe(bars, dec), "shape": shape, "resolver": imp.resolver_of(width),
        "close_at": "1970-01-01T00:00:00Z", "resolve_at": _FAR, "quorum": imp.quorum,
    }
    if ctf_question_id:
        doc["ctf_question_id"] = ctf_question_id
    from .spec import _window

    draft = MarketSpec.parse(doc)
    window_open, earliest, _ = _window(draft.observe, draft.other, draft.shape)
    close_at = min(trading_end, window_open) if trading_end is not None else window_open
    if window_open <= imp.now:
        return (f"its observation window opened at {_iso(window_open)}, not after now ({_iso(imp.now)}): the "
                "outcome may already be known")
    if close_at <= imp.now:
        return f"trading closed at {_iso(close_at)} (now {_iso(imp.now)})"
    doc["close_at"], doc["resolve_at"] = _iso(close_at), _iso(earliest)
    return MarketSpec.parse(doc, now=imp.now)


# ------------------------------------------------------------------ platform payloads
def _json_list(value: Any, field_name: str) -> list:
    """Gamma encodes lists as JSON strings ("[\\"Yes\\", \\"No\\"]")."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            v = json.loads(value)
        except ValueError:
            raise ValueError(f"{field_name} is not a JSON list: {value[:40]!r}") from None
        if isinstance(v, list):
            return v
    raise ValueError(f"{field_name} is not a list")


def _iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _pick(outcomes: Sequence[str], *names: str) -> str | None:
    low = [o.lower() for o in outcomes]
    for n in names:
        if n in low:
            return outcomes[low.index(n)]
    return None


def _binary(q: Question, outcomes: Sequence[str]) -> tuple[str, str] | str:
    """The platform's two outcome names as the shape's (yes, no) / (up, down) / (a, b)."""
    if len(outcomes) != 2:
        return f"outcomes {list(outcomes)} are not two"
    if q.kind == "up_down":
        up, down = _pick(outcomes, "up"), _pick(outcomes, "down")
        return (up, down) if up and down else f"outcomes {list(outcomes)} are not Up/Down"
    yes, no = _pick(outcomes, "yes"), _pick(outcomes, "no")
    return (yes, no) if yes and no else f"outcomes {list(outcomes)} are not Yes/No"


Now = datetime | Callable[[], datetime] | None


class _HttpSource:
    origin = "http"
    path = "/"

    def __init__(self, base_url: str, *, resolver_of: Callable[[int], str], quorum: int,
                 assets: Mapping[str, Asset], now: Now = None, params: Mapping[str, Any] | None = None,
                 limit: int = 100, max_pages: int = 5, timeout: float = 10.0, client=None):
        if not assets:
            raise ValueError("an importer needs the node's asset table (markets.questions.node_assets)")
        self.base_url = base_url.rstrip("/")
        self.resolver_of = resolver_of
        self.quorum = quorum
        self.assets = dict(assets)
        self.book = AssetBook(self.assets)
        self._now = now
        self.params = dict(self.default_params if params is None else params)
        self.limit = limit
        self.max_pages = max_pages
        self.timeout = timeout
        self.client = client

    default_params: dict[str, Any] = {}

    def now(self) -> datetime:
        n = self._now() if callable(self._now) else self._now
        return n if n is not None else datetime.now(timezone.utc)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        import httpx

        url = f"{self.base_url}{path}"
        try:
            if self.client is not None:
                r = self.client.get(url, params=params, timeout=self.timeout)
            else:
                r = httpx.get(url, params=params, timeout=self.timeout)
        except httpx.HTTPError as e:
            raise DataError(f"{self.origin} at {self.base_url} is down: {type(e).__name__}: {e}", retry=True) from None
        if r.status_code != 200:
            raise DataError(f"{self.origin} answered HTTP {r.status_code} for {path}",
                            retry=r.status_code >= 500 or r.status_code == 429)
        try:
            return r.json()
        except ValueError:
            raise DataError(f"{self.origin} returned non-JSON for {path}") from None

    def fetch(self) -> list[dict]:
        """Every page (offset paging) up to max_pages; a page that is not a list of the platform's
        objects is the wrong shape: DataError."""
        items: list[dict] = []
        seen: set[str] = set()
        for page in range(self.max_pages):
            doc = self._get(self.path, {**self.params, "limit": self.limit, "offset": page * self.limit})
            if not isinstance(doc, list):
                what = f"an object with keys {sorted(doc)[:6]}" if isinstance(doc, dict) else type(doc).__name__
                raise DataError(f"{self.origin} {self.path} returned {what}, not a list of "
                                f"{self.kind_name}s: wrong API or version")
            ok = [x for x in doc if self.looks_right(x)]
            if doc and not ok:
                raise DataError(f"{self.origin} {self.path} returned {len(doc)} item(s), none shaped like "
                                f"{self.origin}'s {self.kind_name}s (first: {json.dumps(doc[0])[:120]})")
            fresh = [x for x in doc if not isinstance(x, dict) or str(x.get("id")) not in seen]
            seen.update(str(x.get("id")) for x in doc if isinstance(x, dict))
            items += fresh
            if len(doc) < self.limit or not fresh:
                break
        return items

    kind_name = "market"

    def looks_right(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "id" in obj and isinstance(obj.get("question"), str)

    def pull(self) -> PullResult:
        result = PullResult()
        imp = Importing(self.resolver_of, self.quorum, self.now())
        for obj in self.fetch():
            ext = str(obj.get("id", "?")) if isinstance(obj, dict) else "?"
            try:
                out = self.map(obj, imp) if isinstance(obj, dict) else [(ext, "malformed item: not an object")]
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                out = [(ext, f"malformed {self.kind_name} object: {e}")]
            for ext_id, spec_or_reason in out:
                if isinstance(spec_or_reason, MarketSpec):
                    result.found.append(Discovered(spec_or_reason, self.origin, ext_id))
                else:
                    result.skipped.append(Skipped(self.origin, ext_id, spec_or_reason))
        return result

    def map(self, obj: dict, imp: Importing) -> list[tuple[str, MarketSpec | str]]:  # pragma: no cover
        raise NotImplementedError

    def _spec(self, q: Question, imp: Importing, **kw) -> MarketSpec | str:
        try:
            return question_spec(q, imp, **kw)
        except OracleError as e:
            return f"maps to an invalid spec: {e}"


class PolymarketSource(_HttpSource):
    """Polymarket's Gamma API: GET {base}/events?closed=false&limit=N&offset=K. An event is one market or
    a group; a negRisk group of range buckets ("Bitcoin price on March 14?") becomes one range market,
    the members of other groups ("Bitcoin above ___ on March 14?") a market each. Polymarket writes its
    rules in ET: a date without a time means the time its rules name (noon ET), a month is an ET month."""

    origin = "polymarket"
    path = "/events"
    kind_name = "event"
    default_params = {"closed": "false"}

    def looks_right(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "id" in obj and (isinstance(obj.get("markets"), list)
                                                          or isinstance(obj.get("question"), str))

    def map(self, ev: dict, imp: Importing) -> list[tuple[str, MarketSpec | str]]:
        if "markets" not in ev:  # a bare market (the /markets shape)
            return [(str(ev["id"]), self._member(ev, ev, imp))]
        members = [m for m in ev["markets"] if isinstance(m, dict)]
        if len(members) != len(ev["markets"]) or not members:
            return [(f"event:{ev['id']}", "malformed event object: markets are not market objects")]
        if ev.get("negRisk") and len(members) > 1:
            return [(f"event:{ev['id']}", self._group(ev, members, imp))]
        return [(str(m.get("id", "?")), self._member(ev, m, imp)) for m in members]

    def _read(self, ev: dict, m: dict) -> tuple[Question | Unmapped, datetime | None, str]:
        end = _iso_time(m.get("endDate")) or _iso_time(ev.get("endDate"))
        desc = str(m.get("description") or ev.get("description") or "")
        return read_question(m.get("question", ""), self.book, ref=end, description=desc,
                             rule_tz="America/New_York"), end, desc

    def _closed(self, m: dict) -> str | None:
        if m.get("closed"):
            return "closed"
        statuses = [str(s).lower() for s in _json_list(m.get("umaResolutionStatuses") or "[]",
                                                       "umaResolutionStatuses")]
        if "resolved" in statuses:
            return "already resolved through UMA"
        return None

    def _member(self, ev: dict, m: dict, imp: Importing) -> MarketSpec | str:
        if not isinstance(m.get("question"), str):
            raise ValueError("market has no question")
        if (why := self._closed(m)) is not None:
            return why
        outcomes = [str(o) for o in _json_list(m.get("outcomes"), "outcomes")]
        q, end, desc = self._read(ev, m)
        if isinstance(q, Unmapped):
            return q.reason
        if q.kind == "bucket":
            q = _bucket_as_binary(q)
            if isinstance(q, Unmapped):
                return q.reason
        names = _binary(q, outcomes)
        if isinstance(names, str):
            return names
        qid = m.get("questionID")
        qid = qid if isinstance(qid, str) and len(qid) == 66 and qid.startswith("0x") else None
        return self._spec(q, imp, question=m["question"], description=desc, outcomes=outcomes, yes=names[0],
                          no=names[1], trading_end=end, started=_iso_time(m.get("startDate")),
                          ctf_question_id=qid)

    def _group(self, ev: dict, members: list[dict], imp: Importing) -> MarketSpec | str:
        """A negRisk group: one winner among its members. Price buckets that tile the line -> a range."""
        title = str(ev.get("title") or "")
        for m in members:
            if (why := self._closed(m)) is not None:
                return f"negRisk group member {m.get('id')} is {why}"
        read = []
        for m in members:
            q, end, desc = self._read(ev, m)
            if isinstance(q, Question) and q.kind == "above":  # "less than X" / "greater than X": an open bucket
                q = Question("bucket", q.asset, at=q.at, lo=q.value if q.yes_above else None,
                             hi=None if q.yes_above else q.value)
            if isinstance(q, Unmapped) or q.kind != "bucket":
                why = q.reason if isinstance(q, Unmapped) else f"a {q.kind} question"
                return (f"negRisk group {title!r}: member {m.get('question', '?')!r} is not a price bucket "
                        f"({why})")
            read.append((q, m, end, desc))
        first = read[0][0]
        if any(q.asset.symbol != first.asset.symbol or q.at != first.at for q, *_ in read):
            return f"negRisk group {title!r}: members read different assets or times"
        buckets = sorted(read, key=lambda r: (r[0].lo is not None, r[0].lo or 0.0))
        bounds: list[float] = []
        for i, (q, m, *_) in enumerate(buckets):
            if i == 0 and q.lo is not None:
                return f"negRisk group {title!r}: no open bucket below {q.lo:g}: the buckets do not cover every price"
            if i > 0:
                if q.lo != bounds[-1]:
                    return f"negRisk group {title!r}: buckets do not tile (gap or overlap at {bounds[-1]:g})"
            if q.hi is None:
                if i != len(buckets) - 1:
                    return f"negRisk group {title!r}: more than one open bucket above"
            else:
                bounds.append(q.hi)
        if buckets[-1][0].hi is not None:
            return f"negRisk group {title!r}: no open bucket above {bounds[-1]:g}: the buckets do not cover every price"
        from .evidence import MAX_BOUNDS

        if len(bounds) > MAX_BOUNDS:
            return (f"negRisk group {title!r}: {len(bounds) + 1} buckets, more than a range resolver reads "
                    f"({MAX_BOUNDS + 1})")
        outcomes = [_bucket_label(q, m) for q, m, *_ in buckets]
        if len(set(outcomes)) != len(outcomes):
            outcomes = [_bucket_label(q, {}) for q, *_ in buckets]
        q = Question("range", first.asset, at=first.at, note="buckets [lower, upper): a price on a bound falls "
                     "in the bucket above it")
        ends = [e for _, _, e, _ in buckets if e is not None]
        starts = [s for s in (_iso_time(m.get("startDate")) for _, m, *_ in buckets) if s is not None]
        return self._spec(q, imp, question=(title or first.asset.label + " price")[:500],
                          description=str(ev.get("description") or read[0][3]), outcomes=outcomes,
                          bounds=bounds, trading_end=min(ends) if ends else None,
                          started=max(starts) if starts else None)


def _bucket_label(q: Question, m: dict) -> str:
    t = str(m.get("groupItemTitle") or "").strip()
    if t:
        return t
    if q.lo is None:
        return f"<{q.hi:,.0f}"
    if q.hi is None:
        return f">{q.lo:,.0f}"
    return f"{q.lo:,.0f}-{q.hi:,.0f}"


def _bucket_as_binary(q: Question) -> Question | Unmapped:
    """A bucket market on its own: 'less than X' / 'greater than X' is an above question."""
    if q.lo is None:
        return Question("above", q.asset, at=q.at, value=q.hi, yes_above=False, inclusive=True, note=q.note)
    if q.hi is None:
        return Question("above", q.asset, at=q.at, value=q.lo, yes_above=True, inclusive=False, note=q.note)
    return Unmapped("a single 'between' bucket outside its negRisk group: two comparisons with one yes "
                    "in the middle, which no binary resolver reads")


class ManifoldSource(_HttpSource):
    """Manifold's API: GET {base}/v0/markets?limit=N. Binary questions; dates in the asset's day boundary
    unless the question names a time zone."""

    origin = "manifold"
    path = "/v0/markets"

    def fetch(self) -> list[dict]:
        # Manifold pages with `before=<id>`, not offsets: one page of `limit` (at most 1000)
        doc = self._get(self.path, {**self.params, "limit": self.limit})
        if not isinstance(doc, list):
            what = f"an object with keys {sorted(doc)[:6]}" if isinstance(doc, dict) else type(doc).__name__
            raise DataError(f"{self.origin} {self.path} returned {what}, not a list of markets: wrong API or version")
        if doc and not any(self.looks_right(x) for x in doc):
            raise DataError(f"{self.origin} {self.path} returned {len(doc)} item(s), none shaped like manifold's markets "
                            f"(first: {json.dumps(doc[0])[:120]})")
        return doc

    def looks_right(self, obj: Any) -> bool:
        return super().looks_right(obj) and "outcomeType" in obj

    def map(self, m: dict, imp: Importing) -> list[tuple[str, MarketSpec | str]]:
        return [(str(m["id"]), self._one(m, imp))]

    def _one(self, m: dict, imp: Importing) -> MarketSpec | str:
        if m.get("isResolved"):
            return "already resolved"
        if m.get("outcomeType") != "BINARY":
            return f"outcomeType {m.get('outcomeType')!r} is not BINARY"
        close = m.get("closeTime")
        end = datetime.fromtimestamp(close / 1000, tz=timezone.utc) if isinstance(close, (int, float)) else None
        created = m.get("createdTime")
        started = datetime.fromtimestamp(created / 1000, tz=timezone.utc) if isinstance(created, (int, float)) else None
        desc = str(m.get("textDescription") or "")
        q = read_question(m["question"], self.book, ref=end, description=desc)
        if isinstance(q, Unmapped):
            return q.reason
        if q.kind == "bucket":
            q = _bucket_as_binary(q)
            if isinstance(q, Unmapped):
                return q.reason
        if q.kind == "up_down":
            return "an up-or-down question with YES/NO answers: which answer is 'up' is not stated"
        return self._spec(q, imp, question=m["question"], description=desc, outcomes=["YES", "NO"], yes="YES",
                          no="NO", trading_end=end, started=started)
