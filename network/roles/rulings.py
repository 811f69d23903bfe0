"""Disputes answered by the network itself: members' `Ruling`s, the escalated vote, the proof path.

A validator that voted on a market's final round signs, once the court says the market is
`disputed`, `Ruling(marketId, outcome)` under the court's domain with the outcome of its OWN stored
vote (never another; one ruling per market, kept) and sends it to the aggregators (`POST
/v1/rulings`); a peer asking it for a ruling (`POST /v1/ruling {market_id, outcome?}`) gets that same
ruling, or nothing when it names another outcome. An aggregator checks each ruling (a member of the
set in force, the signature recovers to it under the court's domain, one outcome per signer and
market), keeps it, and once it holds the court's `escalatedQuorum` for one outcome submits
`settleByVote` (signatures ascending by signer). Before any vote, an aggregator holding the bundle
whose proof the proposal named submits `settleByProof` when the proof gives another outcome (the
court says so by `eth_call` first: an agreeing proof is `ProofAgrees`, and sends nothing), storing
the market's committed rule first when nobody has.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from oracle.canonical import to_bytes32
from oracle.court import Court
from oracle.eip712 import INVALID_OUTCOME, ruling_signable
from oracle.errors import ChainError, OracleError
from oracle.signer import Signer
from oracle.typed_data import recover as recover_signable


class RulingRefused(OracleError):
    """A ruling this role will not sign or will not count: the reason names the field."""


@dataclass(frozen=True)
class Ruling:
    validator: str
    market_id: str
    outcome: int
    signature: bytes

    def to_json(self) -> dict:
        return {"validator": self.validator, "market_id": self.market_id, "outcome": self.outcome,
                "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, d: Any) -> "Ruling":
        """A ruling as received from the network: shape-checked here, the signature by `RulingBox`."""
        if not isinstance(d, dict):
            raise RulingRefused("ruling: expected an object")
        v, m, o, s = d.get("validator"), d.get("market_id"), d.get("outcome"), d.get("signature")
        if not (isinstance(v, str) and v.startswith("0x") and len(v) == 42):
            raise RulingRefused("validator: expected a 0x-prefixed 20-byte address")
        if not (isinstance(m, str) and m.startswith("0x") and len(m) == 66):
            raise RulingRefused("market_id: expected 32 bytes as 0x-hex")
        if not isinstance(o, int) or isinstance(o, bool) or not (0 <= o <= INVALID_OUTCOME):
            raise RulingRefused("outcome: expected an integer in 0..65535")
        if not (isinstance(s, str) and s.startswith("0x") and len(s) == 132):
            raise RulingRefused("signature: expected 65 bytes as 0x-hex")
        try:
            int(v, 16), to_bytes32(m)
            sig = bytes.fromhex(s[2:])
        except ValueError as e:
            raise RulingRefused(f"ruling: not hex ({e})") from None
        return cls(v, m, o, sig)


def recover_ruling(court: Court, market_id: str, outcome: int, signature: bytes) -> str:
    return recover_signable(ruling_signable(court.domain, market_id, outcome), signature)


# ------------------------------------------------------------------ the validator's side
def own_final_vote(vote_docs: Sequence[dict], address: str, market_id: str) -> dict | None:
    """This validator's stored vote on the market's final round (None: it did not vote there)."""
    for doc in vote_docs:
        r = doc.get("resolution") or {}
        if r.get("market_id") == market_id and r.get("final") and \
                str(doc.get("validator", "")).lower() == address.lower():
            return doc
    return None


def sign_ruling(court: Court, key: Signer, vote_doc: dict | None, market_id: str, stored: dict | None = None,
                asked: int | None = None) -> Ruling:
    """The ruling this validator gives on a disputed market: the outcome of its own stored final-round
    vote (`vote_doc`), and nothing else. `stored`: the ruling it already gave (answered again, never
    re-signed); `asked`: the outcome a peer asks for, refused unless it is that one."""
    if vote_doc is None:
        raise RulingRefused(f"market_id: {market_id}: this validator has no vote on its final round")
    own = int(vote_doc["resolution"]["outcome"])
    if asked is not None and asked != own:
        raise RulingRefused(f"outcome: this validator voted {own} on {market_id}, it rules nothing else "
                            f"(asked {asked})")
    if stored is not None:
        return Ruling.from_json(stored)
    state = court.state_of(market_id)
    if state != "disputed":
        raise RulingRefused(f"market_id: {market_id} is {state}: rulings are for disputed markets only")
    return Ruling(key.address, market_id, own, court.ruling_signature(key, market_id, own))


# ------------------------------------------------------------------ the aggregator's side
class RulingBox:
    """Rulings an aggregator collected, checked, and the escalated vote they complete.

    `members()`: the oracle's set in force now (the court counts those); `sender` pays the gas of
    `settleByVote` (signatures ascending by signer)."""

    def __init__(self, court: Court, members: Callable[[], Sequence[str]], sender: Signer,
                 log: Callable[..., None] = lambda *a, **k: None):
        self.court = court
        self.members = members
        self.sender = sender
        self.log = log
        self._lock = threading.Lock()
        self._by_market: dict[str, dict[str, Ruling]] = {}  # market -> signer (lowercase) -> ruling
        self.settled: dict[str, dict] = {}

    def check(self, ruling: Ruling) -> None:
        lowered = {m.lower() for m in self.members()}
        if ruling.validator.lower() not in lowered:
            raise RulingRefused(f"validator: {ruling.validator} is not in the validator set")
        try:
            signer = recover_ruling(self.court, ruling.market_id, ruling.outcome, ruling.signature)
        except Exception as e:  # a signature that is no signature (bad v, s out of range)
            raise RulingRefused(f"signature: does not recover ({type(e).__name__})") from None
        if signer.lower() != ruling.validator.lower():
            raise RulingRefused(f"signature: recovers to {signer}, not {ruling.validator}")

    def add(self, ruling: Ruling) -> dict:
        """Count a checked ruling; settle by vote when it completes the escalated quorum."""
        self.check(ruling)
        with self._lock:
            held = self._by_market.setdefault(ruling.market_id, {})
            previous = held.get(ruling.validator.lower())
            if previous is not None and previous.outcome != ruling.outcome:
                raise RulingRefused(f"outcome: {ruling.validator} already ruled {previous.outcome} on "
                                    f"{ruling.market_id}, not {ruling.outcome}")
            held.setdefault(ruling.validator.lower(), ruling)
        return {"accepted": True, **self.try_settle(ruling.market_id)}

    def rulings(self, market_id: str, outcome: int) -> list[Ruling]:
        with self._lock:
            held = list(self._by_market.get(market_id, {}).values())
        return sorted((r for r in held if r.outcome == outcome), key=lambda r: int(r.validator, 16))

    def try_settle(self, market_id: str) -> dict:
        """settleByVote once an outcome holds the escalated quorum of members still in the set."""
        if market_id in self.settled:
            return {}
        lowered = {m.lower() for m in self.members()}
        with self._lock:
            held = [r for r in self._by_market.get(market_id, {}).values() if r.validator.lower() in lowered]
        if not held:
            return {}
        counts: dict[int, int] = {}
        for r in held:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        outcome, count = max(counts.items(), key=lambda kv: kv[1])
        try:
            needed = self.court.escalated_quorum(market_id)
        except ChainError as e:
            if e.error == "VoteUnavailable":
                return {}
            raise
        if count < needed:
            return {}
        if self.court.state_of(market_id) != "disputed":
            return {}
        chosen = [r for r in self.rulings(market_id, outcome) if r.validator.lower() in lowered][:needed]
        try:
            receipt = self.court.settle_by_vote(self.sender, market_id, outcome, [r.signature for r in chosen])
        except ChainError as e:
            if e.error == "NotDisputed":  # another aggregator (or the proof, or the arbiter) was first
                self.settled[market_id] = {"settled_by": "other"}
                return {}
            raise
        row = {"settled_by": "vote", "outcome": outcome, "signers": [r.validator for r in chosen],
               "tx_hash": _tx_hash(receipt)}
        self.settled[market_id] = row
        self.log("dispute_settled", market_id=market_id, **row)
        return row


def settle_by_proof_if_wrong(court: Court, sender: Signer, market_id: str, bundle, proposal,
                             rule: Sequence[int] | None = None) -> dict:
    """The proof path, from a bundle this role holds: only the proof the proposal named, only when
    the court (asked by eth_call first) finds it gives another outcome. {"result": "overturned" |
    "proof_agrees" | "other_proof" | "no_rule" | "not_disputed", ...}."""
    from oracle.bundle import felt_to_uint

    if court.state_of(market_id) != "disputed":
        return {"result": "not_disputed"}
    if bundle.market_id != market_id or bundle.proof_hash != proposal.proof_hash:
        return {"result": "other_proof"}
    if court.rule_of(market_id) is None:
        if rule is None:
            return {"result": "no_rule"}
        try:
            court.set_rule(sender, market_id, rule)  # anyone may store the rule the market id commits to
        except ChainError as e:
            # NoRule (none committed), BadRule, UnknownModel (no verifier for the model): no proof path
            if e.error and court.rule_of(market_id) is None:
                return {"result": "no_rule", "reason": e.error}
            if court.rule_of(market_id) is None:
                raise
    instances = [felt_to_uint(f) for f in bundle.instances[0]]
    args = court.settle_by_proof_args(market_id, bundle.proof_bytes, instances)
    try:
        court._call("settleByProof", *args)  # a dry run: sends nothing when the proof agrees
    except ChainError as e:
        if e.error == "ProofAgrees":
            return {"result": "proof_agrees"}
        if e.error == "NotDisputed":
            return {"result": "not_disputed"}
        raise
    try:
        receipt = court.settle_by_proof(sender, market_id, bundle.proof_bytes, instances)
    except ChainError as e:
        if e.error == "NotDisputed":
            return {"result": "not_disputed"}
        raise
    return {"result": "overturned", "outcome": court.final_of(market_id)[0], "tx_hash": _tx_hash(receipt)}


def _tx_hash(receipt: Any) -> str | None:
    try:
        h = receipt["transactionHash"]
    except (TypeError, KeyError):
        return None
    return h if isinstance(h, str) else "0x" + bytes(h).hex()
