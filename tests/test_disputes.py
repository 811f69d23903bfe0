"""The dispute court on both chains: a quorum's resolution is proposed, then final after its market's
dispute window or a ruling; disputes settled by the proof, a larger quorum, the arbiter or the
timeout; fees to signers and prover; timelocked governance (parameters, pause, emergency). Every
consumer (BinaryMarket, ResolutionReader) acts on final only. Each refused attack names its check."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_staking import BOND, MODEL, Staked

from oracle.bundle import felt_to_uint
from oracle.canonical import keccak_hex
from oracle.consumer import ResolutionReader, State
from oracle.eip712 import Resolution, signable
from oracle.errors import ChainError
from oracle.signer import LocalSigner
from oracle.staking import ETH

WINDOW = 3600
FEE = 10**16  # 0.01 ETH
DAY = 86_400


def _register(net, tag: bytes, *, window: int = WINDOW, fee: int = FEE, quorum: int = 1,
              close_in: int = 1000) -> str:
    now = net.chain.timestamp()
    market_id, _ = net.dep.register_market(net.creator, spec_hash=keccak_hex(tag), model_id=MODEL,
                                           close_at=now + close_in, resolve_at=now + close_in + 10,
                                           outcome_count=2, quorum=quorum, dispute_window=window, fee=fee)
    return market_id


def _resolution(market_id: str, outcome: int = 1, ppm: int = 800_000) -> Resolution:
    return Resolution(market_id, 0, outcome, ppm, MODEL, keccak_hex(b"inputs"), keccak_hex(b"proof"))


def _propose(net, market_id: str, outcome: int = 1, keys=None) -> Resolution:
    """Let trading close and resolve time come, then record a quorum's resolution (the proposal)."""
    net.advance_to(net.dep.get_market(market_id).resolve_at)
    r = _resolution(market_id, outcome)
    net.dep.resolve(net.submitter, r, net.signatures(r, keys))
    return r


def _owed_then_withdraw(net, account) -> int:
    owed = net.dep.court.owed(account.address)
    if owed:
        before = net.chain.balance(account.address)
        receipt = net.dep.court.withdraw(account)
        assert net.chain.balance(account.address) == before + owed - receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert net.dep.court.owed(account.address) == 0
    return owed


def _pause(net) -> None:
    """The owner queues a pause; anyone starts it once the governance delay has passed."""
    net.dep.court.queue_pause(net.deployer)
    net.advance_to(net.chain.timestamp() + 2 * DAY)
    net.dep.court.execute_pause(net.alice)


def _ruling_signatures(net, market_id: str, outcome: int, keys) -> list[bytes]:
    return [net.dep.court.ruling_signature(k, market_id, outcome) for k in keys]


# ------------------------------------------------------------------ proposed -> final


def test_a_resolution_is_proposed_for_its_window_then_final_and_consumers_wait(chain_network):
    net = chain_network
    court = net.dep.court
    reader = ResolutionReader.deploy(net.chain, net.deployer, court.address)
    market_id = _register(net, b"windowed")
    assert court.state_of(market_id) == "open" and reader.state_of(market_id) == State.OPEN
    assert court.fees_of(market_id).pot == FEE
    net.dep.deposit(net.alice, market_id, 1, ETH)
    net.dep.deposit(net.bob, market_id, 0, ETH)
    r = _propose(net, market_id, outcome=1)
    proposed_at = net.dep.resolution_of(market_id).resolved_at
    # recorded by the oracle, but only proposed: no consumer pays on it
    assert net.dep.is_resolved(market_id) and court.state_of(market_id) == "proposed"
    assert reader.state_of(market_id) == State.PROPOSED
    with pytest.raises(ChainError, match="NotFinal"):
        reader.outcome_of(market_id)
    assert net.dep.payout_of(market_id, net.alice.address) == 0
    with pytest.raises(ChainError, match="NotResolved"):
        net.dep.redeem(net.alice, market_id)
    with pytest.raises(ChainError, match="NotFinal"):
        court.final_of(market_id)
    net.advance_to(proposed_at + WINDOW)
    assert court.state_of(market_id) == "final" and reader.state_of(market_id) == State.FINAL
    assert court.final_of(market_id) == (1, proposed_at + WINDOW)
    assert reader.final_resolution(market_id) == (r, proposed_at + WINDOW)
    assert net.dep.redeem(net.alice, market_id)[0] == 2 * ETH
    with pytest.raises(ChainError, match="NotDisputable"):  # the window has passed
        court.dispute(net.bob, market_id)


