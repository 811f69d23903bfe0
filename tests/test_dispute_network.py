"""The network's side of the dispute court (issue 14): validators credit the prover of the proof they
checked, aggregators claim the fee's shares once a market is final (never before), from what they
hold; the operator's commands (`market status`, `market dispute`, `market withdraw`). On the
embedded replay chain with real proofs, and on a node (anvil) for the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from conftest import PASSWORD, spec_doc

runner = CliRunner()
FEE = 10**16  # 0.01 ETH


def _market(network, circuit, *, window: int, fee: int = FEE, **extra):
    from markets.spec import MarketSpec

    spec = MarketSpec.parse(spec_doc(circuit.model_id, dispute_window=window, **extra))
    market_id, _ = network.dep.register_market(network.creator, **spec.onchain(), fee=fee)
    assert market_id == spec.market_id
    network.advance_to(spec.resolve_at_unix)
    return spec


def _shares(fee: int, slots: int) -> tuple[int, int]:
    prover = fee * 2000 // 10_000  # DisputeCourt.PROVER_BPS
    return prover, (fee - prover) // slots


def test_fees_reach_the_prover_and_the_signers_only_once_final_and_are_withdrawn(network, circuit, prover, load):
    from eth_account import Account

    from network.fees import claim_market_fees, claim_signer_fee
    from oracle.eip712 import prover_credit_signable

    spec = _market(network, circuit, window=3600)
    dep, court, mid = network.dep, network.dep.court, spec.market_id
    report = network.run_round(spec, load, prover)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    votes = [r.vote for r in report.reviews if r.vote is not None]
    assert len(votes) == 4
    for v in votes:  # each vote names the bundle's (checked) signer as the prover, under the court's domain
        assert v.prover == report.bundle.prover == prover.signer.address
        assert Account.recover_message(prover_credit_signable(court.domain, mid, v.resolution.proof_hash, v.prover),
                                       signature=v.prover_credit) == v.validator

    # proposed: nothing is claimed (no transaction sent), by the aggregator or by a validator itself
    assert court.state_of(mid) == "proposed"
    block = dep.chain.block_number()
    assert claim_market_fees(dep, network.submitter, network.aggregator, mid) == []
    assert claim_signer_fee(dep, network.keys[0], mid, votes[0].to_json())["result"] == "not_final"
    assert dep.chain.block_number() == block

    network.advance_to(court.window_end(mid))
    assert court.state_of(mid) == "final"
    rows = claim_market_fees(dep, network.submitter, network.aggregator, mid)
    prover_share, signer_share = _shares(FEE, 4)  # a share per member of the recording set
    assert rows[0] == {"market_id": mid, "prover": prover.signer.address, "result": "claimed",
                       "amount_wei": prover_share}
    signers = sorted((v.validator for v in votes), key=lambda a: int(a, 16))
    assert [(r["signer"], r["result"], r["amount_wei"]) for r in rows[1:]] == [(s, "claimed", signer_share)
                                                                              for s in signers]
    assert court.owed(prover.signer.address) == prover_share
    assert [court.owed(s) for s in signers] == [signer_share] * 4
    fees = court.fees_of(mid)
    assert fees.prover_paid and fees.signer_claims == 4 and fees.paid == prover_share + 4 * signer_share

    # claiming again pays nobody twice, and sends nothing
    block = dep.chain.block_number()
    again = claim_market_fees(dep, network.submitter, network.aggregator, mid)
    assert again[0]["result"] == "already_paid" and again[1]["result"] == "already_paid"
    assert dep.chain.block_number() == block

    # a signer withdraws its share (it pays the gas)
    key = next(k for k in network.keys if k.address == signers[0])
    dep.chain.fund(key.address, 10**18)
    before = dep.chain.balance(key.address)
    receipt = court.withdraw(key)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert dep.chain.balance(key.address) == before + signer_share - gas and court.owed(key.address) == 0


def test_a_forged_or_minority_prover_credit_neither_blocks_nor_steals_the_provers_fee(network, circuit, prover, load):
    """A credit not signed by its voter is refused with the vote (stored, it would make the prover's
    claim revert); a member crediting itself (its own valid signature) is outvoted: the claim goes to
    the prover a quorum named, with that quorum's credits only."""
    from network.fees import claim_market_fees
    from oracle.eip712 import prover_credit_signable
    from oracle.signer import LocalSigner
    from validators.votes import VoteRejected

    spec = _market(network, circuit, window=0)  # final as it lands
    court, mid = network.dep.court, spec.market_id
    bundle = prover.prove(spec, load)
    votes = sorted((v.review(spec, bundle).vote for v in network.validators), key=lambda v: int(v.validator, 16))
    r = votes[0].resolution

    def credit(signer, who: str) -> bytes:
        return signer.sign_message(prover_credit_signable(court.domain, mid, r.proof_hash, who))

    thief = LocalSigner.create()
    with pytest.raises(VoteRejected, match="prover_credit"):
        network.aggregator.add(replace(votes[0], prover=thief.address, prover_credit=credit(thief, thief.address)))
    member = next(k for k in network.keys if k.address == votes[0].validator)
    selfish = replace(votes[0], prover=member.address, prover_credit=credit(member, member.address))
    for v in [selfish, *votes[1:]]:
        network.aggregator.add(v)
    assert network.dep.is_resolved(mid) and court.state_of(mid) == "final"

    rows = claim_market_fees(network.dep, network.submitter, network.aggregator, mid)
    prover_share, signer_share = _shares(FEE, 4)
    assert rows[0]["prover"] == bundle.prover and rows[0]["result"] == "claimed"
    assert court.owed(bundle.prover) == prover_share and court.owed(thief.address) == 0
    assert court.owed(member.address) == signer_share  # its signer share, not the prover's


