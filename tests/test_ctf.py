"""Conditional Tokens: the adapter prepares a condition for a market and reports its quorum
resolution as a payout vector; positions split before resolution redeem against it."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from oracle.canonical import keccak_hex, to_bytes32
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError
from test_quorum_oracle import MODEL, _register, _resolution, _sigs


@pytest.fixture
def network(chain_network):
    """This module's suite runs on every chain backend: embedded py-evm and anvil."""
    return chain_network

@pytest.fixture
def ctf(network):
    ct = network.chain.deploy(network.deployer, "ConditionalTokensLite")
    adapter = network.chain.deploy(network.deployer, "CTFAdapter", ct.address, network.dep.court.address)
    return ct, adapter


def _ctf_question(market_id: str, question: bytes) -> bytes:
    """The adapter's CTF question id: keccak256(abi.encode(marketId, questionId))."""
    return keccak(to_bytes32(market_id) + question)


def _condition(adapter, market_id: str, question: bytes, slots: int = 2) -> bytes:
    return keccak(bytes.fromhex(adapter.address[2:]) + _ctf_question(market_id, question) + slots.to_bytes(32, "big"))


def _link(network, adapter, market_id: str, question: bytes, who=None):
    """`prepare` as the market's creator (or `who`); the ConditionPrepared event's args."""
    receipt = network.chain.transact(who or network.creator, adapter.functions.prepare(to_bytes32(market_id), question))
    return adapter.events.ConditionPrepared().process_receipt(receipt, errors=DISCARD)[0]["args"]


def _prepare(network, ct, adapter, tag: bytes):
    market_id = _register(network, tag)
    question = keccak(b"question " + tag)
    event = _link(network, adapter, market_id, question)
    condition = _condition(adapter, market_id, question)
    assert event["conditionId"] == condition and event["adopted"] is False
    assert event["ctfQuestionId"] == _ctf_question(market_id, question)
    assert adapter.functions.ctfQuestionIdOf(to_bytes32(market_id), question).call() == event["ctfQuestionId"]
    assert adapter.functions.conditionIdOf(to_bytes32(market_id)).call() == condition
    assert adapter.functions.questionOf(to_bytes32(market_id)).call() == question
    assert ct.functions.getConditionId(adapter.address, event["ctfQuestionId"], 2).call() == condition
    assert ct.functions.getOutcomeSlotCount(condition).call() == 2
    return market_id, condition


def _split_and_trade(network, ct, condition):
    # alice splits 2 ETH into YES+NO, keeps YES, gives NO to bob
    network.chain.transact(network.alice, ct.functions.splitPosition(condition), value=2 * 10**18)
    network.chain.transact(network.alice, ct.functions.transferPosition(condition, network.bob.address, 1, 2 * 10**18))


def _redeem(network, ct, who, condition) -> int:
    receipt = network.chain.transact(who, ct.functions.redeemPositions(condition))
    return ct.events.PayoutRedemption().process_receipt(receipt)[0]["args"]["payout"]


def test_condition_resolved_and_redeemed(network, ctf):
    ct, adapter = ctf
    market_id, condition = _prepare(network, ct, adapter, b"m1")
    _split_and_trade(network, ct, condition)
    with pytest.raises(ChainError, match="NotFinal"):
        network.chain.transact(network.submitter, adapter.functions.report(to_bytes32(market_id)))
    r = _resolution(market_id, outcome=0)
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    network.chain.transact(network.submitter, adapter.functions.report(to_bytes32(market_id)))
    assert ct.functions.payoutDenominator(condition).call() == 1
    assert [ct.functions.payoutNumerators(condition, i).call() for i in (0, 1)] == [1, 0]
    assert _redeem(network, ct, network.alice, condition) == 2 * 10**18
    assert _redeem(network, ct, network.bob, condition) == 0
    with pytest.raises(ChainError, match="AlreadyReported"):
        network.chain.transact(network.submitter, adapter.functions.report(to_bytes32(market_id)))


def test_report_batch_reports_every_final_market_or_none(network, ctf):
    """`reportBatch`: one transaction for many markets; `reported` is the CTF's own record (its payout
    denominator), so a market reported once refuses a second `report`, and a batch skips it: one
    front-run `report` of a keeper's batch does not void the rest of the batch."""
    ct, adapter = ctf
    linked = [_prepare(network, ct, adapter, b"batch%d" % i) for i in range(3)]
    ids = [to_bytes32(m) for m, _ in linked]
    for i, (market_id, _) in enumerate(linked[:2]):
        r = _resolution(market_id, outcome=i)
        network.dep.resolve(network.submitter, r, _sigs(network, r))
    with pytest.raises(ChainError, match="NotFinal"):  # the third is not resolved: nothing is reported
        network.chain.transact(network.bob, adapter.functions.reportBatch(ids), gas=2_000_000)
    assert not any(adapter.functions.reported(i).call() for i in ids)
    network.chain.transact(network.bob, adapter.functions.reportBatch(ids[:2]))
    assert [adapter.functions.reported(i).call() for i in ids] == [True, True, False]
    assert [[ct.functions.payoutNumerators(c, k).call() for k in (0, 1)] for _, c in linked[:2]] == [[1, 0], [0, 1]]
    with pytest.raises(ChainError, match="AlreadyReported"):
        network.chain.transact(network.bob, adapter.functions.report(ids[1]), gas=2_000_000)
    # the third resolves; someone reports it just before a keeper's batch of all three: the batch skips
    # the two reported ones and its own front-run one, and reports nothing twice
    r = _resolution(linked[2][0], outcome=1)
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    network.chain.transact(network.alice, adapter.functions.report(ids[2]))
    network.chain.transact(network.bob, adapter.functions.reportBatch(ids), gas=2_000_000)
    assert [adapter.functions.reported(i).call() for i in ids] == [True, True, True]
    assert [ct.functions.payoutNumerators(linked[2][1], k).call() for k in (0, 1)] == [0, 1]


