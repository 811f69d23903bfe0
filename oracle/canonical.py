"""Canonical JSON and the hashes built on it.

Every hash that crosses a boundary (spec hash, bundle hash, artifact ids) is
keccak256 over canonical JSON: sorted keys, no spaces, UTF-8, no NaN.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

from eth_hash.auto import keccak

from .errors import FieldError

_BYTES32_HEX = re.compile(r"0x[0-9a-fA-F]{64}")  # exactly: bytes.fromhex alone would skip whitespace


class NotCanonical(FieldError, ValueError):
    """A value has no canonical JSON form (a non-finite number, a non-string key, a non-JSON type).

    A ValueError too, so callers that caught json's own refusal still do."""


def check_document(d: dict, *, fields: Iterable[str], required: Iterable[str], version: int, kind: str,
                   error: type[FieldError]) -> None:
    """The shape every versioned document shares (a spec, a bundle), so that it has one hash:
    only known fields, every required one, a canonical form, and a version that is the integer
    itself (true == 1 == 1.0 in Python, not in the hash). Raises `error(field, reason)`."""
    known = set(fields)
    for k in d:
        if k not in known:
            raise error(k, "unknown field")
    for k in sorted(required):
        if k not in d:
            raise error(k, "missing")
    try:
        check_canonical(d)
    except NotCanonical as e:
        raise error(e.field, e.reason) from None
    if type(d["version"]) is not int:
        raise error("version", f"must be the integer {version}, got {d['version']!r}")
    if d["version"] != version:
        raise error("version", f"unsupported {kind} version {d['version']!r} (this build reads {version})")


def check_canonical(obj: Any, path: str = "") -> None:
    """Raise NotCanonical naming the first field (dotted path) that canonical JSON cannot hold:
    NaN/Infinity (JSON has no such numbers, and 1e400 parses to one), keys that are not strings,
    values that are not str/int/float/bool/None/list/dict."""
    where = path or "value"
    if obj is None or isinstance(obj, (str, bool, int)):
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise NotCanonical(where, f"{obj!r} is not a finite number (NaN, Infinity or out of range)")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise NotCanonical(where, f"key {k!r} is not a string")
            check_canonical(v, f"{path}.{k}" if path else k)
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_canonical(v, f"{where}[{i}]")
        return
    raise NotCanonical(where, f"a {type(obj).__name__} has no JSON form")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8; NotCanonical (naming the field) for what JSON cannot hold."""
    check_canonical(obj)
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def keccak_hex(data: bytes) -> str:
    """0x-prefixed keccak256 of raw bytes."""
    return "0x" + keccak(data).hex()


def hash_json(obj: Any) -> str:
    return keccak_hex(canonical_json(obj))


def to_bytes32(value: str) -> bytes:
    """Parse a 0x-prefixed 32-byte hex string; raise ValueError otherwise."""
    if not isinstance(value, str) or not _BYTES32_HEX.fullmatch(value):
        raise ValueError(f"expected 0x-prefixed 32-byte hex, got {value!r}")
    return bytes.fromhex(value[2:])


def is_bytes32(value: object) -> bool:
    try:
        to_bytes32(value)  # type: ignore[arg-type]
        return True
    except ValueError:
        return False