def test_a_zero_window_is_final_as_it_lands(chain_network):
    net = chain_network
    market_id = _register(net, b"instant", window=0)
    _propose(net, market_id, outcome=0)
    assert net.dep.court.state_of(market_id) == "final"
    with pytest.raises(ChainError, match="NotDisputable"):
        net.dep.court.dispute(net.bob, market_id)


def test_registration_checks_the_fee_and_the_window(chain_network):
    net = chain_network
    minimum = net.dep.court.parameters().min_fee
    with pytest.raises(ChainError, match="FeeTooLow"):
        _register(net, b"cheap", fee=minimum - 1)
    with pytest.raises(ChainError, match="DisputeWindowTooLong"):
        _register(net, b"long", window=7 * DAY + 1)
    # only the registry escrows fees: nobody credits a market (or themselves) directly
    fn = net.dep.court.contract.functions.escrowFee(b"\x01" * 32, net.alice.address)
    with pytest.raises(ChainError, match="NotRegistry"):
        net.chain.transact(net.alice, fn, value=FEE, gas=200_000 if net.chain.explicit_gas else None)


# ------------------------------------------------------------------ disputes


def test_a_griefing_dispute_loses_its_bond_to_the_signers_and_the_prover(chain_network):
    net = chain_network
    court = net.dep.court
    bond = court.parameters().dispute_bond
    market_id = _register(net, b"grief")
    r = _propose(net, market_id, outcome=1)
    with pytest.raises(ChainError, match="WrongBond"):
        court.dispute(net.bob, market_id, bond=bond - 1)
    court.dispute(net.bob, market_id)
    assert court.state_of(market_id) == "disputed"
    with pytest.raises(ChainError, match="NotDisputable"):
        court.dispute(net.alice, market_id)
    # a disputed market stays undecided past its window: nothing pays
    net.advance_to(net.dep.resolution_of(market_id).resolved_at + WINDOW + 1)
    assert court.state_of(market_id) == "disputed"
    # the larger quorum: more than the proposal needed (3 of 4 here, so all 4)
    assert court.escalated_quorum(market_id) == 4
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        court.settle_by_vote(net.submitter, market_id, 1, _ruling_signatures(net, market_id, 1, net.keys[:3]))
    with pytest.raises(ChainError, match="SignersNotSorted"):
        court.settle_by_vote(net.submitter, market_id, 1, _ruling_signatures(net, market_id, 1, net.keys[::-1]))
    outsider = LocalSigner.create()
    with pytest.raises(ChainError, match="UnknownSigner"):
        court.settle_by_vote(net.submitter, market_id, 1,
                             _ruling_signatures(net, market_id, 1, net.keys[:3] + [outsider]))
    # a vote over the Resolution type is not a Ruling: it recovers to nobody in the set
    with pytest.raises(ChainError, match="UnknownSigner"):
        court.settle_by_vote(net.submitter, market_id, 1, net.signatures(r, net.keys))
    with pytest.raises(ChainError, match="NotArbiter"):
        court.settle_by_arbiter(net.alice, market_id, 0)
    court.settle_by_vote(net.submitter, market_id, 1, _ruling_signatures(net, market_id, 1, net.keys))
    case = court.case_of(market_id)
    assert case.ruling == "upheld" and court.state_of(market_id) == "final"
    assert court.final_of(market_id)[0] == 1
    assert court.owed(net.bob.address) == 0 and court.fees_of(market_id).pot == FEE + bond

    # fees: the prover (named by a majority of the recording set's ProverCredit) 20 %, then one equal
    # share of the rest per member of the set that recorded the resolution, for those who signed it
    pot = FEE + bond
    members = net.dep.members_of_epoch(net.dep.resolution_of(market_id).epoch)
    assert members == net.members
    prover = LocalSigner.create()
    credits = [(k.address, court.prover_credit_signature(k, market_id, r.proof_hash, prover.address))
               for k in net.keys[:3]]
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        court.claim_prover_fee(net.submitter, market_id, prover.address, credits[:2], members)
    # the credits name one prover: claimed for another, they recover to strangers
    with pytest.raises(ChainError, match="NotMember"):
        court.claim_prover_fee(net.submitter, market_id, net.alice.address, credits, members)
    with pytest.raises(ChainError, match="NotRecordingSet"):  # another list than the recording set
        court.claim_prover_fee(net.submitter, market_id, prover.address, credits, members[:3])
    # the oracle keeps only the resolution's struct hash: a resolution in calldata naming another proof
    # (credits signed for that proof hash) is refused against it, not paid for a proof nobody signed
    forged = replace(r, proof_hash=keccak_hex(b"another proof"))
    forged_credits = sorted(((k.address, court.prover_credit_signature(k, market_id, forged.proof_hash,
                                                                        prover.address)) for k in net.keys[:3]),
                            key=lambda c: int(c[0], 16))
    with pytest.raises(ChainError, match="ResolutionMismatch"):
        court._send(net.submitter, "claimProverFee", forged.as_tuple(), prover.address,
                    [s for _, s in forged_credits], list(members),
                    [members.index(a) for a, _ in forged_credits], gas=1_000_000)
    court.claim_prover_fee(net.submitter, market_id, prover.address, credits, members)
    with pytest.raises(ChainError, match="AlreadyPaid"):
        court.claim_prover_fee(net.submitter, market_id, prover.address, credits, members)
    assert court.owed(prover.address) == pot * 2000 // 10_000
    votes = net.signatures(r, net.keys)
    with pytest.raises(ChainError, match="UnknownSigner"):  # a stranger's signature over the resolution
        court.claim_signer_fee(net.submitter, market_id, outsider.sign_message(signable(net.dep.domain, r)), members)
    for v in votes:
        court.claim_signer_fee(net.submitter, market_id, v, members)  # anyone sends it; the signer is paid
    with pytest.raises(ChainError, match="AlreadyPaid"):
        court.claim_signer_fee(net.submitter, market_id, votes[0], members)
    share = (pot - pot * 2000 // 10_000) // 4
    for k in net.keys:
        net.chain.fund(k.address, ETH)
        assert _owed_then_withdraw(net, k) == share
    assert court.owed(net.submitter.address) == 0
    with pytest.raises(ChainError, match="NothingOwed"):
        court.withdraw(net.bob)


def test_an_arbiter_overturns_a_wrong_resolution_and_its_signers_lose_their_bonds(chain_network):
    staked = Staked(chain_network)
    net, court, staking = staked.net, staked.dep.court, staked.staking
    arbiter = LocalSigner.create()
    net.chain.fund(arbiter.address, ETH)
    p = court.parameters()
    # governance: the arbiter is a parameter, behind the 2-day delay, in public
    with pytest.raises(ChainError, match="NotOwner"):
        court.queue_parameters(net.alice, replace(p, arbiter=arbiter.address))
    court.queue_parameters(net.deployer, replace(p, arbiter=arbiter.address))
    with pytest.raises(ChainError, match="NotDue"):
        court.execute_parameters(net.alice)
    net.advance_to(net.chain.timestamp() + 2 * DAY)
    court.execute_parameters(net.alice)
    assert court.parameters().arbiter == arbiter.address
    # the default window creators' tools propose is a parameter too, bounded by the registry's maximum
    with pytest.raises(ChainError, match="defaultDisputeWindow"):
        court.queue_parameters(net.deployer, replace(p, default_dispute_window=7 * DAY + 1))

    market_id = _register(net, b"collusion")
    net.dep.deposit(net.alice, market_id, 0, ETH)  # the truth: outcome 0
    net.dep.deposit(net.bob, market_id, 1, ETH)
    colluders = net.keys[:3]  # t of n sign the wrong outcome
    _propose(net, market_id, outcome=1, keys=colluders)
    votes = [net.sign(k, _resolution(market_id, 1)) for k in colluders]
    with pytest.raises(ChainError, match="NotOverturned"):  # nothing to punish while it stands
        staking.slash_overturned(net.alice, market_id, votes[0])
    court.dispute(net.alice, market_id)
    # the colluders cannot uphold it by themselves: the ruling vote needs more than they are
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        court.settle_by_vote(net.submitter, market_id, 1, _ruling_signatures(net, market_id, 1, colluders))
    with pytest.raises(ChainError, match="OutcomeOutOfRange"):
        court.settle_by_arbiter(arbiter, market_id, 2)
    court.settle_by_arbiter(arbiter, market_id, 0)
    assert court.case_of(market_id).ruling == "overturned" and court.final_of(market_id)[0] == 0
    # a consumer reading the final resolution sees the ruling, nothing a resolver did not give
    reader = ResolutionReader.deploy(net.chain, net.deployer, court.address)
    final, _ = reader.final_resolution(market_id)
    assert final == Resolution(market_id, 0, 0, 0, "0x" + "00" * 32, "0x" + "00" * 32, "0x" + "00" * 32)
    # the disputer: its bond back and the creator's fee
    assert court.owed(net.alice.address) == court.parameters().dispute_bond + FEE
    with pytest.raises(ChainError, match="NoFeeShare"):  # no fee for signing a wrong answer
        court.claim_signer_fee(net.submitter, market_id, votes[0], net.members)
    assert net.dep.redeem(net.alice, market_id)[0] == 2 * ETH
    # every signer of the overturned resolution loses its bond; the reporter takes 25 %
    for k, v in zip(colluders, votes):
        before = net.chain.balance(net.bob.address)
        receipt = staking.slash_overturned(net.bob, market_id, v)
        paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert net.chain.balance(net.bob.address) == before - paid + BOND // 4
        assert staking.bond_of(k.address).bond == 0
    assert staking.bond_of(net.keys[3].address).bond == BOND  # the honest member keeps its bond
    assert k.address not in staking.members()


def test_an_unsettled_dispute_ends_invalid_at_the_timeout(chain_network):
    net = chain_network
    court = net.dep.court
    market_id = _register(net, b"timeout")
    net.dep.deposit(net.alice, market_id, 1, ETH)
    _propose(net, market_id)
    court.dispute(net.bob, market_id)
    with pytest.raises(ChainError, match="RulingNotDue"):
        court.settle_by_timeout(net.alice, market_id)
    net.advance_to(court.case_of(market_id).disputed_at + 7 * DAY)
    court.settle_by_timeout(net.alice, market_id)
    assert court.state_of(market_id) == "invalid" and court.case_of(market_id).ruling == "timed_out"
    # a dispute nobody could settle is not free: else voiding any market would cost nothing
    assert court.owed(net.bob.address) == 0
    assert court.contract.functions.burned().call() == court.parameters().dispute_bond
    with pytest.raises(ChainError, match="NotFinal"):  # INVALID: no signer fee
        court.claim_signer_fee(net.submitter, market_id, b"\x00" * 65, net.members)
    court.refund_fee(net.alice, market_id)  # anyone; the creator is paid
    assert court.owed(net.creator.address) == FEE
    with pytest.raises(ChainError, match="NoFeeShare"):
        court.refund_fee(net.alice, market_id)
    assert net.dep.redeem(net.alice, market_id)[0] == ETH  # INVALID refunds the stake


def test_signer_fees_follow_the_recording_set_for_the_claim_period(chain_network):
    net = chain_network
    court = net.dep.court
    market_id = _register(net, b"set-change", window=0)
    r = _propose(net, market_id)
    votes = net.signatures(r)
    recording = net.dep.members_of_epoch(net.dep.resolution_of(market_id).epoch)
    court.claim_signer_fee(net.submitter, market_id, votes[0], recording)
    with pytest.raises(ChainError, match="TooEarly"):  # the rest is the signers' for the claim period
        court.refund_fee(net.alice, market_id)
    newcomer = LocalSigner.create()
    net.dep.propose_validators(net.deployer, net.members[1:] + [newcomer.address], 3)
    net.advance_to(net.chain.timestamp() + net.dep.validator_set_delay())
    net.dep.execute_validators(net.alice)
    current = net.dep.validators()
    # a member who joined after the resolution signs it now: not one of the set that recorded it
    late = newcomer.sign_message(signable(net.dep.domain, r))
    with pytest.raises(ChainError, match="UnknownSigner"):
        court.claim_signer_fee(net.submitter, market_id, late, recording)
    with pytest.raises(ChainError, match="NotRecordingSet"):
        court.claim_signer_fee(net.submitter, market_id, late, current)
    # a signer who left the set since is still paid: it was a member when the resolution was recorded
    court.claim_signer_fee(net.submitter, market_id, votes[1], recording)
    final_at = court.final_of(market_id)[1]
    net.advance_to(final_at + 30 * DAY)
    with pytest.raises(ChainError, match="NoFeeShare"):  # the claim period is over
        court.claim_signer_fee(net.submitter, market_id, votes[2], recording)
    court.refund_fee(net.alice, market_id)  # the unclaimed rest goes back to the creator
    share = (FEE - FEE * 2000 // 10_000) // 4
    assert court.owed(net.creator.address) == FEE - 2 * share


def test_a_market_never_resolved_gets_its_fee_back_after_the_grace(chain_network):
    net = chain_network
    court = net.dep.court
    market_id = _register(net, b"silent")
    resolve_at = net.dep.get_market(market_id).resolve_at
    with pytest.raises(ChainError, match="TooEarly"):
        court.refund_fee(net.alice, market_id)
    net.advance_to(resolve_at + 30 * DAY)
    court.refund_fee(net.alice, market_id)
    assert court.owed(net.creator.address) == FEE


# ------------------------------------------------------------------ governance


def test_a_pause_holds_finality_back_and_an_emergency_resolution_waits_its_delay(chain_network):
    net = chain_network
    court = net.dep.court
    held = _register(net, b"held", close_in=3 * DAY)
    stuck = _register(net, b"stuck", close_in=3 * DAY)
    with pytest.raises(ChainError, match="NotOwner"):
        court.queue_pause(net.alice)
    court.queue_pause(net.deployer)
    with pytest.raises(ChainError, match="NotDue"):
        court.execute_pause(net.alice)
    net.advance_to(net.chain.timestamp() + 2 * DAY)
    court.execute_pause(net.alice)  # anyone, once due
    assert court.paused()
    _propose(net, held)
    proposed_at = net.dep.resolution_of(held).resolved_at
    net.advance_to(proposed_at + WINDOW + 10)
    assert court.state_of(held) == "proposed"  # its window passed during the pause: held
    court.dispute(net.bob, held)  # disputes go on while paused
    with pytest.raises(ChainError, match="NotOwner"):
        court.unpause(net.alice)
    court.unpause(net.deployer)
    assert court.state_of(held) == "disputed"

    # an emergency resolution: owner only, public, after the same delay; INVALID only (refunds, never a
    # chosen winner), on a market not final whose resolve time has come
    early = _register(net, b"early", close_in=10 * DAY)
    with pytest.raises(ChainError, match="NotOwner"):
        court.queue_emergency_resolution(net.alice, stuck)
    court.queue_emergency_resolution(net.deployer, stuck)
    court.queue_emergency_resolution(net.deployer, held)
    court.queue_emergency_resolution(net.deployer, early)
    with pytest.raises(ChainError, match="NotDue"):
        court.execute_emergency_resolution(net.alice, stuck)
    net.advance_to(net.chain.timestamp() + 2 * DAY)
    with pytest.raises(ChainError, match="TooEarly"):  # still trading: governance cannot void it
        court.execute_emergency_resolution(net.alice, early)
    court.execute_emergency_resolution(net.alice, stuck)
    court.execute_emergency_resolution(net.alice, held)
    assert court.state_of(stuck) == "invalid" and court.state_of(held) == "invalid"
    assert court.case_of(held).ruling == "emergency"
    assert court.owed(net.bob.address) == court.parameters().dispute_bond  # the disputer's bond back
    court.refund_fee(net.alice, held)
    assert court.owed(net.creator.address) == FEE
    with pytest.raises(ChainError, match="NothingQueued"):
        court.execute_emergency_resolution(net.alice, held)


def test_a_pause_holds_a_proposal_once(chain_network):
    net = chain_network
    court = net.dep.court
    market_id = _register(net, b"once", close_in=3 * DAY)
    _pause(net)
    _propose(net, market_id)
    net.advance_to(net.dep.resolution_of(market_id).resolved_at + WINDOW + 10)
    assert court.state_of(market_id) == "proposed"
    court.unpause(net.deployer)
    released = court.final_of(market_id)[1]
    assert court.state_of(market_id) == "final" and released == net.chain.timestamp()
    _pause(net)  # a later pause leaves what is final final
    assert court.state_of(market_id) == "final" and court.final_of(market_id)[1] == released


def test_a_pause_ending_on_its_own_releases_what_it_held(chain_network):
    net = chain_network
    court = net.dep.court
    market_id = _register(net, b"max-pause", close_in=3 * DAY)
    _pause(net)
    paused_until = court.contract.functions.pauses().call()[-1][1]
    _propose(net, market_id)
    net.advance_to(paused_until - 10)
    assert court.state_of(market_id) == "proposed"
    net.advance_to(paused_until)
    assert court.state_of(market_id) == "final" and not court.paused()
    assert court.final_of(market_id)[1] == paused_until  # final when the pause ended, not before


# ------------------------------------------------------------------ the ZK path (real proofs)


@pytest.fixture(scope="session")
def resolver_verifier(circuit, store):
    from provers.evm import evm_verifier

    return evm_verifier(circuit, store)[1]


@pytest.fixture
def zk_market(chain_network, resolver_verifier, circuit, spec, bundle):
    """`spec` with a dispute window (its rule committed in its id), the rule stored, at resolve time; the
    honest resolution (from the real proof) and the proof's instances."""
    from markets.spec import MarketSpec

    net = chain_network
    verifier = net.chain.deploy(net.deployer, resolver_verifier)
    net.dep.register_verifier(net.deployer, circuit.model_id, verifier.address, circuit.record.circuit(1).vk,
                              circuit.record.n_inputs)
    windowed = MarketSpec.parse({**spec.to_json(), "dispute_window": WINDOW})
    net.register(spec, advance=False)  # validators review the proof against its own market
    net.register(windowed, advance=False)
    rule = windowed.zk_rule().as_tuple()
    # a rule other than the one committed in the market's id: e.g. "always the other outcome"
    rigged = (-(2**255), -(2**255), rule[3], rule[2], rule[4], rule[5])
    with pytest.raises(ChainError, match="BadRule"):
        net.dep.court.set_rule(net.creator, windowed.market_id, rigged)
    net.dep.court.set_rule(net.alice, windowed.market_id, rule)  # anyone stores the committed rule
    with pytest.raises(ChainError, match="BadRule"):  # once
        net.dep.court.set_rule(net.alice, windowed.market_id, rule)
    net.advance_to(windowed.resolve_at_unix)
    honest = net.validators[0].review(spec, bundle).vote.resolution
    honest = replace(honest, market_id=windowed.market_id)
    return net, windowed, honest, [felt_to_uint(f) for f in bundle.instances[0]]


def test_only_the_rule_committed_in_the_market_id_is_stored(chain_network, spec):
    from markets.spec import MarketSpec, rule_hash_of

    net = chain_network
    windowed = MarketSpec.parse({**spec.to_json(), "dispute_window": 60})
    assert windowed.rule_hash == rule_hash_of(windowed.zk_rule().as_tuple()) != "0x" + "00" * 32
    assert net.register(windowed) == windowed.market_id
    assert net.dep.get_market(windowed.market_id).rule_hash == windowed.rule_hash
    # the same market registered with another rule is another market: its id is not the spec's
    other = windowed.onchain() | {"rule_hash": keccak_hex(b"another rule")}
    other_id, _ = net.dep.register_market(net.creator, **other)
    assert other_id != windowed.market_id
    # a market registered without a rule has no proof path
    bare = _register(net, b"no-rule")
    with pytest.raises(ChainError, match="NoRule"):
        net.dep.court.set_rule(net.creator, bare, windowed.zk_rule().as_tuple())


@pytest.mark.slow
def test_the_proof_overturns_a_quorum_that_mislabels_what_it_proves(zk_market, bundle):
    net, market, honest, instances = zk_market
    court = net.dep.court
    wrong = replace(honest, outcome=1 - honest.outcome)  # t colluders sign the other outcome, same proof
    net.dep.resolve(net.submitter, wrong, net.signatures(wrong))
    court.dispute(net.alice, market.market_id)
    with pytest.raises(ChainError, match="ProofHashMismatch"):  # only the proof the quorum named
        court.settle_by_proof(net.bob, market.market_id, bundle.proof_bytes + b"\x00", instances)
    court.settle_by_proof(net.bob, market.market_id, bundle.proof_bytes, instances)  # anyone
    assert court.case_of(market.market_id).ruling == "overturned"
    assert court.final_of(market.market_id)[0] == honest.outcome
    assert court.owed(net.alice.address) == court.parameters().dispute_bond + court.parameters().min_fee


@pytest.mark.slow
def test_a_proof_that_agrees_settles_nothing_and_the_vote_upholds_against_a_griefer(zk_market, bundle):
    net, market, honest, instances = zk_market
    court = net.dep.court
    net.dep.resolve(net.submitter, honest, net.signatures(honest))
    court.dispute(net.alice, market.market_id)
    # the proof agrees with the quorum; its inputs could still be made up (only validators reading the
    # sources can tell), so it upholds nothing by itself: colluders cannot close a dispute this way
    with pytest.raises(ChainError, match="ProofAgrees"):
        court.settle_by_proof(net.bob, market.market_id, bundle.proof_bytes, instances)
    # the disputed resolution travels in calldata, checked against the struct hash the oracle kept: one
    # with the other outcome (which the same proof would "overturn") is refused
    forged = replace(honest, outcome=1 - honest.outcome)
    with pytest.raises(ChainError, match="ResolutionMismatch"):
        court._send(net.bob, "settleByProof", forged.as_tuple(), bundle.proof_bytes, instances, gas=3_000_000)
    court.settle_by_vote(net.submitter, market.market_id, honest.outcome,
                         _ruling_signatures(net, market.market_id, honest.outcome, net.keys))
    assert court.case_of(market.market_id).ruling == "upheld"
    assert court.final_of(market.market_id)[0] == honest.outcome
    assert court.owed(net.alice.address) == 0  # the griefer's bond went to the fee
    assert court.fees_of(market.market_id).pot == court.parameters().min_fee + court.parameters().dispute_bond


def test_a_colluder_leaving_as_it_signs_is_still_bonded_when_the_ruling_comes(chain_network):
    """Review: signers who asked to leave as they signed withdrew before a ruling 14 days later could
    slash them. The unbonding delay outlasts the longest window plus the ruling timeout."""
    staked = Staked(chain_network)
    net, court, staking = staked.net, staked.dep.court, staked.staking
    p = court.parameters()
    court.queue_parameters(net.deployer, replace(p, arbiter=net.alice.address))
    net.advance_to(net.chain.timestamp() + 2 * DAY)
    court.execute_parameters(net.alice)
    market_id = _register(net, b"run-away", window=7 * DAY)
    colluders = net.keys[:3]
    _propose(net, market_id, outcome=1, keys=colluders)
    votes = [net.sign(k, _resolution(market_id, 1)) for k in colluders]
    for k in colluders:
        staking.leave(k)
    staked.next_epoch()  # out of the set, unbonding
    net.advance_to(net.dep.resolution_of(market_id).resolved_at + 7 * DAY - 60)
    court.dispute(net.bob, market_id)  # at the end of the window
    net.advance_to(net.chain.timestamp() + 7 * DAY - 60)  # the ruling as late as it can come
    for k in colluders:
        with pytest.raises(ChainError, match="StillUnbonding"):
            staking.withdraw(k)
    court.settle_by_arbiter(net.alice, market_id, 0)
    for k, v in zip(colluders, votes):
        staking.slash_overturned(net.bob, market_id, v)
        assert staking.bond_of(k.address).bond == 0
