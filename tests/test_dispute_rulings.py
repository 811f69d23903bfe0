"""Disputes answered by the network itself (network/roles/rulings.py): a validator signs `Ruling(market,
outcome)` with the outcome of its own stored final-round vote once the court says disputed, and
nothing else; the aggregator checks each ruling (member, signature, one outcome per signer) and at the
court's escalated quorum settles by vote. On the embedded replay chain with real proofs."""

from __future__ import annotations

import pytest

from conftest import spec_doc

FEE = 10**16


def _market(network, circuit, *, window: int = 3600):
    from markets.spec import MarketSpec

    spec = MarketSpec.parse(spec_doc(circuit.model_id, dispute_window=window))
    market_id, _ = network.dep.register_market(network.creator, **spec.onchain(), fee=FEE)
    assert market_id == spec.market_id
    network.advance_to(spec.resolve_at_unix)
    return spec


def _proposed(network, circuit, prover, load):
    spec = _market(network, circuit)
    report = network.run_round(spec, load, prover)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    docs = [r.vote.to_json() for r in report.reviews if r.vote is not None]
    assert len(docs) == 4
    return spec, report, docs


def _box(network):
    from network.roles.rulings import RulingBox

    return RulingBox(network.dep.court, network.dep.validators, network.submitter)


def test_a_griefing_dispute_is_upheld_by_the_members_rulings_and_the_bond_joins_the_fee(network, circuit, prover,
                                                                                       load):
    from network.fees import claim_market_fees
    from network.roles.rulings import RulingRefused, own_final_vote, sign_ruling

    spec, report, docs = _proposed(network, circuit, prover, load)
    dep, court, mid = network.dep, network.dep.court, spec.market_id
    outcome = dep.resolution_of(mid).resolution.outcome
    # proposed: no ruling yet (nothing to rule on), nothing signed
    with pytest.raises(RulingRefused, match="is proposed"):
        sign_ruling(court, network.keys[0], own_final_vote(docs, network.keys[0].address, mid), mid)

    bond = court.parameters().dispute_bond
    court.dispute(network.alice, mid)  # a griefer: the resolution is right
    assert court.escalated_quorum(mid) == 4
    box = _box(network)
    results = []
    for key in network.keys:
        ruling = sign_ruling(court, key, own_final_vote(docs, key.address, mid), mid)
        assert ruling.outcome == outcome and ruling.validator == key.address
        results.append(box.add(ruling))
    assert [r.get("settled_by") for r in results] == [None, None, None, "vote"]
    assert results[-1]["signers"] == sorted((k.address for k in network.keys), key=lambda a: int(a, 16))
    case = court.case_of(mid)
    assert case.ruling == "upheld" and court.state_of(mid) == "final" and court.final_of(mid)[0] == outcome
    assert court.owed(network.alice.address) == 0  # the griefer's bond burned into the fee pot
    assert court.fees_of(mid).pot == FEE + bond
    # settled: a member's ruling again sends nothing more, and a fresh one is refused (not disputed)
    block = dep.chain.block_number()
    assert box.try_settle(mid) == {} and dep.chain.block_number() == block
    with pytest.raises(RulingRefused, match="is final"):
        sign_ruling(court, network.keys[0], own_final_vote(docs, network.keys[0].address, mid), mid)
    rows = claim_market_fees(dep, network.submitter, network.aggregator, mid)
    prover_share = (FEE + bond) * 2000 // 10_000
    assert rows[0]["result"] == "claimed" and rows[0]["amount_wei"] == prover_share


