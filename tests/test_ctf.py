"""Conditional Tokens: the adapter prepares a condition for a market and reports its quorum
resolution as a payout vector; positions split before resolution redeem against it."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from oracle.canonical import keccak_hex, to_bytes32
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError
from test_quorum_oracle import _register, _resolution, _sigs



@pytest.fixture
def network(chain_network):
    """This module's suite runs on every chain backend: embedded py-evm and anvil."""
    return chain_network

@pytest.fixture
def ctf(network):
    ct = network.chain.deploy(network.deployer, "ConditionalTokensLite")
    adapter = network.chain.deploy(network.deployer, "CTFAdapter", ct.address, network.dep.oracle.address)
    return ct, adapter


def _prepare(network, ct, adapter, tag: bytes):
    market_id = _register(network, tag)
    question = keccak(b"question " + tag)
    network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(market_id), question))
    condition = keccak(bytes.fromhex(adapter.address[2:]) + question + (2).to_bytes(32, "big"))
    assert ct.functions.getConditionId(adapter.address, question, 2).call() == condition
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
    with pytest.raises(ChainError, match="NotResolved"):
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
    market_id, condition = _prepare(network, ct, adapter, b"m3")
    question = keccak(b"question m3")
    # someone else "reporting" reaches a different (unprepared) condition id
    with pytest.raises(ChainError, match="condition not prepared"):
        network.chain.transact(network.bob, ct.functions.reportPayouts(question, [0, 1]))
    with pytest.raises(ChainError, match="NotLinked"):
        network.chain.transact(network.bob, adapter.functions.report(to_bytes32(keccak_hex(b"other"))))
    with pytest.raises(ChainError, match="AlreadyLinked"):
        network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(market_id), question))
    with pytest.raises(ChainError, match="UnregisteredMarket"):
        network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(keccak_hex(b"x")), question))
