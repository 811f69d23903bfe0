"""The consumer's kit from Python: deploy `ResolutionReader` (the `IResolutionReader` adapter over a
`QuorumOracle`) and the example consumer `ParametricInsurance`, and typed calls on both.

The contracts are the product (README, "Use the oracle from your contract"); this module is what
tests, benchmarks and a devnet use to drive them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Sequence

from web3.logs import DISCARD

from .canonical import to_bytes32
from .chain import Chain
from .eip712 import Resolution
from .batch import leaf
from .errors import FieldError, NotFound
from .records import recorded_resolution
from .signer import Signer


class State(IntEnum):
    """`IResolutionReader.State`, in the contract's order."""

    UNREGISTERED = 0
    OPEN = 1
    PROPOSED = 2
    DISPUTED = 3
    FINAL = 4


class PolicyStatus(IntEnum):
    """`ParametricInsurance.Status`, in the contract's order."""

    NONE = 0
    OFFERED = 1
    BOUGHT = 2
    SETTLED = 3
    CANCELLED = 4


@dataclass(frozen=True)
class Policy:
    policy_id: int
    market_id: str
    insurer: str
    resolve_at: int
    pay_on: int
    status: PolicyStatus
    insured: str
    close_at: int
    cover: int
    premium: int


@dataclass(frozen=True)
class Settled:
    """A policy's `Settled` event: what each side was credited, from which outcome."""

    policy_id: int
    market_id: str
    outcome: int
    probability_ppm: int
    round: int
    to_insured: int
    to_insurer: int


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _uint(field: str, value: int, bits: int) -> int:
    """`value` as the contract's uint<bits> argument, or a FieldError naming `field` (not web3's)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise FieldError(field, f"must be an integer in [0, 2^{bits}), got {value!r}")
    return value


def _abi(r: Resolution) -> tuple:
    """`IResolutionReader.Resolution`: a final round's fields (a forecast has no such struct)."""
    return (to_bytes32(r.market_id), r.round, r.outcome, r.probability_ppm, to_bytes32(r.model_id),
            to_bytes32(r.inputs_hash), to_bytes32(r.proof_hash))


class _Deployed:
    """A deployed contract of the kit, by its artifact name: typed calls go through `contract`."""

    NAME = ""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = chain.contract(self.NAME, address)

    @classmethod
    def deploy(cls, chain: Chain, deployer: Signer, *args: Any):
        return cls(chain, chain.deploy(deployer, cls.NAME, *args).address)

    @property
    def address(self) -> str:
        return self.contract.address


class ResolutionReader(_Deployed):
    """Typed reads on a deployed `ResolutionReader` (`deploy(chain, deployer, court)`: the deployment's `DisputeCourt`)."""

    NAME = "ResolutionReader"

    def state_of(self, market_id: str) -> State:
        return State(self.chain.call(self.contract.functions.stateOf(to_bytes32(market_id)),
                                     action="ResolutionReader.stateOf"))

    def final_resolution(self, market_id: str) -> tuple[Resolution, int]:
        """The final resolution and when it became final; ChainError `NotFinal` otherwise. The reader
        returns its outcome, probability, round and struct hash; the resolver, inputs and proof hashes
        come from the oracle's `Resolved` log with that struct hash. Settled by a ruling other than
        "upheld": the ruling's outcome, the proposal's round, zeros for the rest."""
        mid, round_, outcome, ppm, struct_hash, final_at = self.chain.call(
            self.contract.functions.finalResolution(to_bytes32(market_id)), action="ResolutionReader.finalResolution")
        if bytes(struct_hash) == bytes(32):
            zero = "0x" + "00" * 32
            return Resolution(_hex(mid), round_, outcome, ppm, zero, zero, zero), final_at
        oracle = self.chain.contract("QuorumOracle", self.chain.call(self.contract.functions.oracle(),
                                                                     action="ResolutionReader.oracle"))
        recorded = recorded_resolution(self.chain, oracle, market_id).resolution
        if leaf(recorded) != bytes(struct_hash):  # the final hash is the recorded one, or zero
            raise NotFound(f"market {market_id}: the final struct hash {_hex(struct_hash)} is not the oracle's "
                           "recorded resolution")
        return recorded, final_at

    def is_final_resolution(self, resolution: Resolution) -> bool:
        return self.chain.call(self.contract.functions.isFinalResolution(_abi(resolution)),
                               action="ResolutionReader.isFinalResolution")

    def outcome_of(self, market_id: str) -> int:
        return self.chain.call(self.contract.functions.outcomeOf(to_bytes32(market_id)),
                               action="ResolutionReader.outcomeOf")

    def probability_of(self, market_id: str) -> int:
        return self.chain.call(self.contract.functions.probabilityOf(to_bytes32(market_id)),
                               action="ResolutionReader.probabilityOf")

    def verify_inclusion(self, resolution: Resolution, proof: Sequence[bytes], root: bytes) -> bool:
        return self.chain.call(self.contract.functions.verifyInclusion(_abi(resolution), list(proof), root),
                               action="ResolutionReader.verifyInclusion")


