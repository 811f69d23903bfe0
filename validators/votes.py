"""What validators produce and aggregators count: votes, refusals, reviews, BLS shares, submissions.

Its own module so that the validator (which makes votes) and the aggregator (which counts them)
both depend on it and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.eip712 import Resolution
from oracle.errors import OracleError
from oracle.settlement import Settlement


class VoteRejected(OracleError):
    """A vote (or BLS share) the aggregator refuses: not a member, wrong digest, bad signature."""


@dataclass(frozen=True)
class Vote:
    validator: str
    resolution: Resolution
    digest: str
    signature: bytes
    checks: tuple[str, ...] = ()
    verify_s: float = 0.0
    # a final round's vote also names who made the proof: the member's `ProverCredit(marketId,
    # proofHash, prover)` signature under the dispute court's domain (`DisputeCourt.claimProverFee`)
    prover: str = ""
    prover_credit: bytes = b""

    def to_json(self) -> dict:
        doc = {
            "validator": self.validator,
            "resolution": self.resolution.to_json(),
            "digest": self.digest,
            "signature": "0x" + self.signature.hex(),
            "checks": list(self.checks),
        }
        if self.prover_credit:  # absent otherwise: votes stored before the court read the same
            doc["prover"] = self.prover
            doc["prover_credit"] = "0x" + self.prover_credit.hex()
        return doc

    @classmethod
    def from_json(cls, d: dict) -> "Vote":
        """A vote as received from the network: shape-checked here, signature by the aggregator."""
        try:
            sig = d["signature"]
            if not (isinstance(sig, str) and sig.startswith("0x") and len(sig) == 132):
                raise ValueError("signature: expected 65 bytes as 0x-hex")
            prover, credit = d.get("prover", ""), d.get("prover_credit", "")
            if credit or prover:
                if not (isinstance(credit, str) and credit.startswith("0x") and len(credit) == 132):
                    raise ValueError("prover_credit: expected 65 bytes as 0x-hex")
                if not (isinstance(prover, str) and prover.startswith("0x") and len(prover) == 42):
                    raise ValueError("prover: expected a 0x-prefixed 20-byte address")
                int(prover, 16)
            return cls(str(d["validator"]), Resolution.from_json(d["resolution"]), str(d["digest"]),
                       bytes.fromhex(sig[2:]), tuple(d.get("checks", ())), prover=prover,
                       prover_credit=bytes.fromhex(credit[2:]) if credit else b"")
        except (KeyError, TypeError, ValueError) as e:
            raise OracleError(f"malformed vote: {e}") from None


@dataclass(frozen=True)
class Refusal:
    validator: str
    market_id: str
    round: int
    check: str
    reason: str

    def to_json(self) -> dict:
        return {"validator": self.validator, "market_id": self.market_id, "round": self.round,
                "check": self.check, "reason": self.reason}


@dataclass
class Review:
    """The outcome of one validator looking at one bundle."""

    vote: Vote | None
    refusal: Refusal | None
    checks: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per passed check

    @property
    def signed(self) -> bool:
        return self.vote is not None


@dataclass(frozen=True)
class BlsVote:
    """A member's BLS signature (96 bytes, compressed) over `batchDigest(root, count)`."""

    validator: str
    root: bytes
    count: int
    signature: bytes


class _Settled:
    settlement: Settlement

    @property
    def tx_hash(self) -> str | None:
        """Our transaction's hash; None when another submitter settled first or another path settles."""
        return self.settlement.tx_hash


@dataclass(frozen=True)
class Submission(_Settled):
    """A quorum reached for one resolution, and what became of it on-chain."""

    market_id: str
    round: int
    resolution: Resolution
    signers: tuple[str, ...]
    settlement: Settlement


@dataclass(frozen=True)
class BlsSubmission(_Settled):
    """t BLS shares over one batch root added into one aggregate, and what became of it on-chain."""

    root: bytes
    count: int
    signer_bitmap: int
    aggregate_signature: bytes
    signers: tuple[str, ...]
    settlement: Settlement


@dataclass(frozen=True)
class Equivocation:
    validator: str
    market_id: str
    round: int
    first: Vote
    second: Vote

    def to_json(self) -> dict:
        return {"validator": self.validator, "market_id": self.market_id, "round": self.round,
                "first": self.first.to_json(), "second": self.second.to_json()}
