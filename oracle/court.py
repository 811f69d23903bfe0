"""Typed calls on `DisputeCourt`: finality (proposed -> final), disputes and rulings, fees, governance.

A quorum's resolution recorded by the oracle is *proposed*; it is *final* once its market's dispute
window passed without a dispute, or once a dispute was settled (the ZK path, a larger quorum's
`Ruling`, the arbiter, or INVALID at the ruling timeout). Consumers act on final only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .canonical import to_bytes32
from .chain import Chain
from .eip712 import (COURT_DOMAIN_NAME, INVALID_OUTCOME, Domain, Resolution, prover_credit_signable,
                     ruling_signable, signable_digest)
from .records import recorded_resolution
from .signer import Signer

ETH = 10**18
STATES = ("unregistered", "open", "proposed", "disputed", "final", "invalid")
RULINGS = ("none", "upheld", "overturned", "timed_out", "emergency")


@dataclass(frozen=True)
class CourtParameters:
    """`DisputeCourt.Parameters`: the governed knobs (changed only behind the 2-day delay)."""

    min_fee: int = ETH // 1000  # 0.001 ETH a creator pays at least
    dispute_bond: int = ETH // 10  # 0.1 ETH a disputer posts
    arbiter: str = "0x" + "00" * 20  # none
    escalation_bps: int = 8000  # a ruling vote needs 80 % of the set (and more than the proposal needed)
    default_dispute_window: int = 7200  # what `market new` proposes (2 h; each market's window is in its id)

    def as_tuple(self) -> tuple:
        return (self.min_fee, self.dispute_bond, self.arbiter, self.escalation_bps, self.default_dispute_window)

    @classmethod
    def from_tuple(cls, t) -> "CourtParameters":
        return cls(int(t[0]), int(t[1]), str(t[2]), int(t[3]), int(t[4]))

    def to_json(self) -> dict:
        return {"min_fee_wei": self.min_fee, "dispute_bond_wei": self.dispute_bond, "arbiter": self.arbiter,
                "escalation_bps": self.escalation_bps, "default_dispute_window_s": self.default_dispute_window}


@dataclass(frozen=True)
class Case:
    disputer: str
    disputed_at: int
    bond: int
    settled_at: int
    outcome: int
    ruling: str  # one of RULINGS

    def to_json(self) -> dict:
        return {"disputer": self.disputer, "disputed_at": self.disputed_at, "bond_wei": self.bond,
                "settled_at": self.settled_at, "outcome": None if self.outcome == INVALID_OUTCOME else self.outcome,
                "invalid": self.outcome == INVALID_OUTCOME and self.ruling != "none", "ruling": self.ruling}


@dataclass(frozen=True)
class Fees:
    pot: int
    paid: int
    slots: int
    signer_claims: int
    prover_paid: bool
    closed: bool

    def to_json(self) -> dict:
        return {"pot_wei": self.pot, "paid_wei": self.paid, "slots": self.slots, "signer_claims": self.signer_claims,
                "prover_paid": self.prover_paid, "closed": self.closed}


class Court:
    """One deployed `DisputeCourt`."""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = chain.contract("DisputeCourt", address)

    @property
    def address(self) -> str:
        return self.contract.address

    @property
    def domain(self) -> Domain:
        return Domain(chain_id=self.chain.chain_id, verifying_contract=self.address, name=COURT_DOMAIN_NAME)

    def _call(self, fn_name: str, *args: Any, block: int | str | None = None) -> Any:
        fn = getattr(self.contract.functions, fn_name)(*args)
        kw = {} if block is None else {"block": block}
        return self.chain.call(fn, action=f"DisputeCourt.{fn_name}", **kw)

    def _send(self, sender: Signer, fn_name: str, *args: Any, value: int = 0, gas: int | None = None) -> Any:
        fn = getattr(self.contract.functions, fn_name)(*args)
        # a fixed limit on the embedded chain (estimation is slow there); a node estimates
        return self.chain.transact(sender, fn, value=value, gas=gas if self.chain.explicit_gas else None,
                                   action=f"DisputeCourt.{fn_name}")

    # ------------------------------------------------------------ reads
    def state_of(self, market_id: str, *, block: int | str | None = None) -> str:
        return STATES[self._call("stateOf", to_bytes32(market_id), block=block)]

    def is_final(self, market_id: str) -> bool:
        return self._call("isFinal", to_bytes32(market_id))

    def final_of(self, market_id: str) -> tuple[int, int]:
        """(outcome, final_at) of a final market; ChainError `NotFinal` otherwise."""
        outcome, final_at = self._call("finalOf", to_bytes32(market_id))
        return outcome, final_at

    def case_of(self, market_id: str) -> Case:
        c = self._call("caseOf", to_bytes32(market_id))
        disputer, disputed_at, ruling, bond, settled_at, outcome = c
        return Case(disputer, disputed_at, bond, settled_at, outcome, RULINGS[ruling])

    def fees_of(self, market_id: str) -> Fees:
        return Fees(*self._call("feesOf", to_bytes32(market_id)))

    def parameters(self) -> CourtParameters:
        return CourtParameters.from_tuple(self._call("parameters"))

    def owed(self, account: str) -> int:
        return self._call("owed", account)

    def escalated_quorum(self, market_id: str) -> int:
        return self._call("escalatedQuorum", to_bytes32(market_id))

    def rule_of(self, market_id: str) -> tuple[int, ...] | None:
        if not self._call("hasRule", to_bytes32(market_id)):
            return None
        return tuple(self._call("ruleOf", to_bytes32(market_id)))

    def paused(self) -> bool:
        return self._call("paused")

    def status(self, market_id: str) -> dict:
        """Everything a bot or an operator gates on, for one market."""
        state = self.state_of(market_id)
        doc: dict[str, Any] = {"state": state, "case": self.case_of(market_id).to_json(),
                               "fees": self.fees_of(market_id).to_json()}
        if state in ("final", "invalid"):
            outcome, final_at = self.final_of(market_id)
            doc.update(outcome=None if outcome == INVALID_OUTCOME else outcome, final_at=final_at)
        return doc

    # ------------------------------------------------------- disputes
    def set_rule(self, creator: Signer, market_id: str, rule: Sequence[int]) -> Any:
        return self._send(creator, "setRule", to_bytes32(market_id), tuple(rule), gas=400_000)

    def dispute(self, disputer: Signer, market_id: str, bond: int | None = None) -> Any:
        bond = self.parameters().dispute_bond if bond is None else bond
        return self._send(disputer, "dispute", to_bytes32(market_id), value=bond, gas=300_000)

    def recorded_resolution(self, market_id: str) -> Resolution:
        """The resolution the oracle recorded for the market, whole (from its `Resolved` log, checked
        against the record's struct hash): the court's proof path and the prover's fee take it in calldata."""
        oracle = self.chain.contract("QuorumOracle", self._call("oracle"))
        return recorded_resolution(self.chain, oracle, market_id).resolution

    def settle_by_proof_args(self, market_id: str, proof: bytes, instances: Sequence[int]) -> tuple:
        return (self.recorded_resolution(market_id).as_tuple(), proof, list(instances))

    def settle_by_proof(self, sender: Signer, market_id: str, proof: bytes, instances: Sequence[int]) -> Any:
        return self._send(sender, "settleByProof", *self.settle_by_proof_args(market_id, proof, instances),
                          gas=3_000_000)

    def ruling_signature(self, member: Signer, market_id: str, outcome: int) -> bytes:
        return member.sign_message(ruling_signable(self.domain, market_id, outcome))

    def ruling_digest(self, market_id: str, outcome: int) -> str:
        return signable_digest(ruling_signable(self.domain, market_id, outcome))

    def settle_by_vote(self, sender: Signer, market_id: str, outcome: int, signatures: Sequence[bytes]) -> Any:
        return self._send(sender, "settleByVote", to_bytes32(market_id), outcome, [bytes(s) for s in signatures],
                          gas=2_000_000)

    def settle_by_arbiter(self, arbiter: Signer, market_id: str, outcome: int) -> Any:
        return self._send(arbiter, "settleByArbiter", to_bytes32(market_id), outcome, gas=300_000)

    def settle_by_timeout(self, sender: Signer, market_id: str) -> Any:
        return self._send(sender, "settleByTimeout", to_bytes32(market_id), gas=300_000)

    def finalize(self, sender: Signer, market_id: str) -> Any:
        return self._send(sender, "finalize", to_bytes32(market_id), gas=300_000)

    # ----------------------------------------------------------- fees
    def claim_signer_fee(self, sender: Signer, market_id: str, vote_signature: bytes, members: Sequence[str]) -> Any:
        """A member's share: its vote over the final resolution; `members` the set that recorded it
        (`Deployment.members_of_epoch(resolution_of(market).epoch)`)."""
        return self._send(sender, "claimSignerFee", to_bytes32(market_id), bytes(vote_signature), list(members),
                          gas=400_000 + 3_000 * len(members))

    def prover_credit_signature(self, member: Signer, market_id: str, proof_hash: str, prover: str) -> bytes:
        return member.sign_message(prover_credit_signable(self.domain, market_id, proof_hash, prover))

    def claim_prover_fee(self, sender: Signer, market_id: str, prover: str, credits: Sequence[tuple[str, bytes]],
                         members: Sequence[str]) -> Any:
        """The prover's share: `credits` are (member, ProverCredit signature) pairs from the set that
        recorded the resolution (`members`); sent in the ascending order the contract wants."""
        ordered = sorted(credits, key=lambda c: int(c[0], 16))
        lowered = [m.lower() for m in members]
        indices = [lowered.index(a.lower()) if a.lower() in lowered else len(members) for a, _ in ordered]
        return self._send(sender, "claimProverFee", self.recorded_resolution(market_id).as_tuple(), prover,
                          [bytes(s) for _, s in ordered], list(members), indices,
                          gas=1_000_000 + 3_000 * len(members))

    def refund_fee(self, sender: Signer, market_id: str) -> Any:
        return self._send(sender, "refundFee", to_bytes32(market_id), gas=300_000)

    def withdraw(self, account: Signer) -> Any:
        return self._send(account, "withdraw", gas=100_000)

    # ----------------------------------------------------- governance
    def queue_parameters(self, owner: Signer, parameters: CourtParameters) -> Any:
        return self._send(owner, "queueParameters", parameters.as_tuple(), gas=300_000)

    def execute_parameters(self, sender: Signer) -> Any:
        return self._send(sender, "executeParameters", gas=300_000)

    def queue_pause(self, owner: Signer) -> Any:
        return self._send(owner, "queuePause", gas=100_000)

    def execute_pause(self, sender: Signer) -> Any:
        return self._send(sender, "executePause", gas=200_000)

    def unpause(self, owner: Signer) -> Any:
        return self._send(owner, "unpause", gas=100_000)

    def queue_emergency_resolution(self, owner: Signer, market_id: str) -> Any:
        """An emergency resolution is INVALID (refunds), never a chosen winner."""
        return self._send(owner, "queueEmergencyResolution", to_bytes32(market_id), gas=200_000)

    def execute_emergency_resolution(self, sender: Signer, market_id: str) -> Any:
        return self._send(sender, "executeEmergencyResolution", to_bytes32(market_id), gas=400_000)

    def transfer_ownership(self, owner: Signer, new_owner: str) -> Any:
        return self._send(owner, "transferOwnership", new_owner, gas=100_000)

    def accept_ownership(self, new_owner: Signer) -> Any:
        return self._send(new_owner, "acceptOwnership", gas=100_000)

    # ------------------------------------------ reads for operators (network/, commands/)
    def signer_paid(self, market_id: str, account: str) -> bool:
        """Whether `account` was paid its signer share of the market's fee."""
        return self._call("signerPaid", to_bytes32(market_id), account)

    def window_end(self, market_id: str) -> int | None:
        """When a recorded (proposed) resolution's dispute window ends: its record time plus the
        market's window, as registered (a pause can hold finality longer: `state_of` has the last
        word); None while nothing is recorded."""
        oracle = self.chain.contract("QuorumOracle", self._call("oracle"))
        registry = self.chain.contract("MarketRegistry", self._call("registry"))
        mid = to_bytes32(market_id)
        if not self.chain.call(oracle.functions.isResolved(mid), action="QuorumOracle.isResolved"):
            return None
        resolved_at = self.chain.call(oracle.functions.recordOf(mid), action="QuorumOracle.recordOf")[0]
        window = self.chain.call(registry.functions.getMarket(mid), action="MarketRegistry.getMarket")[8]
        return int(resolved_at) + int(window)