def test_a_validator_rules_only_the_outcome_of_its_own_vote(network, circuit, prover, load):
    """Attack: an aggregator or peer asks a member for a ruling on the other outcome (or the member's own
    vote was outvoted): it gets nothing, or the member's own outcome; a member that did not vote the
    final round rules nothing; a ruling given once is answered again, never re-signed."""
    from network.roles.rulings import RulingRefused, own_final_vote, recover_ruling, sign_ruling

    spec, report, docs = _proposed(network, circuit, prover, load)
    court, mid = network.dep.court, spec.market_id
    court.dispute(network.alice, mid)
    key = network.keys[0]
    mine = own_final_vote(docs, key.address, mid)
    own = mine["resolution"]["outcome"]
    with pytest.raises(RulingRefused, match=f"voted {own}"):
        sign_ruling(court, key, mine, mid, asked=1 - own)
    given = sign_ruling(court, key, mine, mid, asked=own)
    assert given.outcome == own and recover_ruling(court, mid, own, given.signature) == key.address
    # asked again for the other outcome after it ruled: still nothing
    with pytest.raises(RulingRefused, match="rules nothing else"):
        sign_ruling(court, key, mine, mid, stored=given.to_json(), asked=1 - own)
    assert sign_ruling(court, key, mine, mid, stored=given.to_json()) == given

    # a member whose own vote was the other outcome (outvoted) rules that outcome, not the proposal's
    other = {**mine, "resolution": {**mine["resolution"], "outcome": 1 - own}}
    assert sign_ruling(court, key, other, mid).outcome == 1 - own
    # no vote on the market's final round (another member's, or a forecast round's): no ruling
    assert own_final_vote(docs, network.alice.address, mid) is None
    with pytest.raises(RulingRefused, match="no vote on its final round"):
        sign_ruling(court, network.alice, own_final_vote(docs, network.alice.address, mid), mid)
    forecast = [{**d, "resolution": {**d["resolution"], "final": False}} for d in docs]
    assert own_final_vote(forecast, key.address, mid) is None


def test_forged_non_member_and_two_faced_rulings_are_refused_and_settle_nothing(network, circuit, prover, load):
    """Attack: rulings from outside the set, signatures that recover to someone else (another key,
    another market, another domain), a member ruling both outcomes, malformed documents: refused; three
    good rulings plus forgeries never reach the escalated quorum of four."""
    from dataclasses import replace

    from network.roles.rulings import Ruling, RulingRefused, own_final_vote, sign_ruling
    from oracle.eip712 import Domain, ruling_signable
    from oracle.signer import LocalSigner

    spec, report, docs = _proposed(network, circuit, prover, load)
    court, mid = network.dep.court, spec.market_id
    court.dispute(network.alice, mid)
    outcome = network.dep.resolution_of(mid).resolution.outcome
    box = _box(network)
    honest = [sign_ruling(court, k, own_final_vote(docs, k.address, mid), mid) for k in network.keys[:3]]
    for r in honest:
        assert box.add(r) == {"accepted": True}

    outsider = LocalSigner.create()
    with pytest.raises(RulingRefused, match="not in the validator set"):
        box.add(Ruling(outsider.address, mid, outcome, court.ruling_signature(outsider, mid, outcome)))
    fourth = network.keys[3].address
    with pytest.raises(RulingRefused, match="recovers to"):  # signed by an outsider, claimed as a member's
        box.add(Ruling(fourth, mid, outcome, court.ruling_signature(outsider, mid, outcome)))
    with pytest.raises(RulingRefused, match="recovers to"):  # the member's ruling on another market
        box.add(Ruling(fourth, mid, outcome, court.ruling_signature(network.keys[3], "0x" + "ab" * 32, outcome)))
    foreign = Domain(chain_id=court.domain.chain_id + 1, verifying_contract=court.address,
                     name=court.domain.name)
    with pytest.raises(RulingRefused, match="recovers to"):  # another chain's court
        box.add(Ruling(fourth, mid, outcome, network.keys[3].sign_message(ruling_signable(foreign, mid, outcome))))
    with pytest.raises(RulingRefused, match="recovers to"):  # a good signature moved to the other outcome
        box.add(replace(honest[0], outcome=1 - outcome))
    with pytest.raises(RulingRefused, match="signature"):
        box.add(Ruling(fourth, mid, outcome, b"\x00" * 65))
    two_faced = network.keys[0]
    with pytest.raises(RulingRefused, match="already ruled"):
        box.add(Ruling(two_faced.address, mid, 1 - outcome, court.ruling_signature(two_faced, mid, 1 - outcome)))
    for bad, field in [({}, "validator"), ({**honest[0].to_json(), "outcome": True}, "outcome"),
                       ({**honest[0].to_json(), "market_id": "0x12"}, "market_id"),
                       ({**honest[0].to_json(), "signature": "0x" + "zz" * 65}, "not hex"), ([], "object")]:
        with pytest.raises(RulingRefused, match=field):
            Ruling.from_json(bad)
    assert court.state_of(mid) == "disputed" and box.try_settle(mid) == {}
    assert [r.validator for r in box.rulings(mid, outcome)] == [r.validator for r in honest]


