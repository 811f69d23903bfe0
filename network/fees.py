"""A market's finality and fees as operators see them, and the fee claims the network's roles make.

`finality` is what every display reads (CLI, devnet status, client): the court's state (proposed /
disputed / final / invalid), when the dispute window ends, the case and the fees. `claim_signer_fee`
and `claim_prover_fee` take a final market's fee shares with the votes a role stored as evidence:
paid to the signer (or prover) whoever sends the transaction, so a validator claims its own and an
aggregator claims for the votes and prover credits it collected. A share someone else claimed first
is no failure.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from oracle.deployment import Deployment
from oracle.eip712 import Resolution, digest
from oracle.errors import ChainError
from oracle.signer import Signer

# the court's answers that mean "nothing (more) to claim here", not a failure
_SETTLED = {"AlreadyPaid": "already_paid", "SharesTaken": "shares_taken", "NoFeeShare": "no_fee_share"}


def finality(dep: Deployment, market_id: str) -> dict[str, Any]:
    """The court's view of one market: {"state", "window_ends_at", "final_at", "outcome", "case",
    "fees"}; `case` is None when nobody disputed."""
    court = dep.court
    doc = court.status(market_id)
    case = doc.pop("case")
    doc["case"] = case if case["disputed_at"] else None
    doc["window_ends_at"] = court.window_end(market_id) if doc["state"] != "open" and \
        doc["state"] != "unregistered" else None
    doc.setdefault("final_at", None)
    doc.setdefault("outcome", None)
    doc["dispute_bond_wei"] = court.parameters().dispute_bond
    return doc


def state_label(doc: dict[str, Any], outcomes: list[str] | None = None) -> str:
    """'proposed YES (final at T)', 'final NO', 'disputed by 0x..', 'invalid' for one `finality`."""
    state, outcome = doc["state"], doc.get("outcome")
    name = ""
    if outcome is not None:
        name = f" {outcomes[outcome]}" if outcomes and outcome < len(outcomes) else f" {outcome}"
    if state == "proposed":
        return f"proposed (final at {doc['window_ends_at']} unless disputed)"
    if state == "disputed":
        return f"disputed by {doc['case']['disputer']}"
    if state == "final":
        ruling = doc["case"]["ruling"] if doc.get("case") else None
        return f"final{name}" + (f" ({ruling})" if ruling else "")
    return state


def _onchain_resolution(dep: Deployment, market_id: str) -> Resolution:
    return dep.resolution_of(market_id).resolution


def recording_set(dep: Deployment, market_id: str) -> list[str]:
    """The validator set that recorded the market's resolution: the court pays its members only."""
    return dep.members_of_epoch(dep.resolution_of(market_id).epoch)


def claim_signer_fee(dep: Deployment, sender: Signer, market_id: str, vote_doc: dict,
                     members: list[str] | None = None) -> dict[str, Any]:
    """Claim the share of the vote's signer (its stored vote document: resolution + signature).
    {"market_id", "signer", "result": "claimed" | "already_paid" | ... | "not_final" | "other_resolution"
    | "not_a_member", "amount_wei"?}. `members`: the recording set, if already read."""
    from validators.votes import Vote

    vote = Vote.from_json(vote_doc)
    row: dict[str, Any] = {"market_id": market_id, "signer": vote.validator}
    if dep.court.state_of(market_id) != "final":
        return {**row, "result": "not_final"}
    onchain = _onchain_resolution(dep, market_id)
    if digest(dep.domain, onchain) != digest(dep.domain, vote.resolution):
        return {**row, "result": "other_resolution"}  # it did not sign what became final: no share
    if dep.court.signer_paid(market_id, vote.validator):
        return {**row, "result": "already_paid"}
    members = recording_set(dep, market_id) if members is None else members
    if vote.validator.lower() not in {m.lower() for m in members}:
        return {**row, "result": "not_a_member"}  # of the set that recorded it: no share
    before = dep.court.owed(vote.validator)
    try:
        dep.court.claim_signer_fee(sender, market_id, vote.signature, members)
    except ChainError as e:
        if e.error in _SETTLED:
            return {**row, "result": _SETTLED[e.error]}
        raise
    return {**row, "result": "claimed", "amount_wei": dep.court.owed(vote.validator) - before}


def claim_prover_fee(dep: Deployment, sender: Signer, market_id: str, prover: str,
                     credits: list[tuple[str, bytes]], members: list[str] | None = None) -> dict[str, Any]:
    """Claim the prover's share with enough (member, `ProverCredit` signature) pairs from the set that
    recorded the resolution (`members`, read if not given)."""
    row: dict[str, Any] = {"market_id": market_id, "prover": prover}
    if dep.court.state_of(market_id) != "final":
        return {**row, "result": "not_final"}
    if dep.court.fees_of(market_id).prover_paid:
        return {**row, "result": "already_paid"}
    before = dep.court.owed(prover)
    try:
        dep.court.claim_prover_fee(sender, market_id, prover, credits,
                                   recording_set(dep, market_id) if members is None else members)
    except ChainError as e:
        if e.error in _SETTLED:
            return {**row, "result": _SETTLED[e.error]}
        raise
    return {**row, "result": "claimed", "amount_wei": dep.court.owed(prover) - before}


def claim_market_fees(dep: Deployment, sender: Signer, aggregator, market_id: str) -> list[dict[str, Any]]:
    """An aggregator's claims for a final market, from the votes it holds (`validators.aggregator.
    Aggregator`): the prover's share with credits naming one prover for the recorded proof, from as
    many members of the recording set as the court asks (the market's quorum and a strict majority of
    that set), then each member's share with its vote for the recorded resolution. Nothing is sent
    before final."""
    if dep.court.state_of(market_id) != "final":
        return []
    onchain = _onchain_resolution(dep, market_id)
    members = recording_set(dep, market_id)
    needed = max(dep.get_market(market_id).quorum, len(members) // 2 + 1)
    rows = []
    credits = aggregator.prover_credits(onchain, needed, members)
    if credits is not None:
        rows.append(claim_prover_fee(dep, sender, market_id, *credits, members=members))
    lowered = {m.lower() for m in members}
    votes = aggregator.votes(market_id, onchain.round).get(digest(dep.domain, onchain), {})
    for v in sorted(votes.values(), key=lambda v: int(v.validator, 16)):
        if v.validator.lower() not in lowered:
            continue
        row = claim_signer_fee(dep, sender, market_id, v.to_json(), members)
        rows.append(row)
        if row["result"] == "no_fee_share":
            break
    return rows


def claim_own_fees(dep: Deployment, signer: Signer, vote_docs: Iterable[dict],
                   log: Callable[..., None] = lambda *a, **k: None) -> list[dict[str, Any]]:
    """`oracle validator claim-fees`: this validator's share of every final market it signed, from
    its stored votes (final rounds only; a chain error on one market is reported, the rest go on)."""
    rows = []
    for doc in vote_docs:
        r = doc.get("resolution") or {}
        if not r.get("final") or str(doc.get("validator", "")).lower() != signer.address.lower():
            continue
        market_id = r["market_id"]
        try:
            row = claim_signer_fee(dep, signer, market_id, doc)
        except ChainError as e:
            row = {"market_id": market_id, "signer": signer.address, "result": "error", "reason": str(e)}
        log("fee_claim", **row)
        rows.append(row)
    return rows
