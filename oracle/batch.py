"""Batched resolution: one EIP-712 signature over a Merkle root of many resolutions.

Leaves are the EIP-712 struct hashes of each `Resolution` (`QuorumOracle.hashResolution`);
pairs hash sorted (keccak(min || max)) and an odd node moves up unchanged, exactly as
`QuorumOracle.merkleRoot` computes it.
"""

from __future__ import annotations

from typing import Sequence

from eth_hash.auto import keccak

from .eip712 import EIP712_DOMAIN_TYPE, RESOLUTION_TYPE, Domain, Resolution
from .typed_data import Signable, digest, encode, hash_struct
BATCH_TYPE = [{"name": "root", "type": "bytes32"}, {"name": "count", "type": "uint32"}]


def leaf(r: Resolution) -> bytes:
    """A final round's struct hash; a forecast round is never a batch leaf (batches settle markets)."""
    if not r.final:
        raise ValueError(f"round {r.round} of {r.market_id} is a forecast: it cannot be part of a batch")
    return hash_struct("Resolution", RESOLUTION_TYPE, r.message())


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    level = list(leaves)
    if not level:
        raise ValueError("empty batch")
    while len(level) > 1:
        level = [_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    level, proof = list(leaves), []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = [_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        index //= 2
    return proof


def included(leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """The proof folds `leaf_hash` up to `root`, as `QuorumOracle.verifyInclusion` folds it."""
    h = bytes(leaf_hash)
    for sibling in proof:
        h = _pair(h, bytes(sibling))
    return h == bytes(root)


def batch_signable(domain: Domain, root: bytes, count: int) -> Signable:
    return encode(EIP712_DOMAIN_TYPE, domain.as_dict(), "ResolutionBatch", BATCH_TYPE, {"root": root, "count": count})


def batch_digest(domain: Domain, root: bytes, count: int) -> bytes:
    """The 32-byte EIP-712 digest of `ResolutionBatch(root, count)`: `QuorumOracle.batchDigest`."""
    return digest(batch_signable(domain, root, count))
