"""Data feeds: load a market's source into a validated pandas frame.

One loader, `load_source`, reads every provider's file the same way; the source names its time
column, its bar interval and its price columns (`SOURCE_FIELDS`). The frame it returns:

    index    `Date`: tz-naive UTC timestamps, strictly increasing; for "1d" the day at 00:00,
             for "1h" the bar's opening hour
    columns  "close" (float, finite), the close column also under its own name (`column`, e.g.
             "Close"), and "open"/"high"/"low" when the source names them; nothing else

Rows that repeat a timestamp with identical values are one row; anything else that is wrong
(conflicting repeats, times out of order or off the interval, a missing or non-numeric value) is a
DataError naming origin, column and time, never a silent fix. A gap is never filled.

Sources are named by market creators, so every load is bounded and policed: a local file must be a
regular file of at most `ORACLE_SOURCE_MAX_BYTES` (/dev/zero, FIFOs, directories are refused), an
`http_json` body is streamed and cut at the same cap and at a total deadline, and only what the
operator's allow-policy `ORACLE_SOURCE_ALLOW` names is read at all (see `SourcePolicy`). Loads hold
no lock: one slow source never stalls another.
"""

from __future__ import annotations

import io
import ipaddress
import os
import stat
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from oracle.canonical import keccak_hex
from oracle.errors import DataError

BUNDLED_PREFIX = "bundled:"
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # default cap on one source's bytes (file or HTTP body)
SOURCE_DEADLINE_S = 30.0  # default cap on one HTTP load, however slowly the bytes drip in
ALLOW_ENV = "ORACLE_SOURCE_ALLOW"
DEFAULT_ALLOW = "bundled,loopback,files"
_SYSTEM_DIRS = ("/dev", "/proc", "/sys")

# The fields a spec's `source` object may carry, all strings. `column` names the close column;
# `time`, `interval`, `open`, `high`, `low` say how to read a provider's own layout.
SOURCE_FIELDS = frozenset({"kind", "uri", "column", "sha3", "address", "function",
                           "time", "interval", "open", "high", "low", "layout"})
