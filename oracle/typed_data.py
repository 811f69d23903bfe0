"""EIP-712 typed data and secp256k1 signatures, read the one way the contracts read them.

The oracle signs and checks a handful of flat structs (`Resolution`, `Forecast`, `ResolutionBatch`,
`Ruling`, `ProverCredit`, `ProofBundle`) whose fields are all atomic: `bytes32`, `uintN`, `address`,
`string`. This module encodes exactly those (anything else is refused, not guessed) and signs and
recovers with libsecp256k1 (coincurve), so that a validator reviewing a proof imports neither
`eth_account` nor what it drags in (`eth_keyfile` builds BLS pairing tables at import: ~0.3 s of
every cold start). A signature is read as `contracts/StrictEcdsa.sol` reads it: 65 bytes, low s,
v in {27, 28}; anything else is refused.

`Signable` has the fields of eth_account's `SignableMessage` (version, header, body), so a key held by
eth_account signs it unchanged, and `tests/test_typed_data.py` checks the digests against
`eth_account.messages.encode_typed_data` and the contracts'.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import coincurve
from eth_hash.auto import keccak

from .errors import FieldError

_SIGNATURE_HEX = re.compile(r"0x[0-9a-fA-F]{130}")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2


class Signable(NamedTuple):
    """An EIP-191 message: the signed digest is keccak(0x19 || version || header || body)."""

    version: bytes
    header: bytes
    body: bytes


class BadSignature(ValueError):
    """Not a signature the contracts would read (length, high s, v, or no key recovers from it)."""


def type_string(primary: str, fields: list[dict[str, str]]) -> str:
    return primary + "(" + ",".join(f"{f['type']} {f['name']}" for f in fields) + ")"


def type_hash(primary: str, fields: list[dict[str, str]]) -> bytes:
    return keccak(type_string(primary, fields).encode())


def _hex(value: Any, size: int) -> Any:
    """`value` as bytes when it is exactly 0x + 2·size hex digits (no spaces, no other spelling); else unchanged."""
    if isinstance(value, str) and re.fullmatch(f"0x[0-9a-fA-F]{{{2 * size}}}", value):
        return bytes.fromhex(value[2:])
    return value


def _word(kind: str, value: Any, name: str) -> bytes:
    """One field, ABI-encoded to 32 bytes as EIP-712's encodeData does for atomic types."""
    if kind == "bytes32":
        raw = _hex(value, 32)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
            raise FieldError(name, f"a bytes32 is 32 bytes, got {value!r}")
        return bytes(raw)
    if kind.startswith("uint"):
        bits = int(kind[4:] or 256)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
            raise FieldError(name, f"a {kind} is an integer in [0, 2^{bits}), got {value!r}")
        return value.to_bytes(32, "big")
    if kind == "address":
        raw = _hex(value, 20)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 20:
            raise FieldError(name, f"an address is 20 bytes, got {value!r}")
        return bytes(12) + bytes(raw)
    if kind == "string":
        if not isinstance(value, str):
            raise FieldError(name, f"a string, got {value!r}")
        return keccak(value.encode())
    raise FieldError(name, f"type {kind!r} is not one the oracle signs (bytes32, uintN, address, string)")


def hash_struct(primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> bytes:
    extra = set(message) - {f["name"] for f in fields}
    if extra:
        raise FieldError(primary, f"fields not in the type: {sorted(extra)}")
    words = [_word(f["type"], message[f["name"]], f"{primary}.{f['name']}") if f["name"] in message
             else _missing(primary, f["name"]) for f in fields]
    return keccak(type_hash(primary, fields) + b"".join(words))


def _missing(primary: str, name: str) -> bytes:
    raise FieldError(f"{primary}.{name}", "missing")


def encode(domain_fields: list[dict[str, str]], domain: dict[str, Any], primary: str,
           fields: list[dict[str, str]], message: dict[str, Any]) -> Signable:
    """EIP-712: version 0x01, header the domain separator, body the struct's hash."""
    return Signable(b"\x01", hash_struct("EIP712Domain", domain_fields, domain), hash_struct(primary, fields, message))


def personal(message: bytes) -> Signable:
    """EIP-191 version 0x45 (`personal_sign`): what the network's envelopes are signed as."""
    return Signable(b"E", b"thereum Signed Message:\n" + str(len(message)).encode(), message)


def digest(m: Signable) -> bytes:
    return keccak(b"\x19" + m.version + m.header + m.body)


def to_checksum_address(raw: bytes) -> str:
    """EIP-55 spelling of a 20-byte address."""
    h = raw.hex()
    mask = keccak(h.encode()).hex()
    return "0x" + "".join(c.upper() if int(m, 16) >= 8 else c for c, m in zip(h, mask))


def recover(m: Signable, signature: bytes | str) -> str:
    """The checksummed address whose key signed `m` (`signature`: bytes or 0x-hex); BadSignature unless
    the contracts would read it."""
    if isinstance(signature, str):
        if not _SIGNATURE_HEX.fullmatch(signature):
            raise BadSignature("a signature in text is 0x and 130 hex digits, nothing else")
        signature = bytes.fromhex(signature[2:])
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise BadSignature(f"a signature is bytes or 0x-hex, not {type(signature).__name__}")
    sig = bytes(signature)
    if len(sig) != 65:
        raise BadSignature(f"a signature is 65 bytes (r, s, v), got {len(sig)}")
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if not (0 < r < SECP256K1_N and 0 < s <= HALF_N):
        raise BadSignature("r or s out of range (s must be low: its high twin is refused)")
    if v not in (27, 28):
        raise BadSignature(f"v must be 27 or 28, got {v}")
    try:
        pub = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([v - 27]), digest(m), hasher=None)
    except Exception as e:  # libsecp256k1 found no key
        raise BadSignature(f"no key recovers from this signature ({e})") from None
    return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])
