"""The node's Conditional Tokens steps (network/node/ctf.py): link a market with a
`ctf_question_id` to its condition once registered, report its payouts once resolved. Each step
is idempotent and says what it did in the event log."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from conftest import spec_doc
from markets.spec import MarketSpec
from network.node.ctf import CtfLinker
from oracle.canonical import keccak_hex, to_bytes32
from oracle.deployment import Deployment
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError
from test_quorum_oracle import _resolution, _sigs

MODEL = keccak_hex(b"ctf model")
QUESTION = "0x" + "ab" * 32


@pytest.fixture
def network(chain_network):
    """This module's suite runs on every chain backend: embedded py-evm and anvil."""
    return chain_network


@pytest.fixture
def ctf(network):
    ct = network.chain.deploy(network.deployer, "ConditionalTokensLite")
    adapter = network.chain.deploy(network.deployer, "CTFAdapter", ct.address, network.dep.court.address)
    return ct, adapter


@pytest.fixture
def events():
    return []


@pytest.fixture
def linker(network, ctf, events):
    ct, adapter = ctf
    return CtfLinker(network.dep, network.creator, lambda event, **fields: events.append((event, fields)),
                     adapter=adapter.address, ctf=ct.address)


def _spec(question: str | None = QUESTION, tag: str = "a") -> MarketSpec:
    extra = {"ctf_question_id": question} if question else {}
    return MarketSpec.parse(spec_doc(MODEL, description=tag, **extra))


def _condition(adapter, market_id: str, question: str, slots: int = 2) -> str:
    ctf_question = keccak(to_bytes32(market_id) + to_bytes32(question))
    return "0x" + keccak(bytes.fromhex(adapter.address[2:]) + ctf_question + slots.to_bytes(32, "big")).hex()


def _resolve(network, market_id: str, outcome: int) -> None:
    r = _resolution(market_id, outcome=outcome, model=MODEL)
    network.dep.resolve(network.submitter, r, _sigs(network, r))


def test_links_a_registered_market_once(network, ctf, linker, events):
    ct, adapter = ctf
    spec = _spec()
    network.register(spec)
    record = linker.link(spec)
    condition = _condition(adapter, spec.market_id, QUESTION)
    assert record["market_id"] == spec.market_id and record["question_id"] == QUESTION
    assert record["condition_id"] == condition and record["adopted"] is False
    assert network.chain.receipt(record["tx"])["status"] == 1
    assert events == [("ctf_linked", record)]
    assert linker.condition_id_of(spec.market_id) == condition
    assert ct.functions.getOutcomeSlotCount(condition).call() == 2
    assert linker.link(spec) is None and len(events) == 1  # linked already: nothing sent


def test_nothing_to_link(network, linker, events):
    plain = _spec(question=None)
    network.register(plain, advance=False)
    assert linker.link(plain) is None
    # a market another creator registered (a node following the registry): theirs to link
    theirs = _spec(tag="theirs")
    network.dep.register_market(network.alice, **theirs.onchain())
    assert linker.link(theirs) is None
    assert events == [] and linker.condition_id_of(plain.market_id) is None
    assert linker.condition_id_of(theirs.market_id) is None


def test_adopts_a_condition_prepared_beforehand(network, ctf, linker, events):
    ct, adapter = ctf
    spec = _spec()
    network.register(spec)
    ctf_question = adapter.functions.ctfQuestionIdOf(to_bytes32(spec.market_id), to_bytes32(QUESTION)).call()
    network.chain.transact(network.bob, ct.functions.prepareCondition(adapter.address, ctf_question, 2))
    record = linker.link(spec)
    assert record["adopted"] is True and record["condition_id"] == _condition(adapter, spec.market_id, QUESTION)
    _resolve(network, spec.market_id, 1)
    assert linker.report(spec.market_id)["payouts"] == [0, 1]


@pytest.mark.parametrize("outcome, payouts", [(0, [1, 0]), (INVALID_OUTCOME, [1, 1])])
def test_reports_once_after_resolution(network, ctf, linker, events, outcome, payouts):
    ct, _ = ctf
    spec = _spec()
    network.register(spec)
    assert linker.report(spec.market_id) is None  # not linked
    linked = linker.link(spec)
    assert linker.report(spec.market_id) is None  # not resolved
    _resolve(network, spec.market_id, outcome)
    record = linker.report(spec.market_id)
    assert record == {"market_id": spec.market_id, "condition_id": linked["condition_id"], "payouts": payouts,
                      "tx": record["tx"]}
    assert events == [("ctf_linked", linked), ("ctf_reported", record)]
    condition = to_bytes32(linked["condition_id"])
    assert [ct.functions.payoutNumerators(condition, i).call() for i in (0, 1)] == payouts
    assert ct.functions.payoutDenominator(condition).call() == sum(payouts)
    assert linker.is_reported(spec.market_id) and linker.report(spec.market_id) is None
    assert len(events) == 2


def test_someone_else_got_there_first(network, ctf, linker, events, monkeypatch):
    """Between the linker's check and its transaction another sender linked or reported: the
    contract's AlreadyLinked / AlreadyReported is a no-op, not a failure."""
    _, adapter = ctf
    spec = _spec()
    network.register(spec)
    network.chain.transact(network.creator, adapter.functions.prepare(to_bytes32(spec.market_id),
                                                                      to_bytes32(QUESTION)))
    monkeypatch.setattr(linker, "condition_id_of", lambda market_id: None)  # checked before that landed
    assert linker.link(spec) is None
    monkeypatch.undo()
    _resolve(network, spec.market_id, 0)
    network.chain.transact(network.bob, adapter.functions.report(to_bytes32(spec.market_id)))
    assert linker.report(spec.market_id) is None
    monkeypatch.setattr(linker, "is_reported", lambda market_id: False)
    assert linker.report(spec.market_id) is None and events == []


def test_refuses_an_adapter_of_another_oracle_or_ctf(network, ctf, store):
    ct, adapter = ctf
    other = Deployment.deploy(network.chain, network.deployer, network.members, network.t)
    foreign = network.chain.deploy(network.deployer, "CTFAdapter", ct.address, other.court.address)
    with pytest.raises(ChainError, match="reports oracle"):
        CtfLinker(network.dep, network.creator, adapter=foreign.address)
    with pytest.raises(ChainError, match="prepares conditions on"):
        CtfLinker(network.dep, network.creator, adapter=adapter.address, ctf=network.dep.market.address)
    with pytest.raises(ChainError, match="no contract"):
        CtfLinker(network.dep, network.creator, adapter=network.alice.address)
    assert CtfLinker(network.dep, network.creator, adapter=adapter.address).ctf.address == ct.address
