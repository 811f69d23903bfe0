"""Conditional Tokens for a node's markets: link a market to its condition through the CTFAdapter
once it is registered, report the condition's payouts once the quorum has resolved the market.

The adapter is the condition's oracle; the condition's CTF question id is bound to the market on
chain (`CTFAdapter.ctfQuestionIdOf(marketId, questionId)`), and only the market's creator may link
it. Both steps are idempotent: each returns None when there is nothing (left) for this node to do,
so a node may call them on every pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3.logs import DISCARD

from oracle.canonical import to_bytes32
from oracle.deployment import Deployment
from oracle.errors import ChainError
from oracle.signer import Signer

EventLog = Callable[..., None]  # log(event, **fields), as `RoundDriver`'s


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


class CtfLinker:
    """Links markets with a `ctf_question_id` to conditions on the Conditional Tokens contract `ctf`
    through `adapter` (a CTFAdapter bound to `deployment`'s oracle), sending as `signer` (the node's
    market creator), and reports their payouts. Every transaction is also told to `event_log` as
    `ctf_linked` / `ctf_reported`."""

    def __init__(self, deployment: Deployment, signer: Signer, event_log: EventLog = lambda event, **fields: None,
                 *, adapter: str, ctf: str | None = None):
        self.dep = deployment
        self.chain = deployment.chain
        self.signer = signer
        self.event_log = event_log
        if not self.chain.code(adapter):
            raise ChainError("load CTF adapter", f"no contract at {adapter} on chain {self.chain.chain_id}")
        self.adapter = self.chain.contract("CTFAdapter", adapter)
        bound = self.chain.call(self.adapter.functions.oracle(), action="CTFAdapter.oracle")
        if bound.lower() != deployment.oracle.address.lower():
            # a report would carry another oracle's answers: refuse at start, not at the first report
            raise ChainError("load CTF adapter", f"adapter {adapter} reports oracle {bound}, "
                             f"not this deployment's {deployment.oracle.address}")
        actual = self.chain.call(self.adapter.functions.ctf(), action="CTFAdapter.ctf")
        if ctf is not None and actual.lower() != ctf.lower():
            raise ChainError("load CTF adapter", f"adapter {adapter} prepares conditions on {actual}, not {ctf}")
        self.ctf = self.chain.contract("IConditionalTokens", actual)

    # --------------------------------------------------------------- views
    def condition_id_of(self, market_id: str) -> str | None:
        """The market's linked condition id, None if it is not linked."""
        c = self.chain.call(self.adapter.functions.conditionIdOf(to_bytes32(market_id)),
                            action="CTFAdapter.conditionIdOf")
        return None if c == bytes(32) else _hex(c)

    def is_reported(self, market_id: str) -> bool:
        return self.chain.call(self.adapter.functions.reported(to_bytes32(market_id)), action="CTFAdapter.reported")

    # --------------------------------------------------------------- steps
    def link(self, spec) -> dict[str, Any] | None:
        """Link a registered market to its condition (`CTFAdapter.prepare`): the event-log record
        (market_id, question_id, ctf_question_id, condition_id, adopted, tx), or None when the spec
        names no question id, the market is linked already, or this node did not create it (only the
        creator may link; a market followed from the registry is its creator's to link)."""
        if not spec.ctf_question_id or self.condition_id_of(spec.market_id) is not None:
            return None
        if self.dep.get_market(spec.market_id).creator.lower() != self.signer.address.lower():
            return None
        fn = self.adapter.functions.prepare(to_bytes32(spec.market_id), to_bytes32(spec.ctf_question_id))
        try:
            receipt = self.chain.transact(self.signer, fn, action="CTFAdapter.prepare")
        except ChainError as e:
            if e.error == "AlreadyLinked":  # another pass of ours got there first
                return None
            raise
        # the CTF's own ConditionPreparation log shares the receipt: only the adapter's event counts
        event = self.adapter.events.ConditionPrepared().process_receipt(receipt, errors=DISCARD)[0]["args"]
        record = {"market_id": spec.market_id, "question_id": spec.ctf_question_id,
                  "ctf_question_id": _hex(event["ctfQuestionId"]), "condition_id": _hex(event["conditionId"]),
                  "adopted": event["adopted"], "tx": _hex(receipt["transactionHash"])}
        self.event_log("ctf_linked", **record)
        return record

    def report(self, market_id: str) -> dict[str, Any] | None:
        """Report a final market's payouts to its condition (`CTFAdapter.report`, open to anyone):
        the event-log record (market_id, condition_id, payouts, tx), or None when the market is not
        linked, not final yet (proposed: its dispute window is still open), or reported already."""
        if self.condition_id_of(market_id) is None or self.is_reported(market_id):
            return None
        if not self.dep.court.is_final(market_id):  # proposed, disputed: the adapter would refuse
            return None
        try:
            receipt = self.chain.transact(self.signer, self.adapter.functions.report(to_bytes32(market_id)),
                                          action="CTFAdapter.report")
        except ChainError as e:
            if e.error == "AlreadyReported":  # anyone may report: someone did
                return None
            raise
        event = self.adapter.events.PayoutsReported().process_receipt(receipt, errors=DISCARD)[0]["args"]
        record = {"market_id": market_id, "condition_id": _hex(event["conditionId"]),
                  "payouts": list(event["payouts"]), "tx": _hex(receipt["transactionHash"])}
        self.event_log("ctf_reported", **record)
        return record
