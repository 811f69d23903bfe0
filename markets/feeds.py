"""Data feeds: load a market's source into a validated pandas frame.

A frame is indexed by day (`Date`), strictly increasing, without duplicates;
the columns a recipe reads must be finite. Anything else is a DataError that
says what is wrong, never a silent fix.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oracle.canonical import keccak_hex
from oracle.errors import DataError

BUNDLED_PREFIX = "bundled:"


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


def load_source(source: dict[str, Any], *, chain=None, http_timeout: float = 10.0) -> pd.DataFrame:
    """Load and validate the frame a market's `source` names.

    csv / parquet: a file (`bundled:NAME` for data shipped with the oracle).
    http_json: GET `uri` -> [{"Date": "YYYY-MM-DD", "<column>": number}, ...] (or {"data": [...]}).
    chain: a `PriceFeed` contract's `series()` at `address` (needs `chain`).
    """
    kind = source.get("kind")
    column = source.get("column", "Close")
    if kind in ("csv", "parquet"):
        path = resolve_uri(source["uri"])
        if not path.exists():
            raise DataError(f"data file {path} does not exist", retry=True)
        raw = path.read_bytes()
        pinned = source.get("sha3")
        if pinned and keccak_hex(raw) != pinned:
            raise DataError(f"data file {path} does not match its pinned hash {pinned}")
        try:
            frame = pd.read_csv(io.BytesIO(raw)) if kind == "csv" else pd.read_parquet(io.BytesIO(raw))
        except Exception as e:
            raise DataError(f"{path}: unreadable {kind}: {e}") from None
        return validate_frame(frame, [column], origin=str(path))
    if kind == "http_json":
        return validate_frame(_http_json(source["uri"], column, http_timeout), [column], origin=source["uri"])
    if kind == "chain":
        if chain is None:
            raise DataError("an on-chain source needs a chain connection")
        return validate_frame(_chain_series(chain, source["address"], column), [column],
                              origin=f"PriceFeed {source['address']}")
    raise DataError(f"unsupported source kind {kind!r}")


def _http_json(uri: str, column: str, timeout: float) -> pd.DataFrame:
    import httpx

    try:
        r = httpx.get(uri, timeout=timeout)
    except httpx.HTTPError as e:
        raise DataError(f"data source {uri} is down: {type(e).__name__}: {e}", retry=True) from None
    if r.status_code >= 500 or r.status_code == 429:
        raise DataError(f"data source {uri} answered HTTP {r.status_code}", retry=True)
    if r.status_code != 200:
        raise DataError(f"data source {uri} answered HTTP {r.status_code}")
    try:
        doc = r.json()
    except ValueError:
        raise DataError(f"data source {uri} did not return JSON") from None
    rows = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not all(isinstance(x, dict) for x in rows):
        raise DataError(f"data source {uri}: expected a list of row objects")
    return pd.DataFrame(rows)


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


def validate_frame(frame: pd.DataFrame, columns: list[str], *, origin: str) -> pd.DataFrame:
    if "Date" not in frame.columns:
        raise DataError(f"{origin}: no 'Date' column")
    for c in columns:
        if c not in frame.columns:
            raise DataError(f"{origin}: no {c!r} column")
    try:
        dates = pd.to_datetime(frame["Date"], format="%Y-%m-%d")
    except (ValueError, TypeError) as e:
        raise DataError(f"{origin}: unparseable date ({e})") from None
    if dates.duplicated().any():
        raise DataError(f"{origin}: duplicated dates, e.g. {dates[dates.duplicated()].iloc[0].date()}")
    if not dates.is_monotonic_increasing:
        bad = int(np.argmax(np.diff(dates.values.astype("int64")) < 0)) + 1
        raise DataError(f"{origin}: dates not increasing at row {bad} ({dates.iloc[bad].date()})")
    out = frame.set_index(dates).drop(columns=["Date"])
    out.index.name = "Date"
    for c in columns:
        values = pd.to_numeric(out[c], errors="coerce")
        if not np.isfinite(values.to_numpy(dtype=float)).all():
            first = values[~np.isfinite(values.to_numpy(dtype=float))].index[0].date()
            raise DataError(f"{origin}: column {c!r} has a missing or non-numeric value on {first}")
        out[c] = values.astype(float)
    return out