class ParametricInsurance(_Deployed):
    """Typed calls on a deployed example consumer (`deploy(chain, deployer, reader)`: `reader` an
    `IResolutionReader`, a `ResolutionReader` over the oracle). Every transaction returns its receipt."""

    NAME = "ParametricInsurance"

    def offer(self, insurer: Signer, market_id: str, pay_on: int, cover_wei: int, premium_wei: int) -> tuple[int, Any]:
        fn = self.contract.functions.offer(to_bytes32(market_id), _uint("pay_on", pay_on, 16),
                                           _uint("premium_wei", premium_wei, 256))
        receipt = self.chain.transact(insurer, fn, value=_uint("cover_wei", cover_wei, 256),
                                      action="ParametricInsurance.offer")
        return self.contract.events.Offered().process_receipt(receipt, errors=DISCARD)[0]["args"]["policyId"], receipt

    def buy(self, insured: Signer, policy_id: int, premium_wei: int) -> Any:
        return self.chain.transact(insured, self.contract.functions.buy(_uint("policy_id", policy_id, 256)),
                                   value=_uint("premium_wei", premium_wei, 256), action="ParametricInsurance.buy")

    def cancel(self, insurer: Signer, policy_id: int) -> Any:
        return self.chain.transact(insurer, self.contract.functions.cancel(policy_id),
                                   action="ParametricInsurance.cancel")

    def settle(self, who: Signer, policy_id: int) -> tuple[Settled, Any]:
        receipt = self.chain.transact(who, self.contract.functions.settle(policy_id),
                                      action="ParametricInsurance.settle")
        return self._settled(receipt), receipt

    def settle_with_proof(self, who: Signer, policy_id: int, resolution: Resolution, proof: Sequence[bytes],
                          root: bytes) -> tuple[Settled, Any]:
        """The batched path: `resolution` is in the accepted batch `root`, `proof` its Merkle path."""
        fn = self.contract.functions.settleWithProof(policy_id, _abi(resolution), list(proof), root)
        receipt = self.chain.transact(who, fn, action="ParametricInsurance.settleWithProof")
        return self._settled(receipt), receipt

    def withdraw(self, who: Signer) -> tuple[int, Any]:
        receipt = self.chain.transact(who, self.contract.functions.withdraw(), action="ParametricInsurance.withdraw")
        return self.contract.events.Withdrawn().process_receipt(receipt, errors=DISCARD)[0]["args"]["amount"], receipt

    def owed(self, account: str) -> int:
        return self.chain.call(self.contract.functions.owed(account), action="ParametricInsurance.owed")

    def policy(self, policy_id: int) -> Policy:
        p = self.chain.call(self.contract.functions.policyOf(policy_id), action="ParametricInsurance.policyOf")
        return Policy(policy_id, _hex(p[0]), p[1], p[2], p[3], PolicyStatus(p[4]), p[5], p[6], p[7], p[8])

    def _settled(self, receipt: Any) -> Settled:
        a = self.contract.events.Settled().process_receipt(receipt, errors=DISCARD)[0]["args"]
        return Settled(a["policyId"], _hex(a["marketId"]), a["outcome"], a["probabilityPpm"], a["round"],
                       a["toInsured"], a["toInsurer"])
