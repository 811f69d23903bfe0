"""EIP-712 typed data for the oracle: the `Resolution` and `Forecast` validators sign.

A final round is signed as a `Resolution` (it settles the market); a forecast round as a
`Forecast` (it only posts a probability). Two types, so no forecast signature is ever a
signature over a `Resolution`, on any settlement path.

Type strings here are an interface: `contracts/QuorumOracle.sol` hashes the
same structs, and a test checks both digests agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .canonical import to_bytes32
from .typed_data import Signable, digest as signable_hash, encode, recover as recover_signable

DOMAIN_NAME = "AIOracle QuorumOracle"
DOMAIN_VERSION = "1"
INVALID_OUTCOME = 0xFFFF
PPM = 1_000_000

EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

RESOLUTION_TYPE = [
    {"name": "marketId", "type": "bytes32"},
    {"name": "round", "type": "uint32"},
    {"name": "outcome", "type": "uint16"},
    {"name": "probabilityPpm", "type": "uint32"},
    {"name": "modelId", "type": "bytes32"},
    {"name": "inputsHash", "type": "bytes32"},
    {"name": "proofHash", "type": "bytes32"},
]

# A forecast carries no outcome: it is a probability, never an answer.
FORECAST_TYPE = [f for f in RESOLUTION_TYPE if f["name"] != "outcome"]


@dataclass(frozen=True)
class Domain:
    """Binds a signature to one chain and one oracle contract."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True)
class Resolution:
    """What a validator vouches for: this market, this outcome, from this proof.

    `final`: the market's final round, signed as the EIP-712 `Resolution` that settles it;
    otherwise a forecast round, signed as a `Forecast` (no outcome) that only posts.
    """

    market_id: str
    round: int
    outcome: int
    probability_ppm: int
    model_id: str
    inputs_hash: str
    proof_hash: str
    final: bool = True

    def __post_init__(self):
        # one spelling of each id and hash (lower-case hex): votes are tallied and compared by these
        # fields, and an upper-case twin of one resolution must be the same resolution
        for name in ("market_id", "model_id", "inputs_hash", "proof_hash"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.lower())

    @property
    def primary_type(self) -> str:
        return "Resolution" if self.final else "Forecast"

    @property
    def fields(self) -> list[dict[str, str]]:
        return RESOLUTION_TYPE if self.final else FORECAST_TYPE

    def message(self) -> dict[str, Any]:
        m = {
            "marketId": to_bytes32(self.market_id),
            "round": self.round,
            "outcome": self.outcome,
            "probabilityPpm": self.probability_ppm,
            "modelId": to_bytes32(self.model_id),
            "inputsHash": to_bytes32(self.inputs_hash),
            "proofHash": to_bytes32(self.proof_hash),
        }
        return {f["name"]: m[f["name"]] for f in self.fields}

    def as_tuple(self) -> tuple:
        """The ABI tuple `QuorumOracle.resolve` (final) or `QuorumOracle.postForecast` (forecast) takes."""
        m = self.message()
        return tuple(m[f["name"]] for f in self.fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Resolution":
        return cls(**d)


def typed_data(domain: Domain, resolution: Resolution) -> dict[str, Any]:
    """The EIP-712 document (eth_account's `full_message` form): what wallets and the tests read."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, resolution.primary_type: resolution.fields},
        "primaryType": resolution.primary_type,
        "domain": domain.as_dict(),
        "message": resolution.message(),
    }


def signable(domain: Domain, resolution: Resolution) -> Signable:
    return encode(EIP712_DOMAIN_TYPE, domain.as_dict(), resolution.primary_type, resolution.fields, resolution.message())


def digest(domain: Domain, resolution: Resolution) -> str:
    """The 32-byte EIP-712 digest, 0x-hex: identical to `QuorumOracle.digest` (final rounds)
    or `QuorumOracle.forecastDigest` (forecast rounds)."""
    return "0x" + signable_hash(signable(domain, resolution)).hex()


def recover(domain: Domain, resolution: Resolution, signature: bytes) -> str:
    """Checksummed address that produced `signature` over the resolution."""
    return recover_signable(signable(domain, resolution), signature)


# ------------------------------------------------------------------ the dispute court
# `contracts/DisputeCourt.sol` hashes the same two structs under its own domain (its name, its address).

COURT_DOMAIN_NAME = "AIOracle DisputeCourt"
RULING_TYPE = [{"name": "marketId", "type": "bytes32"}, {"name": "outcome", "type": "uint16"}]
PROVER_CREDIT_TYPE = [
    {"name": "marketId", "type": "bytes32"},
    {"name": "proofHash", "type": "bytes32"},
    {"name": "prover", "type": "address"},
]


def _court_signable(domain: Domain, primary: str, fields: list[dict[str, str]], message: dict) -> Signable:
    return encode(EIP712_DOMAIN_TYPE, domain.as_dict(), primary, fields, message)


def ruling_signable(domain: Domain, market_id: str, outcome: int) -> Signable:
    """What a member signs to settle a dispute by the larger quorum (`DisputeCourt.settleByVote`)."""
    return _court_signable(domain, "Ruling", RULING_TYPE, {"marketId": to_bytes32(market_id), "outcome": outcome})


def prover_credit_signable(domain: Domain, market_id: str, proof_hash: str, prover: str) -> Signable:
    """What a member signs to name the prover of a resolution's proof (`DisputeCourt.claimProverFee`)."""
    return _court_signable(domain, "ProverCredit", PROVER_CREDIT_TYPE, {
        "marketId": to_bytes32(market_id), "proofHash": to_bytes32(proof_hash), "prover": prover})


def signable_digest(m: Signable) -> str:
    return "0x" + signable_hash(m).hex()
