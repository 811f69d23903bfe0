"""Typed calls on `ValidatorStaking`: bonds, epochs, slashing evidence and the timelocked parameters.

The staking contract is the oracle's owner and set manager: members join by bonding ETH, the set
changes at epoch boundaries (`advance_epoch`, anyone), and two conflicting signatures by one bonded
key for the same market and round take its bond (`slash`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .canonical import to_bytes32
from .chain import Chain
from .deployment import Deployment
from .eip712 import Resolution
from .errors import ChainError, NotFound, OracleError
from .signer import Signer

ETH = 10**18
STATUSES = ("none", "queued", "member", "leaving", "unbonding")
# what a `slash` refused because the evidence is spent, not because it is wrong
SPENT = ("EvidenceUsed", "NotBonded")


@dataclass(frozen=True)
class StakingParameters:
    """`ValidatorStaking.Parameters`: the governed knobs."""

    min_bond: int = ETH
    epoch_length: int = 3600
    unbonding_delay: int = 15 * 86400  # ValidatorStaking.MIN_UNBONDING_DELAY: past any dispute of what it signed
    max_validators: int = 100
    quorum_bps: int = 6666  # ceil(n * 0.6666) = ceil(2n/3) for every n <= 256
    joining_paused: bool = False

    def as_tuple(self) -> tuple:
        return (self.min_bond, self.epoch_length, self.unbonding_delay, self.max_validators, self.quorum_bps,
                self.joining_paused)

    @classmethod
    def from_tuple(cls, t) -> "StakingParameters":
        return cls(int(t[0]), int(t[1]), int(t[2]), int(t[3]), int(t[4]), bool(t[5]))

    @classmethod
    def for_threshold(cls, n: int, t: int, **kw: Any) -> "StakingParameters":
        """Parameters whose threshold rule gives exactly t for a set of n (t a strict majority of n <= 256),
        with the smallest such rule, so that a set that shrinks (a member slashed) keeps a threshold it
        can meet: n * bps / 10000 lies in (t - 1, t - 1 + n / 10000], so its ceiling is t."""
        if not (1 <= t <= n <= 256 and 2 * t > n):
            raise OracleError(f"threshold {t} of {n}: needs a strict majority, at most n (n <= 256)")
        return cls(quorum_bps=max((t - 1) * 10_000 // n + 1, 5_001), **kw)


@dataclass(frozen=True)
class BondStatus:
    address: str
    bond: int  # wei
    status: str  # one of STATUSES
    withdrawable_at: int

    def to_json(self) -> dict:
        return {"address": self.address, "bond_wei": self.bond, "bond_eth": self.bond / ETH, "status": self.status,
                "withdrawable_at": self.withdrawable_at}


@dataclass(frozen=True)
class Vouch:
    """`ValidatorStaking.Vouch`: a resolution and the signature that vouches for it, the member's vote
    (`count` 0) or its signature over a batch root (`proof` folds the resolution up to `root`); a BLS
    share in EIP-2537 encoding (`oracle.bls.to_eip2537_g2`)."""

    resolution: Resolution
    signature: bytes
    proof: tuple[bytes, ...] = ()
    root: bytes = b"\x00" * 32
    count: int = 0

    def as_tuple(self) -> tuple:
        return (replace(self.resolution, final=True).as_tuple(), list(self.proof), self.root, self.count,
                bytes(self.signature))


@dataclass(frozen=True)
class SlashReport:
    """What became of one piece of evidence: `slashed` (our transaction), `spent` (already used, or
    the key holds no bond now) or `not_slashable` (no conflict the contract punishes)."""

    outcome: str
    reason: str = ""
    tx_hash: str | None = None


def conflict(first: Resolution, second: Resolution) -> str | None:
    """Why two signed resolutions are slashable together, or None: same kind, market and round, and a
    different outcome or probability (a forecast: a different probability)."""
    if first.final != second.final or (first.market_id, first.round) != (second.market_id, second.round):
        return None
    if first.probability_ppm != second.probability_ppm:
        return "probability"
    if first.final and first.outcome != second.outcome:
        return "outcome"
    return None


class Staking:
    """Typed access to one `ValidatorStaking`."""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = chain.contract("ValidatorStaking", address)

    @property
    def address(self) -> str:
        return self.contract.address

    @classmethod
    def of(cls, dep: Deployment) -> "Staking":
        """The deployment's staking contract (NotFound if it was deployed without one)."""
        address = dep.addresses.get("ValidatorStaking")
        if not address:
            raise NotFound("this deployment has no ValidatorStaking (deployed without bonds)")
        return cls(dep.chain, address)

    @classmethod
    def deploy(cls, dep: Deployment, deployer: Signer, parameters: StakingParameters) -> "Staking":
        """Deploy for `dep`'s oracle and hand the oracle over (two-step ownership, then set manager).
        Records the address in `dep.addresses` (save the deployment after)."""
        contract = dep.chain.deploy(deployer, "ValidatorStaking", dep.oracle.address, dep.court.address,
                                    parameters.as_tuple())
        staking = cls(dep.chain, contract.address)
        dep.transfer_ownership(deployer, staking.address)
        dep.chain.transact(deployer, staking.contract.functions.adoptOracle(), action="ValidatorStaking.adoptOracle")
        dep.addresses["ValidatorStaking"] = staking.address
        return staking

    # --------------------------------------------------------------- members
    def join(self, validator: Signer, wei: int) -> Any:
        """Bond `wei` and queue for the next epoch (or add to a bond already queued or in the set)."""
        return self.chain.transact(validator, self.contract.functions.join(), value=wei, action="ValidatorStaking.join")

    def leave(self, validator: Signer) -> Any:
        return self.chain.transact(validator, self.contract.functions.requestLeave(),
                                   action="ValidatorStaking.requestLeave")

    def withdraw(self, validator: Signer) -> Any:
        return self.chain.transact(validator, self.contract.functions.withdraw(), action="ValidatorStaking.withdraw")

    def advance_epoch(self, sender: Signer) -> Any:
        n = len(self.members()) + len(self.queued())
        # the oracle rewrites its member flags and re-hashes the BLS key slots: gas grows with the set
        gas = 500_000 + 120_000 * n if self.chain.explicit_gas else None
        return self.chain.transact(sender, self.contract.functions.advanceEpoch(), gas=gas,
                                   action="ValidatorStaking.advanceEpoch")

    # ----------------------------------------------------------------- reads
    def bond_of(self, address: str) -> BondStatus:
        amount, withdrawable_at, status = self.chain.call(self.contract.functions.bondOf(address),
                                                          action="ValidatorStaking.bondOf")
        return BondStatus(address, amount, STATUSES[status], withdrawable_at)

    def members(self) -> list[str]:
        return list(self.chain.call(self.contract.functions.members(), action="ValidatorStaking.members"))

    def queued(self) -> list[str]:
        return list(self.chain.call(self.contract.functions.queued(), action="ValidatorStaking.queued"))

    def epoch(self) -> int:
        return self.chain.call(self.contract.functions.epoch(), action="ValidatorStaking.epoch")

    def next_epoch_at(self) -> int:
        return self.chain.call(self.contract.functions.nextEpochAt(), action="ValidatorStaking.nextEpochAt")

    def threshold_for(self, n: int) -> int:
        return self.chain.call(self.contract.functions.thresholdFor(n), action="ValidatorStaking.thresholdFor")

    def parameters(self) -> StakingParameters:
        return StakingParameters.from_tuple(self.chain.call(self.contract.functions.parameters(),
                                                            action="ValidatorStaking.parameters"))

    def burned(self) -> int:
        return self.chain.call(self.contract.functions.burned(), action="ValidatorStaking.burned")

    def reporter_share_bps(self) -> int:
        return self.chain.call(self.contract.functions.REPORTER_SHARE_BPS(),
                               action="ValidatorStaking.REPORTER_SHARE_BPS")

    def status(self) -> dict:
        """The staking state a member or a bot wants in one read: epoch, its end, set, queue, parameters."""
        p = self.parameters()
        members = self.members()
        return {"address": self.address, "epoch": self.epoch(), "next_epoch_at": self.next_epoch_at(),
                "members": members, "threshold": self.threshold_for(len(members)) if members else None,
                "queued": self.queued(), "burned_wei": self.burned(),
                "parameters": {"min_bond_wei": p.min_bond, "epoch_length_s": p.epoch_length,
                               "unbonding_delay_s": p.unbonding_delay, "max_validators": p.max_validators,
                               "quorum_bps": p.quorum_bps, "joining_paused": p.joining_paused}}

    # -------------------------------------------------------------- slashing
    def slash(self, reporter: Signer, first: Resolution, first_signature: bytes, second: Resolution,
              second_signature: bytes) -> Any:
        """Submit two conflicting signatures by one key (both final rounds: `slashResolution`; both
        forecast rounds: `slashForecast`); the reporter receives its share of the bond."""
        if first.final != second.final:
            raise OracleError("evidence: one vote is a forecast, the other a resolution: they cannot conflict")
        if first.final:
            fn = self.contract.functions.slashResolution(replace(first, final=True).as_tuple(), bytes(first_signature),
                                                         replace(second, final=True).as_tuple(),
                                                         bytes(second_signature))
        else:
            fn = self.contract.functions.slashForecast(first.as_tuple(), bytes(first_signature), second.as_tuple(),
                                                       bytes(second_signature))
        # removing a member re-installs the set on the oracle: gas grows with the set
        gas = 600_000 + 120_000 * len(self.members()) if self.chain.explicit_gas else None
        return self.chain.transact(reporter, fn, gas=gas, action="ValidatorStaking.slash")

    def slash_equivocation(self, reporter: Signer, member: str, first: "Vouch", second: "Vouch", *,
                           bls: bool = False) -> Any:
        """Two conflicting resolutions for one market and round vouched for by `member` on any path
        (votes, ECDSA batch signatures, or BLS batch shares with `bls`): its bond is taken."""
        fn = self.contract.functions.slashEquivocation(member, first.as_tuple(), second.as_tuple(), bls)
        gas = (1_500_000 if bls else 600_000) + 120_000 * len(self.members()) if self.chain.explicit_gas else None
        return self.chain.transact(reporter, fn, gas=gas, action="ValidatorStaking.slashEquivocation")

    def slash_overturned(self, reporter: Signer, market_id: str, signature: bytes) -> Any:
        """Take the bond of a key that signed a resolution the dispute court overturned (`signature`:
        its vote over that resolution); the reporter receives its share."""
        fn = self.contract.functions.slashOverturned(to_bytes32(market_id), bytes(signature))
        gas = 600_000 + 120_000 * len(self.members()) if self.chain.explicit_gas else None
        return self.chain.transact(reporter, fn, gas=gas, action="ValidatorStaking.slashOverturned")

    def slash_overturned_in_batch(self, reporter: Signer, market_id: str, proof: list[bytes], root: bytes,
                                  count: int, signature: bytes) -> Any:
        """The same for a batch signature: `proof` folds the overturned resolution up to `root`."""
        fn = self.contract.functions.slashOverturnedInBatch(to_bytes32(market_id), list(proof), root, count,
                                                            bytes(signature))
        gas = 600_000 + 120_000 * len(self.members()) if self.chain.explicit_gas else None
        return self.chain.transact(reporter, fn, gas=gas, action="ValidatorStaking.slashOverturnedInBatch")

    def slash_overturned_bls(self, reporter: Signer, market_id: str, proof: list[bytes], root: bytes, epoch: int,
                             members: list[str], index: int) -> Any:
        """The same for a batch accepted with a BLS aggregate in `epoch`: the oracle kept that epoch's
        signer bitmap; `members` is the set of that epoch, `index` the signer's place in it."""
        fn = self.contract.functions.slashOverturnedBls(to_bytes32(market_id), list(proof), root, epoch,
                                                        list(members), index)
        gas = 600_000 + 120_000 * len(self.members()) if self.chain.explicit_gas else None
        return self.chain.transact(reporter, fn, gas=gas, action="ValidatorStaking.slashOverturnedBls")

    def report(self, reporter: Signer, first: Resolution, first_signature: bytes, second: Resolution,
               second_signature: bytes) -> SlashReport:
        """`slash`, for a bot: evidence that is not a conflict the contract punishes is not sent, and
        evidence someone else already used is `spent`, not an error."""
        why = conflict(first, second)
        if why is None:
            return SlashReport("not_slashable", "same outcome and probability, or not the same kind, market "
                                                "and round")
        try:
            receipt = self.slash(reporter, first, first_signature, second, second_signature)
        except ChainError as e:
            if e.error in SPENT:
                return SlashReport("spent", str(e))
            raise
        return SlashReport("slashed", why, "0x" + bytes(receipt["transactionHash"]).hex())

    # ------------------------------------------------------------ governance
    def queue_parameters(self, owner: Signer, parameters: StakingParameters) -> Any:
        return self.chain.transact(owner, self.contract.functions.queueParameters(parameters.as_tuple()),
                                   action="ValidatorStaking.queueParameters")

    def execute_parameters(self, sender: Signer) -> Any:
        return self.chain.transact(sender, self.contract.functions.executeParameters(),
                                   action="ValidatorStaking.executeParameters")

    def cancel_parameters(self, owner: Signer) -> Any:
        return self.chain.transact(owner, self.contract.functions.cancelParameters(),
                                   action="ValidatorStaking.cancelParameters")

    def transfer_ownership(self, owner: Signer, new_owner: str) -> Any:
        return self.chain.transact(owner, self.contract.functions.transferOwnership(new_owner),
                                   action="ValidatorStaking.transferOwnership")

    def accept_ownership(self, new_owner: Signer) -> Any:
        return self.chain.transact(new_owner, self.contract.functions.acceptOwnership(),
                                   action="ValidatorStaking.acceptOwnership")


def bond_validators(staking: Staking, validators: list[Signer], wei: int, sender: Signer) -> None:
    """Bond each validator (in the order given: the set's member order) and open the first epoch, which
    installs them on the oracle (`sender`: the staking contract's owner, whose the first boundary is).
    The validators pay their bonds and gas."""
    for v in validators:
        staking.join(v, wei)
    staking.advance_epoch(sender)
