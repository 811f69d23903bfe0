"""No market locks funds forever (issue 12 item 6): a market the quorum has not resolved within
`RESOLUTION_GRACE` of its resolve time refunds every stake, and a resolution landing after that
deadline changes no payout. On both chains (conftest's `chain_network`: a fresh chain per test, since
these tests move the clock 30 days)."""

from __future__ import annotations

import os

import pytest

from oracle.eip712 import Resolution
from oracle.errors import ChainError

ETH = 10**18


def _market(network):
    """Trading closes in 50 s, the market resolves in 100 s."""
    now = network.chain.timestamp()
    spec_hash, model_id = "0x" + os.urandom(32).hex(), "0x" + os.urandom(32).hex()
    market_id, _ = network.dep.register_market(network.creator, spec_hash=spec_hash, model_id=model_id,
                                               close_at=now + 50, resolve_at=now + 100, outcome_count=2, quorum=3)
    return market_id, model_id


def test_an_unresolved_market_refunds_after_its_deadline(chain_network):
    network = chain_network
    market_id, model_id = _market(network)
    network.dep.deposit(network.alice, market_id, 0, 1 * ETH)
    network.dep.deposit(network.bob, market_id, 1, 2 * ETH)
    with pytest.raises(ChainError) as e:
        network.dep.redeem(network.alice, market_id)
    assert e.value.error == "NotResolved" and not network.dep.expired(market_id)

    deadline = network.dep.refundable_at(market_id)
    network.chain.advance_time(deadline - network.chain.timestamp() + 1)
    assert network.dep.expired(market_id)
    with pytest.raises(ChainError) as e:  # a closed market takes no new stakes
        network.dep.deposit(network.alice, market_id, 1, ETH)
    assert e.value.error == "TradingClosed"

    # the quorum resolves late: payouts stay refunds, whoever "won"
    late = Resolution(market_id, 0, 1, 900_000, model_id, "0x" + "11" * 32, "0x" + "22" * 32)
    network.settle(late, network.signatures(late))
    assert network.dep.is_resolved(market_id) and network.dep.expired(market_id)
    assert network.dep.payout_of(market_id, network.bob.address) == 2 * ETH
    assert network.dep.redeem(network.alice, market_id)[0] == 1 * ETH
    assert network.dep.redeem(network.bob, market_id)[0] == 2 * ETH
    assert network.chain.balance(network.dep.market.address) == 0


def test_a_market_resolved_in_time_pays_winners(chain_network):
    network = chain_network
    market_id, model_id = _market(network)
    network.dep.deposit(network.alice, market_id, 0, 1 * ETH)
    network.dep.deposit(network.bob, market_id, 1, 2 * ETH)
    network.chain.advance_time(200)  # past resolveAt, well before the deadline
    r = Resolution(market_id, 0, 0, 100_000, model_id, "0x" + "11" * 32, "0x" + "22" * 32)
    network.settle(r, network.signatures(r))
    network.chain.advance_time(network.dep.refundable_at(market_id) - network.chain.timestamp() + 1)
    assert not network.dep.expired(market_id)  # resolved before the deadline: stays resolved
    assert network.dep.redeem(network.alice, market_id)[0] == 3 * ETH
    with pytest.raises(ChainError, match="NothingToRedeem"):
        network.dep.redeem(network.bob, market_id)
