"""BLS12-381 aggregate signatures for the quorum (the IETF proof-of-possession ciphersuite).

Signing, aggregation, proof of possession and verification are blspy's `PopSchemeMPL`
(Chia's native binding of the IETF draft, `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`):
public keys are G1 points (48 bytes compressed), signatures G2 points (96 bytes). The
contract side (`contracts/BLS.sol`) needs the EIP-2537 uncompressed encodings, which
`to_eip2537_g1/g2` produce with py_ecc's decompression.

What a validator BLS-signs is the 32-byte EIP-712 digest of `ResolutionBatch(root, count)`
(`QuorumOracle.batchDigest`): bound to the chain id, the contract, the root and the count.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Iterable, Sequence

import blspy
from eth_keyfile import create_keyfile_json, decode_keyfile_json
from py_ecc.bls import G2ProofOfPossession
from py_ecc.bls.g2_primitives import G1_to_pubkey, G2_to_signature, pubkey_to_G1, signature_to_G2
from py_ecc.optimized_bls12_381 import FQ, FQ2, field_modulus, normalize

from .errors import FieldError, OracleError

SCHEME = blspy.PopSchemeMPL
DST_SIG = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
DST_POP = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
G1_SIZE, G2_SIZE = 128, 256


def _fp(v) -> bytes:
    return int(v).to_bytes(64, "big")


def to_eip2537_g1(public_key: bytes) -> bytes:
    """48-byte compressed G1 -> 128-byte EIP-2537 encoding (x || y, 64 bytes each)."""
    x, y = normalize(pubkey_to_G1(bytes(public_key)))
    return _fp(x) + _fp(y)


def from_eip2537_g1(point: bytes) -> bytes:
    """128-byte EIP-2537 G1 -> 48-byte compressed (as the library and the contract's PoP see it)."""
    if len(point) != G1_SIZE:
        raise FieldError("public_key", f"an EIP-2537 G1 point is {G1_SIZE} bytes, got {len(point)}")
    x, y = int.from_bytes(point[:64], "big"), int.from_bytes(point[64:], "big")
    return bytes(G1_to_pubkey((FQ(x), FQ(y), FQ(1))))


def keys_of_key_set(key_set: bytes) -> list[bytes | None]:
    """Inverse of `key_set_calldata`: each member's compressed key, None where none is registered."""
    out = []
    for i in range(0, len(key_set), G1_SIZE):
        chunk = key_set[i:i + G1_SIZE]
        out.append(None if not any(chunk) else from_eip2537_g1(chunk))
    return out


def to_eip2537_g2(signature: bytes) -> bytes:
    """96-byte compressed G2 -> 256-byte EIP-2537 encoding (x.c0 || x.c1 || y.c0 || y.c1)."""
    x, y = normalize(signature_to_G2(bytes(signature)))
    return _fp(x.coeffs[0]) + _fp(x.coeffs[1]) + _fp(y.coeffs[0]) + _fp(y.coeffs[1])


def from_eip2537_g2(point: bytes) -> bytes:
    """256-byte EIP-2537 G2 -> 96-byte compressed (what the library verifies). Checks only the
    length: `verify`/`fast_aggregate_verify` refuse a point off the curve or the subgroup."""
    if len(point) != G2_SIZE:
        raise FieldError("signature", f"an EIP-2537 G2 point is {G2_SIZE} bytes, got {len(point)}")
    if not any(point):  # the point at infinity
        return bytes([0xC0]) + bytes(95)
    coords = [int.from_bytes(point[i:i + 64], "big") for i in range(0, G2_SIZE, 64)]
    if any(c >= field_modulus for c in coords):  # EIP-2537 refuses a non-canonical coordinate
        raise FieldError("signature", "an EIP-2537 G2 coordinate is not below the field modulus")
    x0, x1, y0, y1 = coords
    try:
        return bytes(G2_to_signature((FQ2([x0, x1]), FQ2([y0, y1]), FQ2.one())))
    except ValueError as e:
        raise FieldError("signature", f"not a BLS12-381 G2 point: {e}") from None


def _g1(public_key: bytes, field: str = "public_key") -> blspy.G1Element:
    try:
        return blspy.G1Element.from_bytes(bytes(public_key))  # checks the encoding and the subgroup
    except (ValueError, RuntimeError) as e:
        raise FieldError(field, f"not a BLS12-381 G1 public key: {e}") from None


def _g2(signature: bytes, field: str = "signature") -> blspy.G2Element:
    try:
        return blspy.G2Element.from_bytes(bytes(signature))
    except (ValueError, RuntimeError) as e:
        raise FieldError(field, f"not a BLS12-381 G2 signature: {e}") from None


@dataclass(frozen=True)
class BlsKey:
    """A validator's BLS secret key. Stored encrypted beside its ECDSA keystore."""

    secret: bytes

    @classmethod
    def generate(cls) -> "BlsKey":
        return cls(bytes(SCHEME.key_gen(secrets.token_bytes(32))))

    @property
    def _sk(self) -> blspy.PrivateKey:
        return blspy.PrivateKey.from_bytes(self.secret)

    @property
    def public_key(self) -> bytes:
        return bytes(self._sk.get_g1())

    def sign(self, message: bytes) -> bytes:
        return bytes(SCHEME.sign(self._sk, bytes(message)))

    def proof_of_possession(self, address: str) -> bytes:
        """The key's proof of possession for the member `address` registering it: a signature under
        the POP tag over (compressed key || address), so a copied proof registers nothing for
        another account (`QuorumOracle.registerBlsKey` checks it against `msg.sender`)."""
        sk = int.from_bytes(self.secret, "big")
        return bytes(G2ProofOfPossession._CoreSign(sk, possession_message(self.public_key, address), DST_POP))

    def to_keystore(self, password: str, *, iterations: int | None = None) -> dict:
        doc = create_keyfile_json(self.secret, password.encode(), kdf="scrypt", iterations=iterations)
        doc["address"] = ""  # not an Ethereum account: the file holds a BLS12-381 scalar
        doc["bls_public_key"] = self.public_key.hex()
        return doc

    @classmethod
    def from_keystore(cls, doc: dict, password: str) -> "BlsKey":
        try:
            key = cls(bytes(decode_keyfile_json(doc, password.encode())))
        except ValueError as e:
            raise OracleError(f"cannot decrypt BLS key: {e}") from None
        if doc.get("bls_public_key") and key.public_key.hex() != doc["bls_public_key"]:
            raise OracleError("BLS keystore: decrypted key does not match its recorded public key")
        return key

    def __repr__(self) -> str:
        return f"BlsKey(public_key={self.public_key.hex()[:16]}…)"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return SCHEME.verify(_g1(public_key), bytes(message), _g2(signature))


def possession_message(public_key: bytes, address: str) -> bytes:
    """What a proof of possession signs: the compressed key, then the registering account's 20 bytes."""
    account = bytes.fromhex(address[2:] if address.startswith("0x") else address)
    if len(account) != 20:
        raise FieldError("address", f"expected a 20-byte account, got {len(account)} bytes")
    return bytes(_g1(public_key)) + account


def verify_possession(public_key: bytes, proof: bytes, address: str) -> bool:
    _g2(proof, "proof_of_possession")  # a malformed proof is a FieldError, not False
    return G2ProofOfPossession._CoreVerify(public_key, possession_message(public_key, address), proof, DST_POP)


def aggregate(signatures: Iterable[bytes]) -> bytes:
    sigs = [_g2(s) for s in signatures]
    if not sigs:
        raise FieldError("signatures", "nothing to aggregate")
    return bytes(SCHEME.aggregate(sigs))


def fast_aggregate_verify(public_keys: Sequence[bytes], message: bytes, signature: bytes) -> bool:
    """Same message, many signers: valid only for keys whose possession was proven."""
    return SCHEME.fast_aggregate_verify([_g1(k) for k in public_keys], bytes(message), _g2(signature))


def key_set_calldata(keys_in_member_order: Sequence[bytes | None]) -> bytes:
    """The `publicKeys` argument: each member's EIP-2537 key or 128 zero bytes if none."""
    return b"".join(to_eip2537_g1(k) if k else bytes(G1_SIZE) for k in keys_in_member_order)


def bitmap_of(indices: Iterable[int]) -> int:
    bits = 0
    for i in indices:
        if not 0 <= i < 256:
            raise FieldError("signers", f"member index {i} is outside 0..255")
        bits |= 1 << i
    return bits


def save_key(path: os.PathLike, key: BlsKey, password: str, *, iterations: int | None = None) -> None:
    from .store import atomic_write

    atomic_write(path, json.dumps(key.to_keystore(password, iterations=iterations)).encode())
    os.chmod(path, 0o600)


def load_key(path: os.PathLike, password: str) -> BlsKey:
    with open(path) as f:
        return BlsKey.from_keystore(json.load(f), password)