# `layout` of an http_json body: "rows" (default: objects, the source names the columns) or an
# exchange's candle API as published: Binance klines ([openTime ms, "open", "high", "low", "close",
# "volume", ...], oldest first) and Coinbase Exchange candles ([time s, low, high, open, close,
# volume], newest first). Array layouts are read as columns time (unix s), open, high, low, close.
ARRAY_LAYOUTS = {
    "binance_klines": (("time", "open", "high", "low", "close"), 1000),
    "coinbase_candles": (("time", "low", "high", "open", "close"), 1),
}
INTERVALS = {"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1)}
PRICE_FIELDS = ("open", "high", "low")  # optional; "close" is always read (from `column`)
_TIME_TEXT = r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?"


class SourceRefused(DataError):
    """A source the allow-policy or the size/time limits refuse; names the spec field (never retried)."""

    def __init__(self, field: str, reason: str):
        self.field, self.field_reason = field, reason
        super().__init__(f"field '{field}': {reason}")


@dataclass(frozen=True)
class SourcePolicy:
    """What a role may read: bundled data always; then what `ORACLE_SOURCE_ALLOW` lists
    (comma-separated; unset means `bundled,loopback,files`):

        loopback                 http(s) to 127.0.0.0/8, ::1 or localhost, any port
        files                    any local regular file
        /abs/dir                 local regular files under that directory
        https://host[:port]/p    URLs under that prefix (same scheme, host, port; path prefix)
        host  or  host:port      http(s) to that host (and port)
    """

    loopback: bool = True
    files: bool = True
    dirs: tuple[Path, ...] = ()
    prefixes: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    max_bytes: int = MAX_SOURCE_BYTES
    deadline_s: float = SOURCE_DEADLINE_S
    text: str = DEFAULT_ALLOW

    @classmethod
    def parse(cls, text: str, *, max_bytes: int = MAX_SOURCE_BYTES,
              deadline_s: float = SOURCE_DEADLINE_S) -> "SourcePolicy":
        loopback = files = False
        dirs: list[Path] = []
        prefixes: list[str] = []
        hosts: list[str] = []
        for entry in (e.strip() for e in text.replace("\n", ",").split(",")):
            if not entry or entry == "bundled":
                continue
            if entry == "loopback":
                loopback = True
            elif entry == "files":
                files = True
            elif entry.startswith("/"):
                dirs.append(Path(os.path.realpath(entry)))
            elif entry.startswith(("http://", "https://")):
                prefixes.append(entry)
            elif "/" not in entry and " " not in entry:
                hosts.append(entry.lower())
            else:
                raise DataError(f"{ALLOW_ENV}: cannot read entry {entry!r} (expected loopback, files, "
                                "/abs/dir, an http(s):// prefix, or host[:port])")
        return cls(loopback, files, tuple(dirs), tuple(prefixes), tuple(hosts), max_bytes, deadline_s, text)

    @classmethod
    def from_env(cls) -> "SourcePolicy":
        def number(name: str, default, kind):
            raw = os.environ.get(name)
            try:
                return default if raw is None else kind(raw)
            except ValueError:
                raise DataError(f"{name}: not a number: {raw!r}") from None

        return cls.parse(os.environ.get(ALLOW_ENV, DEFAULT_ALLOW),
                         max_bytes=number("ORACLE_SOURCE_MAX_BYTES", MAX_SOURCE_BYTES, int),
                         deadline_s=number("ORACLE_SOURCE_DEADLINE_S", SOURCE_DEADLINE_S, float))

    def check_url(self, uri: str, field: str = "source.uri") -> None:
        parts = _url_parts(uri, field)
        host, port = parts.hostname or "", parts.port
        if self.loopback and _is_loopback(host):
            return
        if host in self.hosts or f"{host}:{port}" in self.hosts:
            return
        for prefix in self.prefixes:
            pp = urlsplit(prefix)
            if (pp.scheme, (pp.hostname or "").lower(), pp.port) == (parts.scheme, host, port) \
                    and parts.path.startswith(pp.path):
                return
        raise SourceRefused(field, f"{uri} is outside this role's source allow-policy "
                                   f"({ALLOW_ENV}={self.text!r})")

    def check_file(self, path: Path, field: str = "source.uri") -> None:
        if self.files:
            return
        real = Path(os.path.realpath(path))
        if any(real == d or d in real.parents for d in self.dirs):
            return
        raise SourceRefused(field, f"{path} is outside this role's source allow-policy "
                                   f"({ALLOW_ENV}={self.text!r})")


def _url_parts(uri: str, field: str):
    try:
        parts = urlsplit(uri)
        parts.port  # raises on a malformed port
    except ValueError as e:
        raise SourceRefused(field, f"not a URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceRefused(field, f"an http_json source must be an http(s):// URL with a host, got {uri[:200]!r}")
    if parts.username or parts.password:
        raise SourceRefused(field, "credentials in a source URL are refused")
    return parts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_source_uri(kind: str, uri: str) -> None:
    """What a spec's `source.uri` must be whatever role reads it (the allow-policy is checked at load
    time, by each role under its own policy): an http(s) URL for http_json; for a file, no NUL, not
    under /dev, /proc or /sys, and not an existing non-regular file. SourceRefused otherwise."""
    field = "source.uri"
    if "\x00" in uri or len(uri) > 4096:
        raise SourceRefused(field, "must be at most 4096 characters without NUL")
    if kind == "http_json":
        _url_parts(uri, field)
        return
    if uri.startswith(BUNDLED_PREFIX):
        name = uri[len(BUNDLED_PREFIX):]
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise SourceRefused(field, f"bundled data names one file, not {name!r}")
        return
    path = resolve_uri(uri)
    real = os.path.realpath(path)
    if any(real == d or real.startswith(d + "/") for d in _SYSTEM_DIRS):
        raise SourceRefused(field, f"{path} is a device or kernel file, not a data file")
    if path.exists() and not path.is_file():
        raise SourceRefused(field, f"{path} is not a regular file")


def bundled_path(name: str) -> Path:
    p = Path(str(resources.files("markets").joinpath("data", name)))
    if not p.exists():
        raise DataError(f"no bundled data set named {name!r}")
    return p


def resolve_uri(uri: str) -> Path:
    if uri.startswith(BUNDLED_PREFIX):
        return bundled_path(uri[len(BUNDLED_PREFIX):])
    if uri.startswith("file:"):
        uri = uri[len("file:"):]
    return Path(uri)


@dataclass(frozen=True)
class SeriesLayout:
    """How to read one provider's rows: its time column, bar interval, and which of its columns hold
    the close (`column`) and, optionally, open/high/low."""

    time: str = "Date"
    interval: str = "1d"
    close: str = "Close"
    prices: tuple[tuple[str, str], ...] = ()  # (canonical name, provider's column) for open/high/low

    @classmethod
    def of(cls, source: dict[str, Any]) -> "SeriesLayout":
        for field in ("time", "interval", "column", *PRICE_FIELDS):
            if field in source and (not isinstance(source[field], str) or not source[field]):
                raise DataError(f"source.{field}: must be a non-empty string")
        interval = source.get("interval", "1d")
        if interval not in INTERVALS:
            raise DataError(f"source.interval: must be one of {sorted(INTERVALS)}, got {interval!r}")
        body = source.get("layout", "rows")
        if body != "rows" and body not in ARRAY_LAYOUTS:
            raise DataError(f"source.layout: must be 'rows' or one of {sorted(ARRAY_LAYOUTS)}, got {body!r}")
        if body in ARRAY_LAYOUTS:  # the exchange's own array: its columns are fixed
            if source.get("kind") != "http_json":
                raise DataError("source.layout: an exchange's candle array is an http_json body")
            named = [f for f in ("time", "column", *PRICE_FIELDS) if f in source]
            if named:
                raise DataError(f"source.{named[0]}: a {body} body has fixed columns (time, open, high, low, close)")
            return cls("time", interval, "close", tuple((f, f) for f in PRICE_FIELDS))
        layout = cls(source.get("time", "Date"), interval, source.get("column", "Close"),
                     tuple((f, source[f]) for f in PRICE_FIELDS if f in source))
        if layout.time in layout.columns:
            raise DataError(f"source.time: {layout.time!r} is also named as a price column")
        return layout

    @property
    def columns(self) -> list[str]:
        """The provider's columns this layout reads, close first, each once."""
        return list(dict.fromkeys([self.close, *(c for _, c in self.prices)]))

    def canonical(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` (validated, provider's names) -> "close", the close under its own name, open/high/low."""
        out = pd.DataFrame({"close": frame[self.close]}, index=frame.index)
        out[self.close] = frame[self.close]
        for name, c in self.prices:
            out[name] = frame[c]
        return out


def load_source(source: dict[str, Any], *, chain=None, http_timeout: float = 10.0,
                policy: SourcePolicy | None = None) -> pd.DataFrame:
    """Load and validate the frame a market's `source` names, under `policy` (default: from the
    environment, `SourcePolicy.from_env()`). The frame's contract is in this module's docstring.

    csv / parquet: a file (`bundled:NAME` for data shipped with the oracle).
    http_json: GET `uri` -> [{"Date": "YYYY-MM-DD", "<column>": number}, ...] (or {"data": [...]}).
    chain: a `PriceFeed` contract's `series()` at `address` (needs `chain`); daily closes.

    `time` (default "Date") holds "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" (UTC), or, as an integer
    column, unix seconds; `interval` is "1d" (default) or "1h".
    """
    kind = source.get("kind")
    layout = SeriesLayout.of(source)
    if kind in ("csv", "parquet", "http_json"):
        policy = policy or SourcePolicy.from_env()
        if not isinstance(source.get("uri"), str):
            raise SourceRefused("source.uri", "must be a string")
        check_source_uri(kind, source["uri"])
    if kind in ("csv", "parquet"):
        uri = source["uri"]
        path = resolve_uri(uri)
        if not uri.startswith(BUNDLED_PREFIX):
            policy.check_file(path)
        raw = _read_file(path, policy.max_bytes)
        pinned = source.get("sha3")
        if pinned and keccak_hex(raw) != pinned:
            raise DataError(f"data file {path} does not match its pinned hash {pinned}")
        try:
            frame = pd.read_csv(io.BytesIO(raw)) if kind == "csv" else pd.read_parquet(io.BytesIO(raw))
        except Exception as e:
            raise DataError(f"{path}: unreadable {kind}: {e}") from None
        origin = str(path)
    elif kind == "http_json":
        policy.check_url(source["uri"])
        frame = _http_json(source["uri"], layout.close, http_timeout, policy.max_bytes, policy.deadline_s,
                           shape=source.get("layout", "rows"))
        origin = source["uri"]
    elif kind == "chain":
        if chain is None:
            raise DataError("an on-chain source needs a chain connection")
        if layout != SeriesLayout(close=layout.close):
            raise DataError("an on-chain PriceFeed is daily closes: source.time/interval/open/high/low do not apply")
        frame = _chain_series(chain, source["address"], layout.close)
        origin = f"PriceFeed {source['address']}"
    else:
        raise DataError(f"unsupported source kind {kind!r}")
    valid = validate_frame(frame, layout.columns, origin=origin, time=layout.time, interval=layout.interval)
    return layout.canonical(valid)


def _read_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, at most `max_bytes`: opened without blocking (a FIFO), checked on the
    open descriptor (no swap between check and read), read no further than the cap (a growing file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist", retry=True) from None
    except OSError as e:
        raise SourceRefused("source.uri", f"{path} cannot be opened: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SourceRefused("source.uri", f"{path} is not a regular file")
        if st.st_size > max_bytes:
            raise SourceRefused("source.uri", f"{path} is {st.st_size} bytes, over the {max_bytes}-byte limit")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise SourceRefused("source.uri", f"{path} is over the {max_bytes}-byte limit")
    return raw


def _http_json(uri: str, column: str, timeout: float, max_bytes: int = MAX_SOURCE_BYTES,
               deadline_s: float = SOURCE_DEADLINE_S, *, shape: str = "rows") -> pd.DataFrame:
    """GET `uri` streamed: refused past `max_bytes` or `deadline_s` (a drip-feeding server), redirects
    not followed (they could leave the allow-policy)."""
    import json

    import httpx

    deadline = time.monotonic() + deadline_s
    try:
        with httpx.stream("GET", uri, timeout=timeout, follow_redirects=False) as r:
            if r.status_code >= 500 or r.status_code == 429:
                raise DataError(f"data source {uri} answered HTTP {r.status_code}", retry=True)
            if r.status_code != 200:
                raise DataError(f"data source {uri} answered HTTP {r.status_code}")
            declared = r.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceRefused("source.uri", f"{uri} announces {declared} bytes, over the {max_bytes}-byte limit")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SourceRefused("source.uri", f"{uri} sent more than the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise DataError(f"data source {uri} took longer than {deadline_s:g} s", retry=True)
    except httpx.HTTPError as e:
        raise DataError(f"data source {uri} is down: {type(e).__name__}: {e}", retry=True) from None
    try:
        doc = json.loads(bytes(body))
    except ValueError:
        raise DataError(f"data source {uri} did not return JSON") from None
    if shape in ARRAY_LAYOUTS:
        return _candles(doc, shape, uri)
    rows = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not all(isinstance(x, dict) for x in rows):
        raise DataError(f"data source {uri}: expected a list of row objects")
    return pd.DataFrame(rows)


def _candles(doc: Any, body: str, uri: str) -> pd.DataFrame:
    """An exchange's candle array -> columns time (unix seconds), open, high, low, close, oldest first."""
    names, per_second = ARRAY_LAYOUTS[body]
    if not isinstance(doc, list) or not all(isinstance(x, list) and len(x) >= len(names) for x in doc):
        raise DataError(f"data source {uri}: expected a {body} array (a list of arrays of at least "
                        f"{len(names)} values)")
    rows = []
    for i, x in enumerate(doc):
        t = x[0]
        if isinstance(t, bool) or not isinstance(t, int) or t < 0 or t % per_second:
            raise DataError(f"data source {uri}: row {i + 1}: open time {t!r} is not a whole-second unix "
                            f"time{' in ms' if per_second > 1 else ''}")
        rows.append([t // per_second] + list(x[1:len(names)]))
    frame = pd.DataFrame(rows, columns=list(names))
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _chain_series(chain, address: str, column: str) -> pd.DataFrame:
    from oracle.errors import ChainError

    try:
        feed = chain.contract("PriceFeed", address)
        decimals = feed.functions.decimals().call()
        days, values = feed.functions.series().call()
    except ChainError:
        raise
    except Exception as e:
        raise DataError(f"on-chain feed {address} unreadable: {e}", retry=True) from None
    dates = pd.to_datetime([int(d) for d in days], unit="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"Date": dates, column: [v / 10**decimals for v in values]})


def validate_frame(frame: pd.DataFrame, columns: list[str], *, origin: str, time: str = "Date",
                   interval: str = "1d") -> pd.DataFrame:
    """`frame`'s `columns` as finite floats, indexed `Date` by the parsed `time` column (see
    `parse_times`), in increasing order. Repeats of a timestamp with identical values are merged;
    conflicting repeats, times out of order, and missing or non-numeric values are DataErrors naming
    `origin`, the column and the time. Other columns are dropped; gaps stay gaps."""
    if time not in frame.columns:
        raise DataError(f"{origin}: no {time!r} column")
    for c in columns:
        if c not in frame.columns:
            raise DataError(f"{origin}: no {c!r} column")
    stamps = parse_times(frame[time], interval, origin=origin, column=time)
    out = pd.DataFrame(index=pd.DatetimeIndex(stamps, name="Date"))
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{origin}: column {c!r} has a missing or non-numeric value on "
                            f"{_stamp(stamps.iloc[i], interval)} (row {i + 1})")
        out[c] = values
    if len(out) > 1:
        step = np.diff(out.index.asi8)
        if (step < 0).any():
            i = int(np.argmax(step < 0)) + 1
            raise DataError(f"{origin}: times not increasing at row {i + 1} "
                            f"({_stamp(out.index[i], interval)} after {_stamp(out.index[i - 1], interval)})")
    repeated = out.index.duplicated(keep=False)
    if repeated.any():
        rows = out[repeated]
        conflicting = rows.groupby(level=0).nunique(dropna=False).max(axis=1) > 1
        if conflicting.any():
            when = conflicting.index[int(np.argmax(conflicting.to_numpy()))]
            values = ", ".join(f"{c}={sorted(set(rows.loc[when, c]))}" for c in columns
                               if rows.loc[when, c].nunique() > 1)
            raise DataError(f"{origin}: {_stamp(when, interval)} appears more than once with conflicting "
                            f"values ({values})")
        out = out[~out.index.duplicated(keep="first")]
    return out


def parse_times(values: pd.Series, interval: str, *, origin: str, column: str = "Date") -> pd.Series:
    """A time column -> tz-naive UTC timestamps. Text is "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS"; an
    integer column is unix seconds. Each time must start a bar of `interval`: midnight for "1d",
    a whole hour for "1h". DataError naming the (1-based) row otherwise."""
    if interval not in INTERVALS:
        raise DataError(f"{origin}: unknown interval {interval!r} (known: {sorted(INTERVALS)})")
    if isinstance(values.dtype, pd.DatetimeTZDtype):  # e.g. parquet timestamps with a zone
        stamps = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(values.dtype):  # parquet timestamps without one: UTC
        stamps = values
    elif pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        try:
            stamps = pd.to_datetime(values, unit="s")
        except (ValueError, OverflowError) as e:
            raise DataError(f"{origin}: column {column!r} has a unix time out of range ({e})") from None
    else:
        text = values.astype("string")
        ok = text.str.fullmatch(_TIME_TEXT).fillna(False).to_numpy(dtype=bool)
        stamps = pd.to_datetime(text.where(ok), format="ISO8601", errors="coerce")
        bad = ~ok | stamps.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{origin}: column {column!r} row {i + 1}: unparseable time {values.iloc[i]!r} "
                            "(expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS, or integer unix seconds)")
    stamps = stamps.reset_index(drop=True)
    off = (stamps != stamps.dt.floor(INTERVALS[interval])).to_numpy()
    if off.any():
        i = int(np.argmax(off))
        unit = "midnight (a daily bar)" if interval == "1d" else "a whole hour (an hourly bar)"
        raise DataError(f"{origin}: column {column!r} row {i + 1}: time {stamps.iloc[i]} is not at {unit}")
    return stamps


def _stamp(t: pd.Timestamp, interval: str) -> str:
    return t.strftime("%Y-%m-%d") if interval == "1d" else t.strftime("%Y-%m-%d %H:%M")