def test_invalid_resolution_splits_equally(network, ctf):
    ct, adapter = ctf
    market_id, condition = _prepare(network, ct, adapter, b"m2")
    _split_and_trade(network, ct, condition)
    r = _resolution(market_id, outcome=INVALID_OUTCOME)
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    network.chain.transact(network.bob, adapter.functions.report(to_bytes32(market_id)))
    assert [ct.functions.payoutNumerators(condition, i).call() for i in (0, 1)] == [1, 1]
    assert _redeem(network, ct, network.alice, condition) == 10**18
    assert _redeem(network, ct, network.bob, condition) == 10**18


def test_only_the_adapter_can_report_its_condition(network, ctf):
    ct, adapter = ctf
    market_id, _ = _prepare(network, ct, adapter, b"m3")
    question = keccak(b"question m3")
    # someone else "reporting" reaches a different (unprepared) condition id
    with pytest.raises(ChainError, match="condition not prepared"):
        network.chain.transact(network.bob, ct.functions.reportPayouts(_ctf_question(market_id, question), [0, 1]))
    with pytest.raises(ChainError, match="NotLinked"):
        network.chain.transact(network.bob, adapter.functions.report(to_bytes32(keccak_hex(b"other"))))
    with pytest.raises(ChainError, match="AlreadyLinked"):
        network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(market_id), question))
    with pytest.raises(ChainError, match="UnregisteredMarket"):
        network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(keccak_hex(b"x")), question))


def _register_as(network, who, tag: bytes) -> str:
    market_id, _ = network.dep.register_market(who, spec_hash=keccak_hex(tag), model_id=MODEL, resolve_at=1,
                                               outcome_count=2, quorum=1)
    return market_id


def test_only_the_creator_links_its_market(network, ctf):
    _, adapter = ctf
    market_id = _register(network, b"m4")
    question = keccak(b"question m4")
    with pytest.raises(ChainError, match="NotCreator"):
        _link(network, adapter, market_id, question, who=network.alice)
    assert adapter.functions.isLinked(to_bytes32(market_id)).call() is False
    assert _link(network, adapter, market_id, question)["conditionId"] == _condition(adapter, market_id, question)


def test_another_creator_cannot_squat_a_question_id(network, ctf):
    """Alice links her own market to the question id the creator will use, first: she reaches her
    own condition (the id is bound to her market), the creator's link still goes through, and each
    condition pays its own market's resolution."""
    ct, adapter = ctf
    question = keccak(b"venue question 7")
    squat = _register_as(network, network.alice, b"squat")
    victim = _register(network, b"victim")
    squatted = _link(network, adapter, squat, question, who=network.alice)["conditionId"]
    linked = _link(network, adapter, victim, question)
    assert linked["conditionId"] == _condition(adapter, victim, question) != squatted
    assert linked["adopted"] is False
    for market_id, outcome in ((squat, 1), (victim, 0)):
        r = _resolution(market_id, outcome=outcome)
        network.dep.resolve(network.submitter, r, _sigs(network, r))
        network.chain.transact(network.bob, adapter.functions.report(to_bytes32(market_id)))
    assert [ct.functions.payoutNumerators(squatted, i).call() for i in (0, 1)] == [0, 1]
    assert [ct.functions.payoutNumerators(linked["conditionId"], i).call() for i in (0, 1)] == [1, 0]


@pytest.mark.parametrize("outcome, numerators, alice_gets", [(0, [1, 0], 2 * 10**18),
                                                             (INVALID_OUTCOME, [1, 1], 10**18)])
def test_condition_prepared_beforehand_is_adopted(network, ctf, outcome, numerators, alice_gets):
    """prepareCondition is permissionless: bob prepares the market's condition on the CTF directly
    (and one with the wrong slot count). The creator's link adopts it; the report still pays."""
    ct, adapter = ctf
    market_id = _register(network, b"pre")
    question = keccak(b"question pre")
    ctf_question = _ctf_question(market_id, question)
    network.chain.transact(network.bob, ct.functions.prepareCondition(adapter.address, ctf_question, 2))
    network.chain.transact(network.bob, ct.functions.prepareCondition(adapter.address, ctf_question, 3))
    event = _link(network, adapter, market_id, question)
    condition = _condition(adapter, market_id, question)
    assert event["conditionId"] == condition and event["adopted"] is True and event["slots"] == 2
    assert adapter.functions.conditionIdOf(to_bytes32(market_id)).call() == condition
    with pytest.raises(ChainError, match="AlreadyLinked"):
        _link(network, adapter, market_id, question)
    _split_and_trade(network, ct, condition)
    r = _resolution(market_id, outcome=outcome)
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    receipt = network.chain.transact(network.bob, adapter.functions.report(to_bytes32(market_id)))
    reported = adapter.events.PayoutsReported().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert reported["conditionId"] == condition and list(reported["payouts"]) == numerators
    assert [ct.functions.payoutNumerators(condition, i).call() for i in (0, 1)] == numerators
    assert _redeem(network, ct, network.alice, condition) == alice_gets
    assert _redeem(network, ct, network.bob, condition) == 2 * 10**18 - alice_gets
