"""Data feeds: load a market's source into a validated pandas frame.

A frame is indexed by day (`Date`), strictly increasing, without duplicates;
the columns a recipe reads must be finite. Anything else is a DataError that
says what is wrong, never a silent fix.
"""

from __future__ import annotations

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


def load_source(source: dict[str, Any]) -> pd.DataFrame:
    """Load and validate the frame a market's `source` names."""
    kind = source.get("kind")
    if kind in ("csv", "parquet"):
        path = resolve_uri(source["uri"])
        if not path.exists():
            raise DataError(f"data file {path} does not exist", retry=True)
        raw = path.read_bytes()
        pinned = source.get("sha3")
        if pinned and keccak_hex(raw) != pinned:
            raise DataError(f"data file {path} does not match its pinned hash {pinned}")
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
        return validate_frame(frame, [source.get("column", "Close")], origin=str(path))
    raise DataError(f"unsupported source kind {kind!r}")


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
