"""Spec fields shared by the market spec and its evidence block: times and data sources."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from oracle.canonical import is_bytes32
from oracle.errors import SpecError

SOURCE_KINDS = ("csv", "parquet", "http_json", "chain")


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise SpecError(field, "must be an ISO-8601 time string such as 2021-06-08T00:00:00Z")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(field, f"not an ISO-8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise SpecError(field, "must carry a timezone (e.g. trailing Z for UTC)")
    return t.astimezone(timezone.utc)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_source(source: Any, where: str = "source") -> dict[str, Any]:
    """One data source as a spec names it (every field a string), checked for what any role would
    refuse to read; returned in canonical form."""
    from .feeds import SOURCE_FIELDS

    if not isinstance(source, dict) or source.get("kind") not in SOURCE_KINDS:
        raise SpecError(f"{where}.kind", f"must be one of {list(SOURCE_KINDS)}")
    for k in source:
        if k not in SOURCE_FIELDS:
            raise SpecError(f"{where}.{k}", "unknown field")
        if not isinstance(source[k], str):
            raise SpecError(f"{where}.{k}", "must be a string")
    source = dict(source)
    if source["kind"] == "chain":
        address = source.get("address")
        if not isinstance(address, str) or not address.startswith("0x") or len(address) != 42:
            raise SpecError(f"{where}.address", "must be a 0x-prefixed 20-byte contract address")
        from eth_utils import is_hex_address, to_checksum_address

        if not is_hex_address(address):
            raise SpecError(f"{where}.address", "must be a 0x-prefixed 20-byte contract address")
        # one address, one spec hash: always its EIP-55 checksum form
        source["address"] = to_checksum_address(address)
    else:
        from .feeds import SourceRefused, check_source_uri

        if not isinstance(source.get("uri"), str) or not source["uri"]:
            raise SpecError(f"{where}.uri", "must be a non-empty string")
        try:  # /dev/zero, a FIFO, a non-http URL: refused here, whatever reads the spec later
            check_source_uri(source["kind"], source["uri"])
        except SourceRefused as e:
            raise SpecError(where + e.field[len("source"):], e.field_reason) from None
    if "sha3" in source and not (is_bytes32(source["sha3"]) and source["sha3"] == source["sha3"].lower()):
        raise SpecError(f"{where}.sha3", "must be 0x + 64 lowercase hex digits")
    return source
