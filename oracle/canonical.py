"""Canonical JSON and the hashes built on it.

Every hash that crosses a boundary (spec hash, bundle hash, artifact ids) is
keccak256 over canonical JSON: sorted keys, no spaces, UTF-8, no NaN.
"""

from __future__ import annotations

import json
from typing import Any

from eth_utils import keccak


def canonical_json(obj: Any) -> bytes:
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
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise ValueError(f"expected 0x-prefixed 32-byte hex, got {value!r}")
    return bytes.fromhex(value[2:])


def is_bytes32(value: object) -> bool:
    try:
        to_bytes32(value)  # type: ignore[arg-type]
        return True
    except ValueError:
        return False