# ------------------------------------------------------------------ the proof path, from a held bundle
@pytest.fixture(scope="module")
def resolver_verifier(circuit, store):
    from provers.evm import evm_verifier

    return evm_verifier(circuit, store)[1]


@pytest.mark.slow
def test_the_aggregator_overturns_a_wrong_proposal_with_the_proof_it_holds_before_any_vote(
        network, resolver_verifier, circuit, prover, load):
    """Colluders propose the other outcome over the real proof; a dispute; the aggregator holding that
    bundle stores the market's committed rule and submits `settleByProof`: overturned, the disputer
    paid. A bundle whose proof the proposal did not name, or a proof that agrees with a right proposal,
    sends nothing (an agreeing proof upholds nothing: the rulings do that)."""
    from dataclasses import replace

    from network.roles.rulings import settle_by_proof_if_wrong

    net, court = network, network.dep.court
    verifier = net.chain.deploy(net.deployer, resolver_verifier)
    net.dep.register_verifier(net.deployer, circuit.model_id, verifier.address, circuit.record.circuit(1).vk,
                              circuit.record.n_inputs)
    from markets.spec import MarketSpec

    right = MarketSpec.parse(spec_doc(circuit.model_id, dispute_window=1800))  # registered before its day
    rid, _ = net.dep.register_market(net.creator, **right.onchain(), fee=FEE)
    spec = _market(net, circuit)
    mid = spec.market_id
    bundle = prover.prove(spec, load)
    honest = net.validators[0].review(spec, bundle).vote.resolution
    wrong = replace(honest, outcome=1 - honest.outcome)  # t colluders, the same proof named
    net.dep.resolve(net.submitter, wrong, net.signatures(wrong))
    rule = spec.zk_rule().as_tuple()
    assert settle_by_proof_if_wrong(court, net.bob, mid, bundle, wrong, rule) == {"result": "not_disputed"}
    court.dispute(net.alice, mid)
    assert court.rule_of(mid) is None
    other = replace(bundle, market_id="0x" + "cd" * 32)
    block = net.chain.block_number()
    assert settle_by_proof_if_wrong(court, net.bob, mid, other, wrong, rule) == {"result": "other_proof"}
    assert settle_by_proof_if_wrong(court, net.bob, mid, bundle, wrong, None) == {"result": "no_rule"}
    assert net.chain.block_number() == block
    row = settle_by_proof_if_wrong(court, net.bob, mid, bundle, wrong, rule)
    assert row["result"] == "overturned" and row["outcome"] == honest.outcome
    assert court.rule_of(mid) == tuple(rule) and court.case_of(mid).ruling == "overturned"
    assert court.final_of(mid)[0] == honest.outcome
    assert court.owed(net.alice.address) == court.parameters().dispute_bond + FEE  # the disputer was right

    # a right proposal disputed: the proof agrees, nothing is sent, the dispute stays for the rulings
    rb = prover.prove(right, load)
    review = net.validators[0].review(right, rb)
    assert review.vote is not None, review.refusal
    r = review.vote.resolution
    net.dep.resolve(net.submitter, r, net.signatures(r))
    court.dispute(net.alice, rid)
    block = net.chain.block_number()
    court.set_rule(net.bob, rid, right.zk_rule().as_tuple())
    assert settle_by_proof_if_wrong(court, net.bob, rid, rb, r, None) == {"result": "proof_agrees"}
    assert net.chain.block_number() == block + 1 and court.state_of(rid) == "disputed"

