"""Equivocation evidence: two votes by one member for one market and round, with different
resolutions. Anyone can check a record an aggregator kept (its evidence.jsonl)."""

from __future__ import annotations

from oracle.eip712 import Domain, digest, recover
from oracle.errors import OracleError

from .votes import Vote


def check_equivocation(doc: dict) -> str:
    """Check an evidence record from anyone: both votes recover to the same member, for the same
    market and round, with different resolutions, under the recorded chain and contract.
    Returns the equivocating address; raises OracleError otherwise."""
    first, second = Vote.from_json(doc["first"]), Vote.from_json(doc["second"])
    domain = Domain(chain_id=int(doc["chain_id"]), verifying_contract=doc["oracle"])
    a, b = recover(domain, first.resolution, first.signature), recover(domain, second.resolution, second.signature)
    if a != b:
        raise OracleError(f"evidence: signers differ ({a} vs {b})")
    r1, r2 = first.resolution, second.resolution
    if (r1.market_id, r1.round) != (r2.market_id, r2.round):
        raise OracleError("evidence: the votes are for different markets or rounds")
    if r1 == r2 or digest(domain, r1) == digest(domain, r2):  # one signed message, however it is spelled
        raise OracleError("evidence: the two votes are the same resolution")
    return a
