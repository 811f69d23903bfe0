"""The aggregator: collects votes, submits once when t agree on the identical digest.

Votes are checked on arrival (signature recovers to the claimed validator,
who is a member, and the digest is the one for the resolution under our
domain: a `Resolution` for a final round, a `Forecast` for a forecast round). A validator that signs two different resolutions for one market and
round is recorded as equivocation evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from oracle import bls
from oracle.batch import batch_digest

from oracle.eip712 import Domain, Resolution, digest, prover_credit_signable, recover
from oracle.typed_data import recover as recover_signable
from oracle.settlement import Settlement

from .votes import BlsSubmission, BlsVote, Equivocation, Submission, Vote, VoteRejected


@dataclass
class _Tally:
    by_digest: dict[str, dict[str, Vote]] = field(default_factory=dict)
    by_validator: dict[str, Vote] = field(default_factory=dict)
    submission: Submission | None = None


# settle(resolution, signatures ordered by ascending signer) -> what became of it (oracle.settlement.Settler)
Settle = Callable[[Resolution, Sequence[bytes]], Settlement]


class Aggregator:
    def __init__(self, domain: Domain, members: Iterable[str], threshold: int, settle: Settle, *,
                 court_domain: Domain | None = None):
        """`court_domain`: the dispute court's; a vote's prover credit must be its voter's signature
        under it (one bad credit in a quorum would make the prover's claim revert)."""
        self.domain = domain
        self.court_domain = court_domain
        self.members = {m.lower() for m in members}
        self.threshold = threshold
        self.settle = settle
        self._tallies: dict[tuple[str, int], _Tally] = {}
        self.evidence: list[Equivocation] = []

    def add(self, vote: Vote, required: int | None = None) -> Submission | None:
        """Record a vote; submit on-chain when it completes a quorum. Returns the submission then.

        `required` is the market's own quorum; the larger of it and t applies.
        """
        r = vote.resolution
        needed = max(self.threshold, required or 0)
        if vote.validator.lower() not in self.members:
            raise VoteRejected(f"vote from {vote.validator}, who is not in the validator set")
        d = digest(self.domain, r)
        if d != vote.digest:
            raise VoteRejected(f"vote digest {vote.digest} is not the resolution's digest {d} under this domain")
        if recover(self.domain, r, vote.signature) != vote.validator:
            raise VoteRejected(f"vote signature does not recover to {vote.validator}")
        if vote.prover_credit:
            self._check_credit(vote)
        tally = self._tallies.setdefault((r.market_id, r.round), _Tally())
        previous = tally.by_validator.get(vote.validator)
        if previous is not None and previous.digest != d:
            self.evidence.append(Equivocation(vote.validator, r.market_id, r.round, previous, vote))
            return None
        # the same vote again is a retry: a quorum whose submission failed (the set changed under it,
        # a member was slashed) is submitted again with the votes that still count
        tally.by_validator.setdefault(vote.validator, vote)
        votes = tally.by_digest.setdefault(d, {})
        votes.setdefault(vote.validator, vote)
        if tally.submission is None and len(votes) >= needed:
            chosen = sorted(votes.values(), key=lambda v: int(v.validator, 16))[:needed]
            settlement = self.settle(r, [v.signature for v in chosen])
            tally.submission = Submission(r.market_id, r.round, r, tuple(v.validator for v in chosen), settlement)
            return tally.submission
        return None

    def _check_credit(self, vote: Vote) -> None:
        r = vote.resolution
        if not r.final:
            raise VoteRejected("prover_credit: only a final round's vote credits a prover")
        if self.court_domain is None:
            return  # nothing to check it against: never used for a claim here
        try:
            who = recover_signable(prover_credit_signable(self.court_domain, r.market_id, r.proof_hash,
                                                          vote.prover), vote.prover_credit)
        except Exception as e:  # malformed r/s/v
            raise VoteRejected(f"prover_credit: unreadable signature ({e})") from None
        if who != vote.validator:
            raise VoteRejected(f"prover_credit: does not recover to {vote.validator} over ProverCredit("
                               f"{r.market_id}, {r.proof_hash}, {vote.prover})")

    def prover_credits(self, resolution: Resolution, needed: int,
                       members: Iterable[str] | None = None) -> tuple[str, list[tuple[str, bytes]]] | None:
        """(prover, `needed` (member, credit signature) pairs, ascending by member) naming one prover of
        `resolution`'s proof, from the votes for exactly that resolution by `members` (default: the set
        counted now; for a claim, the set that recorded it); None if too few agree on one prover."""
        t = self._tallies.get((resolution.market_id, resolution.round))
        if t is None:
            return None
        allowed = self.members if members is None else {m.lower() for m in members}
        votes = t.by_digest.get(digest(self.domain, resolution), {})
        by_prover: dict[str, list[Vote]] = {}
        for v in votes.values():
            if v.prover_credit and v.validator.lower() in allowed:
                by_prover.setdefault(v.prover.lower(), []).append(v)
        for credits in by_prover.values():
            if len(credits) >= needed:
                chosen = sorted(credits, key=lambda v: int(v.validator, 16))[:needed]
                return chosen[0].prover, [(v.validator, v.prover_credit) for v in chosen]
        return None

    def set_members(self, members: Iterable[str], threshold: int) -> None:
        """The validator set changed on-chain: count only its members from now on; votes of members
        that left are dropped from every round not submitted yet (the contract would refuse them)."""
        self.members = {m.lower() for m in members}
        self.threshold = threshold
        for tally in self._tallies.values():
            if tally.submission is not None:
                continue
            tally.by_validator = {v: x for v, x in tally.by_validator.items() if v.lower() in self.members}
            tally.by_digest = {d: {v: x for v, x in votes.items() if v.lower() in self.members}
                               for d, votes in tally.by_digest.items()}

    def submission(self, market_id: str, round: int = 0) -> Submission | None:
        t = self._tallies.get((market_id, round))
        return t.submission if t else None

    def votes(self, market_id: str, round: int = 0) -> dict[str, dict[str, Vote]]:
        t = self._tallies.get((market_id, round))
        return dict(t.by_digest) if t else {}


# ------------------------------------------------------------------ BLS aggregation
# settle(root, count, signer bitmap, aggregate signature, key set it verifies under) -> what became of it
SettleBls = Callable[[bytes, int, int, bytes, bytes], Settlement]


class BlsAggregator:
    """Collects members' BLS signatures over a batch digest; at t valid ones, adds them into one
    aggregate, names the signers in a bitmap (bit i: member i) and settles once.

    Each signature is verified alone on arrival against the member's registered key, so one bad
    share is refused by name instead of spoiling the aggregate. `key_set` is the members' registered
    keys in member order as the contract takes them (`Deployment.bls_key_set()`); the aggregate is
    submitted with the key set its shares were verified under (the contract honours a set that a
    member's key rotation replaced for `BLS_KEY_GRACE`).
    """

    def __init__(self, domain: Domain, members: Sequence[str], key_set: bytes, threshold: int,
                 settle: SettleBls):
        self.domain = domain
        self.settle = settle
        self._shares: dict[tuple[bytes, int], dict[int, bytes]] = {}
        self._submitted: dict[tuple[bytes, int], BlsSubmission] = {}
        self._install(members, key_set, threshold)

    def _install(self, members: Sequence[str], key_set: bytes, threshold: int) -> None:
        keys = bls.keys_of_key_set(key_set)
        if len(keys) != len(members):
            raise ValueError(f"{len(keys)} keys for {len(members)} members")
        self.index = {m.lower(): i for i, m in enumerate(members)}
        self.members, self.keys, self.key_set, self.threshold = list(members), keys, bytes(key_set), threshold

    def set_members(self, members: Sequence[str], key_set: bytes, threshold: int) -> None:
        """The validator set changed on-chain: shares are counted by member index and signed under
        the old set, so every batch not submitted yet starts over."""
        self._install(members, key_set, threshold)
        self._shares = {b: s for b, s in self._shares.items() if b in self._submitted}

    def rekey(self, key_set: bytes) -> list[int]:
        """Members (same set) registered or rotated keys: shares of members whose key changed no longer
        verify under the new set and are dropped from unsubmitted batches; the others still count.
        Returns the indices of the members whose key changed."""
        old = self.keys
        self._install(self.members, key_set, self.threshold)
        changed = [i for i, (a, b) in enumerate(zip(old, self.keys)) if a != b]
        for batch, shares in self._shares.items():
            if batch not in self._submitted:
                for i in changed:
                    shares.pop(i, None)
        return changed

    def add(self, vote: BlsVote, required: int | None = None) -> BlsSubmission | None:
        """Check and count a share. `required`: the market's own quorum; the larger of it and t applies."""
        return self.tally(self.check(vote), vote, required)

    def check(self, vote: BlsVote) -> int:
        """The voter's member index if its share verifies under its registered key, else VoteRejected."""
        i = self.index.get(vote.validator.lower())
        if i is None:
            raise VoteRejected(f"BLS vote from {vote.validator}, who is not in the validator set")
        key = self.keys[i]
        if key is None:
            raise VoteRejected(f"{vote.validator} has no BLS key registered (with proof of possession)")
        message = batch_digest(self.domain, vote.root, vote.count)
        if not bls.verify(key, message, vote.signature):
            raise VoteRejected(f"BLS signature of {vote.validator} does not verify over root "
                               f"0x{vote.root.hex()} (count {vote.count}) under this domain")
        return i

    def tally(self, i: int, vote: BlsVote, required: int | None = None) -> BlsSubmission | None:
        """Count a share `check` accepted (member index `i`); settle once enough agree."""
        needed = max(self.threshold, required or 0)
        batch = (bytes(vote.root), vote.count)
        shares = self._shares.setdefault(batch, {})
        shares.setdefault(i, bytes(vote.signature))
        if batch in self._submitted or len(shares) < needed:
            return None
        chosen = sorted(shares)[:needed]
        aggregate = bls.aggregate([shares[j] for j in chosen])
        bitmap = bls.bitmap_of(chosen)
        settlement = self.settle(batch[0], batch[1], bitmap, aggregate, self.key_set)
        sub = BlsSubmission(batch[0], batch[1], bitmap, aggregate, tuple(self.members[j] for j in chosen),
                            settlement)
        self._submitted[batch] = sub
        return sub

    def submission(self, root: bytes, count: int) -> BlsSubmission | None:
        return self._submitted.get((bytes(root), count))