def test_a_disputed_market_pays_nothing_until_upheld_then_the_bond_joins_the_fee(network, circuit, prover, load):
    from network.fees import claim_market_fees, finality

    spec = _market(network, circuit, window=3600)
    dep, court, mid = network.dep, network.dep.court, spec.market_id
    report = network.run_round(spec, load, prover)
    assert report.submission.settlement.on_chain
    bond = court.parameters().dispute_bond
    court.dispute(network.alice, mid)
    view = finality(dep, mid)
    assert view["state"] == "disputed" and view["case"]["disputer"] == network.alice.address
    assert view["case"]["bond_wei"] == bond and view["window_ends_at"] == court.window_end(mid)
    network.advance_to(court.window_end(mid) + 1)
    assert claim_market_fees(dep, network.submitter, network.aggregator, mid) == []  # disputed: not final

    # a larger quorum (all four) upholds the proposal: final, and the disputer's bond joins the fee
    outcome = dep.resolution_of(mid).resolution.outcome
    court.settle_by_vote(network.submitter, mid, outcome,
                         [court.ruling_signature(k, mid, outcome) for k in network.keys])
    assert finality(dep, mid)["case"]["ruling"] == "upheld"
    rows = claim_market_fees(dep, network.submitter, network.aggregator, mid)
    prover_share, signer_share = _shares(FEE + bond, 4)
    assert rows[0]["amount_wei"] == prover_share and rows[1]["amount_wei"] == signer_share


# ------------------------------------------------------------------ the operator's commands, on a node
def test_market_status_dispute_and_withdraw_from_the_cli(node_home, circuit, tmp_path):
    """`market register --fee`, then `market status` (open -> proposed, its window's end, the fee),
    `market dispute` (the bond; a second dispute is one line naming the state), `market withdraw`."""
    from cli import app
    from markets.spec import MarketSpec
    from network.node import Node

    doc = spec_doc(circuit.model_id, dispute_window=600)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    spec = MarketSpec.parse(doc)
    bad = runner.invoke(app, ["market", "register", str(path), "--fee", "-1"])
    assert bad.exit_code == 1 and "--fee" in bad.output
    reg = runner.invoke(app, ["market", "register", str(path), "--fee", "0.002"])
    assert reg.exit_code == 0, reg.output
    status = runner.invoke(app, ["market", "status", spec.market_id, "--json"])
    assert status.exit_code == 0, status.output
    s = json.loads(status.stdout)
    assert s["state"] == "open" and s["fees"]["pot_wei"] == 2 * 10**15 and s["case"] is None

    node = Node(password=PASSWORD)
    node.chain.advance_time(spec.resolve_at_unix + 3600 - node.chain.timestamp())
    node.dispatch(spec.market_id, spec.final_round)
    s = json.loads(runner.invoke(app, ["market", "status", spec.market_id, "--json"]).stdout)
    assert s["state"] == "proposed" and s["window_ends_at"] == node.dep.resolution_of(spec.market_id).resolved_at + 600
    human = runner.invoke(app, ["market", "status", spec.market_id])
    assert "proposed (final at" in human.output and "0.002 ETH escrowed" in human.output
    listed = json.loads(runner.invoke(app, ["market", "list", "--json"]).stdout)
    assert [e["court_state"] for e in listed if e["market_id"] == spec.market_id] == ["proposed"]
    assert "proposed (NO)" in runner.invoke(app, ["market", "list"]).output

    disputed = runner.invoke(app, ["market", "dispute", spec.market_id, "--key", "deployer", "--json"])
    assert disputed.exit_code == 0, disputed.output
    d = json.loads(disputed.stdout)
    assert d["state"] == "disputed" and d["bond_wei"] == node.dep.court.parameters().dispute_bond
    s = json.loads(runner.invoke(app, ["market", "status", spec.market_id, "--json"]).stdout)
    assert s["state"] == "disputed" and s["case"]["disputer"] == d["disputer"] and s["case"]["ruling"] == "none"
    again = runner.invoke(app, ["market", "dispute", spec.market_id, "--key", "deployer"])
    assert again.exit_code == 1 and "is disputed: only a proposed resolution" in again.output
    nothing = runner.invoke(app, ["market", "withdraw", "--key", "deployer"])
    assert nothing.exit_code == 1 and "owes" in nothing.output and "nothing" in nothing.output
    unknown = runner.invoke(app, ["market", "status", "0x" + "12" * 32])
    assert unknown.exit_code == 1 and "unknown market" in unknown.output
