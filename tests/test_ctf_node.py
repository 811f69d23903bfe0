"""The node itself links a market with a `ctf_question_id` to its Conditional Tokens condition when it
registers it, and reports the condition's payouts once the quorum has resolved the market from its
evidence: nobody calls the adapter by hand."""

from __future__ import annotations

import pytest

from markets.spec import MarketSpec

from conftest import PASSWORD, spec_doc

pytestmark = pytest.mark.slow


@pytest.fixture
def ctf_node(make_node_home):
    from network.node import Node

    home = make_node_home("--ctf", "dev")
    logs: list[str] = []
    return Node(home, password=PASSWORD, on_log=logs.append), logs


def test_the_node_links_and_reports_the_condition(ctf_node):
    node, logs = ctf_node
    assert node.ctf is not None and "CTFAdapter" in node.dep.addresses
    question = "0x" + "ab" * 32
    spec = MarketSpec.parse(spec_doc(node.resolver_id(1), ctf_question_id=question))
    node.register(spec)  # the chain is at REPLAY_START: before the market's day
    condition = node.ctf.condition_id_of(spec.market_id)
    assert condition is not None and any(line.startswith("ctf_linked") for line in logs)
    assert not node.ctf.is_reported(spec.market_id)

    now = node.chain.timestamp()
    node.chain.advance_time(spec.resolve_at_unix - now)
    assert node.dispatch(spec.market_id, 0) == "settled"
    assert node.ctf.is_reported(spec.market_id) and any(line.startswith("ctf_reported") for line in logs)
    # the condition pays the outcome the evidence gave: NO (index 1) for 2019-03-23
    ctf = node.ctf.ctf
    denominator = node.chain.call(ctf.functions.payoutDenominator(bytes.fromhex(condition[2:])), action="den")
    numerators = [node.chain.call(ctf.functions.payoutNumerators(bytes.fromhex(condition[2:]), i), action="num")
                  for i in range(2)]
    assert denominator == 1 and numerators == [0, 1]
    node.sweep_ctf()  # idempotent: nothing left to do
    assert sum(line.startswith("ctf_reported") for line in logs) == 1
