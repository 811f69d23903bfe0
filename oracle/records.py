"""What the oracle recorded for a market, read back whole.

`QuorumOracle` keeps two storage slots per resolved market (`recordOf`: when, under which validator
epoch, the outcome, round and probability, and the resolution's EIP-712 struct hash); the whole
resolution is in its `Resolved` event. `recorded_resolution` joins the two: the event whose resolution
hashes to the recorded struct hash (any other log, even the oracle's own, is never taken for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .batch import leaf
from .canonical import to_bytes32
from .chain import Chain
from .eip712 import Resolution
from .errors import NotFound


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


@dataclass(frozen=True)
class OnchainResolution:
    resolution: Resolution
    resolved_at: int  # when the quorum's resolution was recorded (proposed; final after the dispute window)
    submitter: str  # the sender of the transaction that recorded it
    epoch: int = 0  # the oracle's validatorEpoch it was recorded under


@dataclass(frozen=True)
class ResolvedEvent:
    """One `Resolved` log of the oracle: what a transaction recorded for a market, and where."""

    resolution: Resolution
    signers: tuple[str, ...]
    tx_hash: str
    block: int

    @property
    def market_id(self) -> str:
        return self.resolution.market_id

    def to_json(self) -> dict[str, Any]:
        return {**self.resolution.to_json(), "signers": list(self.signers), "tx_hash": self.tx_hash,
                "block": self.block}


def resolved_event(log: Any) -> ResolvedEvent:
    a = log["args"]
    resolution = Resolution(_hex(a["marketId"]), a["round"], a["outcome"], a["probabilityPpm"], _hex(a["modelId"]),
                            _hex(a["inputsHash"]), _hex(a["proofHash"]))
    return ResolvedEvent(resolution, tuple(a["signers"]), _hex(log["transactionHash"]), log["blockNumber"])


def recorded_resolution(chain: Chain, oracle: Any, market_id: str, *, from_block: int = 0) -> OnchainResolution:
    """The resolution `oracle` (a QuorumOracle contract object) recorded for `market_id`: ChainError
    `NotResolved` if none; NotFound if no `Resolved` log since `from_block` carries the recorded one."""
    mid = to_bytes32(market_id)
    resolved_at, epoch, _outcome, _round, _ppm, struct_hash = chain.call(
        oracle.functions.recordOf(mid), action="QuorumOracle.recordOf")
    for log in chain.logs(oracle.events.Resolved(), from_block=from_block, argument_filters={"marketId": mid}):
        event = resolved_event(log)
        if leaf(event.resolution) == bytes(struct_hash):
            submitter = chain.transaction(event.tx_hash)["from"]
            return OnchainResolution(event.resolution, resolved_at, submitter, epoch)
    raise NotFound(f"market {market_id}: no Resolved log since block {from_block} carries the recorded "
                   f"resolution (struct hash {_hex(struct_hash)})")
