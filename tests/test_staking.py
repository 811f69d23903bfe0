"""ValidatorStaking on both chains: bonds, epochs, slashing with real equivocating signatures, the
timelocked parameters, and the oracle handed over to it. Each refused attack names the check."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from web3.logs import DISCARD

from oracle.canonical import keccak_hex
from oracle.eip712 import Resolution, signable
from oracle.errors import ChainError
from oracle.settlement import Settler
from oracle.signer import LocalSigner
from oracle.staking import ETH, Staking, StakingParameters
from validators.aggregator import Aggregator
from validators.votes import Vote

ZERO_ADDRESS = "0x" + "00" * 20

MODEL = keccak_hex(b"model")
PARAMS = StakingParameters(min_bond=ETH, epoch_length=3600, unbonding_delay=15 * 86_400, max_validators=6, quorum_bps=6666)
BOND = 2 * ETH


class Staked:
    """The chain network's 4 keys bonded (2 ETH each) and installed by the first epoch: t = 3."""

    def __init__(self, net):
        self.net, self.chain, self.dep = net, net.chain, net.dep
        self.staking = Staking.deploy(net.dep, net.deployer, PARAMS)
        for k in net.keys:
            net.chain.fund(k.address, 10 * ETH)
            self.staking.join(k, BOND)
        self.staking.advance_epoch(net.deployer)  # the first boundary is the owner's

    def newcomer(self, wei: int = 10 * ETH) -> LocalSigner:
        k = LocalSigner.create()
        self.chain.fund(k.address, wei)
        return k

    def next_epoch(self):
        self.net.advance_to(self.staking.next_epoch_at())
        return self.staking.advance_epoch(self.net.submitter)

    def sign(self, key, resolution: Resolution) -> bytes:
        return key.sign_message(signable(self.dep.domain, resolution))

    def register(self, tag: bytes = b"spec") -> str:
        market_id, _ = self.dep.register_market(self.net.creator, spec_hash=keccak_hex(tag), model_id=MODEL,
                                                resolve_at=1, outcome_count=2, quorum=1)
        return market_id


@pytest.fixture
def staked(chain_network):
    return Staked(chain_network)


def _resolution(market_id: str, outcome: int = 0, ppm: int = 700_000, round: int = 0, proof: bytes = b"proof",
                final: bool = True) -> Resolution:
    return Resolution(market_id, round, outcome, ppm, MODEL, keccak_hex(b"in"), keccak_hex(proof), final=final)


def _paid(chain, receipt) -> int:
    """What a transaction cost its sender in gas."""
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


# ------------------------------------------------------------------ the hand-over
def test_staking_installs_the_bonded_set_and_owns_the_oracle(staked):
    s, dep = staked.staking, staked.dep
    members = [k.address for k in staked.net.keys]
    assert s.members() == members and dep.validators() == members and dep.threshold() == 3
    assert dep.oracle.functions.owner().call() == s.address == dep.oracle.functions.manager().call()
    assert all(s.bond_of(a).status == "member" and s.bond_of(a).bond == BOND for a in members)
    assert staked.chain.balance(s.address) == 4 * BOND
    # the oracle's set now changes only through the staking contract
    with pytest.raises(ChainError, match="NotOwner"):
        dep.chain.transact(staked.net.deployer, dep.oracle.functions.replaceValidators(members[:1], 1))
    with pytest.raises(ChainError, match="NotOwner"):
        dep.propose_validators(staked.net.deployer, members[:1], 1)


def test_a_set_proposed_before_the_hand_over_is_void(chain_network):
    """The deployer queues its own set, then hands the oracle to staking: after the delay, that set
    must not override the staked one (setManager clears the proposal)."""
    net = chain_network
    attacker = LocalSigner.create()
    net.dep.propose_validators(net.deployer, [attacker.address], 1)
    staking = Staking.deploy(net.dep, net.deployer, PARAMS)
    net.advance_to(net.chain.timestamp() + net.dep.validator_set_delay() + 1)
    with pytest.raises(ChainError, match="NoProposedValidatorSet"):
        net.dep.execute_validators(net.submitter)
    assert attacker.address not in net.dep.validators()
    with pytest.raises(ChainError, match="NotOwner"):  # only the owner (now staking) sets a manager, once
        net.chain.transact(net.deployer, net.dep.oracle.functions.setManager(net.deployer.address))
    assert net.dep.oracle.functions.manager().call() == staking.address


def test_an_owner_cannot_name_itself_manager_to_skip_the_set_delay(chain_network):
    """Issue 12 item 19 kept under issue 14: on a deployment without staking, an owner naming itself
    (or a contract it controls) set manager would replace the set at once. Only within
    MANAGER_WINDOW of deployment (the deployer's choice, like the initial set); after that, only
    the public VALIDATOR_SET_DELAY path."""
    net = chain_network
    oracle = net.dep.oracle
    window = oracle.functions.MANAGER_WINDOW().call()
    net.advance_to(oracle.functions.deployedAt().call() + window + 1)
    with pytest.raises(ChainError) as e:
        net.chain.transact(net.deployer, oracle.functions.setManager(net.deployer.address))
    assert e.value.error == "ManagerWindowClosed"
    assert oracle.functions.manager().call() == ZERO_ADDRESS
    with pytest.raises(ChainError, match="NotOwner"):
        net.chain.transact(net.deployer, oracle.functions.replaceValidators([net.deployer.address], 1))
    assert net.deployer.address not in net.dep.validators()


def test_once_a_manager_is_named_the_owner_proposes_no_set(store):
    """An owner that names a manager but keeps ownership cannot override the manager's set through
    the delayed path either: the manager's set only."""
    from conftest import Network

    net = Network(store)
    oracle = net.dep.oracle
    manager = LocalSigner.create()
    net.chain.transact(net.deployer, oracle.functions.setManager(manager.address))
    with pytest.raises(ChainError) as e:
        net.dep.propose_validators(net.deployer, [net.deployer.address], 1)
    assert e.value.error == "ManagerAlreadySet"


# ---------------------------------------------------------------- join / leave
def test_join_leave_withdraw_at_epoch_boundaries_with_the_unbonding_delay(staked):
    s, dep, chain = staked.staking, staked.dep, staked.chain
    k = staked.newcomer()
    s.join(k, BOND)
    assert s.bond_of(k.address).status == "queued" and s.queued() == [k.address]
    assert k.address not in dep.validators()  # not before the boundary
    with pytest.raises(ChainError, match="EpochNotOver"):
        s.advance_epoch(staked.net.submitter)
    epoch = dep.validator_epoch()
    staked.next_epoch()
    assert s.bond_of(k.address).status == "member" and dep.validators()[-1] == k.address
    assert dep.threshold() == 4 and dep.validator_epoch() == epoch + 1  # ceil(2 * 5 / 3)
    staked.next_epoch()
    assert dep.validator_epoch() == epoch + 1  # nothing changed: the set (and its batch roots) stay

    s.leave(k)
    assert s.bond_of(k.address).status == "leaving" and k.address in dep.validators()  # signs until the boundary
    with pytest.raises(ChainError, match="NotUnbonding"):
        s.withdraw(k)
    staked.next_epoch()
    b = s.bond_of(k.address)
    assert b.status == "unbonding" and k.address not in dep.validators() and dep.threshold() == 3
    assert b.withdrawable_at == chain.timestamp() + PARAMS.unbonding_delay
    with pytest.raises(ChainError, match="StillUnbonding"):
        s.withdraw(k)
    staked.net.advance_to(b.withdrawable_at)
    before = chain.balance(k.address)
    receipt = s.withdraw(k)
    assert chain.balance(k.address) == before + BOND - _paid(chain, receipt)
    assert s.bond_of(k.address).status == "none" and chain.balance(s.address) == 4 * BOND
    with pytest.raises(ChainError, match="NotUnbonding"):  # once
        s.withdraw(k)


def test_join_refuses_below_the_minimum_and_without_a_seat(staked):
    s = staked.staking
    k = staked.newcomer()
    with pytest.raises(ChainError, match=r"BondTooSmall\(bond=999999999999999999, minimum=1000000000000000000\)"):
        s.join(k, ETH - 1)
    s.join(k, ETH)
    s.join(staked.newcomer(), ETH)  # 6 seats: 4 members + 2 queued
    with pytest.raises(ChainError, match=r"NoSeat\(seats=6\)"):
        s.join(staked.newcomer(), ETH)
    s.join(k, ETH)  # a queued joiner may add to its bond
    assert s.bond_of(k.address).bond == 2 * ETH


def test_a_queued_joiner_leaves_and_withdraws_at_once(staked):
    s = staked.staking
    k = staked.newcomer()
    s.join(k, BOND)
    s.leave(k)
    assert s.queued() == [] and s.bond_of(k.address).status == "unbonding"
    s.withdraw(k)
    assert s.bond_of(k.address).bond == 0


# --------------------------------------------------------------------- slashing
def _equivocation(staked, key, market_id: str):
    a, b = _resolution(market_id, outcome=0), _resolution(market_id, outcome=1)
    return a, staked.sign(key, a), b, staked.sign(key, b)


def test_equivocation_is_slashed_paying_the_reporter_and_removing_the_member(staked):
    s, dep, chain = staked.staking, staked.dep, staked.chain
    cheat = staked.net.keys[1]
    market_id = staked.register()
    evidence = _equivocation(staked, cheat, market_id)
    reporter = staked.newcomer(ETH)
    before, epoch = chain.balance(reporter.address), dep.validator_epoch()
    receipt = s.slash(reporter, *evidence)
    reward = BOND * s.reporter_share_bps() // 10_000
    assert chain.balance(reporter.address) == before + reward - _paid(chain, receipt)
    assert s.burned() == BOND - reward and chain.balance(s.address) == 3 * BOND + BOND - reward
    (event,) = s.contract.events.Slashed().process_receipt(receipt, errors=DISCARD)  # the oracle's logs too
    assert event["args"]["validator"] == cheat.address and event["args"]["amount"] == BOND
    # out of the oracle's set at once, not at the boundary
    assert cheat.address not in dep.validators() and dep.validator_epoch() == epoch + 1
    assert dep.threshold() == 2 and s.bond_of(cheat.address).status == "none"
    a, sig_a = evidence[0], evidence[1]
    with pytest.raises(ChainError, match=f"UnknownSigner.*{cheat.address}"):  # its signature no longer counts
        dep.resolve(staked.net.submitter, a, [staked.sign(staked.net.keys[0], a), sig_a])  # keys ascend


def test_a_member_stays_slashable_while_it_leaves_and_unbonds(staked):
    """Leaving does not outrun evidence: a leaver (still in the set) and an unbonding former member
    (out of it, bond not yet withdrawable) both lose their bond to evidence about a round they signed."""
    s, dep = staked.staking, staked.dep
    leaver, unbonding = staked.net.keys[0], staked.net.keys[1]
    market_id = staked.register()
    leaver_evidence = _equivocation(staked, leaver, market_id)
    unbonding_evidence = _equivocation(staked, unbonding, market_id)
    s.leave(unbonding)
    staked.next_epoch()
    assert s.bond_of(unbonding.address).status == "unbonding"
    s.leave(leaver)
    s.slash(staked.net.submitter, *leaver_evidence)
    assert leaver.address not in dep.validators() and s.bond_of(leaver.address).bond == 0
    s.slash(staked.net.submitter, *unbonding_evidence)
    staked.net.advance_to(staked.chain.timestamp() + PARAMS.unbonding_delay + 1)
    with pytest.raises(ChainError, match="NotUnbonding"):
        s.withdraw(unbonding)
    assert staked.chain.balance(s.address) == 2 * BOND + s.burned()


def test_forecast_equivocation_is_slashed(staked):
    s, dep = staked.staking, staked.dep
    cheat = staked.net.keys[2]
    market_id = staked.register()
    a = _resolution(market_id, ppm=100_000, final=False)
    b = _resolution(market_id, ppm=900_000, final=False)
    s.slash(staked.net.submitter, a, staked.sign(cheat, a), b, staked.sign(cheat, b))
    assert cheat.address not in dep.validators()


def test_slash_refuses_the_same_outcome_and_probability_twice(staked):
    """Two signatures that agree on what settles the market (here: two proofs of it) are no conflict."""
    k = staked.net.keys[0]
    market_id = staked.register()
    a, b = _resolution(market_id, proof=b"one"), _resolution(market_id, proof=b"two")
    with pytest.raises(ChainError, match="NotConflicting"):
        staked.staking.slash(staked.net.submitter, a, staked.sign(k, a), b, staked.sign(k, b))
    fa, fb = replace(a, final=False), replace(b, final=False)
    with pytest.raises(ChainError, match="NotConflicting"):
        staked.staking.slash(staked.net.submitter, fa, staked.sign(k, fa), fb, staked.sign(k, fb))
    assert k.address in staked.dep.validators()


def test_slash_refuses_different_markets_or_rounds(staked):
    k = staked.net.keys[0]
    one, two = staked.register(b"one"), staked.register(b"two")
    a, b = _resolution(one, outcome=0), _resolution(two, outcome=1)
    with pytest.raises(ChainError, match="NotSameRound"):
        staked.staking.slash(staked.net.submitter, a, staked.sign(k, a), b, staked.sign(k, b))
    c = _resolution(one, outcome=1, round=1)
    with pytest.raises(ChainError, match="NotSameRound"):
        staked.staking.slash(staked.net.submitter, a, staked.sign(k, a), c, staked.sign(k, c))
    assert staked.staking.bond_of(k.address).bond == BOND


def test_slash_refuses_a_non_members_signatures(staked):
    outsider = LocalSigner.create()
    evidence = _equivocation(staked, outsider, staked.register())
    with pytest.raises(ChainError, match=f"NotBonded.*{outsider.address}"):
        staked.staking.slash(staked.net.submitter, *evidence)
    assert staked.dep.validators() == [k.address for k in staked.net.keys]


def test_slash_refuses_replayed_evidence_and_a_slashed_key_never_bonds_again(staked):
    """Evidence is spent once; and a slashed key cannot join again (review: re-joined, it could sign
    a new conflicting pair for the same market and round, which the spent evidence key covers)."""
    s = staked.staking
    cheat = staked.net.keys[3]
    evidence = _equivocation(staked, cheat, staked.register())
    s.slash(staked.net.submitter, *evidence)
    with pytest.raises(ChainError, match="EvidenceUsed"):
        s.slash(staked.net.submitter, *evidence)
    assert s.contract.functions.slashed(cheat.address).call()
    with pytest.raises(ChainError) as e:
        s.join(cheat, BOND)
    assert e.value.error == "SlashedKey"
    assert s.bond_of(cheat.address).bond == 0 and cheat.address not in staked.dep.validators()


def test_the_first_boundary_is_the_owners(chain_network):
    """Review: between the hand-over and the operators' joins, anyone could open epoch 0 and install an
    empty set (nothing settles, nothing registers for an epoch) or a set of its own. The first
    boundary is the owner's, with someone queued; until then the deployer's initial set stays."""
    net = chain_network
    initial = net.dep.validators()
    staking = Staking.deploy(net.dep, net.deployer, PARAMS)
    attacker = LocalSigner.create()
    net.chain.fund(attacker.address, 10 * ETH)
    with pytest.raises(ChainError) as e:
        staking.advance_epoch(attacker)
    assert e.value.error == "NotOwner"
    with pytest.raises(ChainError) as e:
        staking.advance_epoch(net.deployer)
    assert e.value.error == "NothingQueued"
    staking.join(attacker, BOND)  # first come: a seat, but only at the owner's boundary
    with pytest.raises(ChainError, match="NotOwner"):
        staking.advance_epoch(attacker)
    assert net.dep.validators() == initial
    for k in net.keys:
        net.chain.fund(k.address, 10 * ETH)
        staking.join(k, BOND)
    staking.advance_epoch(net.deployer)
    assert net.dep.validators() == [attacker.address] + [k.address for k in net.keys]
    assert net.dep.threshold() == 4  # ceil(2 * 5 / 3): the attacker alone settles nothing


def test_governance_cannot_freeze_exits(staked):
    """Review: an epoch or unbonding delay near 2^64 would lock every bond (exits start only at a
    boundary); both are bounded."""
    s, net = staked.staking, staked.net
    top_epoch = s.contract.functions.MAX_EPOCH_LENGTH().call()
    top_unbonding = s.contract.functions.MAX_UNBONDING_DELAY().call()
    for field, bad in (("epochLength", replace(PARAMS, epoch_length=top_epoch + 1)),
                       ("epochLength", replace(PARAMS, epoch_length=2**64 - 1)),
                       ("unbondingDelay", replace(PARAMS, unbonding_delay=top_unbonding + 1)),
                       # nor shorter than any dispute of what a member signed: it would unbond before the ruling
                       ("unbondingDelay", replace(PARAMS, unbonding_delay=15 * 86_400 - 1))):
        with pytest.raises(ChainError, match=rf"BadParameters\(field={field}\)"):
            s.queue_parameters(net.deployer, bad)
    s.queue_parameters(net.deployer, replace(PARAMS, epoch_length=top_epoch, unbonding_delay=top_unbonding))


def test_a_join_withdrawn_before_the_boundary_leaves_the_oracle_alone(staked):
    """Review: a join and a leave before the boundary used to re-install the same set, bumping the
    oracle's epoch and voiding every accepted batch root, for a little gas. Same members and
    threshold: the oracle is not touched."""
    s = staked.staking
    epoch, members = staked.dep.validator_epoch(), staked.dep.validators()
    k = staked.newcomer()
    s.join(k, BOND)
    s.leave(k)
    s.withdraw(k)
    staked.next_epoch()
    assert staked.dep.validator_epoch() == epoch and staked.dep.validators() == members


def test_slash_refuses_forged_signatures(staked):
    s = staked.staking
    victim, forger = staked.net.keys[0], staked.net.keys[1]
    a, sig_a, b, _ = _equivocation(staked, victim, staked.register())
    # the second "signature" is the forger's: it recovers to someone else
    with pytest.raises(ChainError, match="SignersDiffer"):
        s.slash(staked.net.submitter, a, sig_a, b, staked.sign(forger, b))
    # the victim's real signature over `a`, presented for `b`: it recovers to a stranger
    with pytest.raises(ChainError, match="SignersDiffer"):
        s.slash(staked.net.submitter, a, sig_a, b, sig_a)
    # the malleable twin of a real signature (s -> n - s)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r_, s_, v = sig_a[:32], int.from_bytes(sig_a[32:64], "big"), sig_a[64]
    twin = r_ + (n - s_).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises(ChainError, match=r"MalformedSignature\(index=0\)"):
        s.slash(staked.net.submitter, a, twin, b, staked.sign(victim, b))
    assert s.bond_of(victim.address).bond == BOND and s.bond_of(forger.address).bond == BOND


def test_slashing_the_last_member_leaves_no_set_that_can_settle(chain_network):
    net = chain_network
    staking = Staking.deploy(net.dep, net.deployer, PARAMS)
    only = net.keys[0]
    net.chain.fund(only.address, 10 * ETH)
    staking.join(only, BOND)
    staking.advance_epoch(net.deployer)
    assert net.dep.validators() == [only.address] and net.dep.threshold() == 1
    market_id, _ = net.dep.register_market(net.creator, spec_hash=keccak_hex(b"s"), model_id=MODEL, resolve_at=1,
                                           outcome_count=2, quorum=1)
    a = _resolution(market_id, outcome=0)
    sig = only.sign_message(signable(net.dep.domain, a))
    b = _resolution(market_id, outcome=1)
    staking.slash(net.submitter, a, sig, b, only.sign_message(signable(net.dep.domain, b)))
    assert net.dep.validators() == []
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        net.dep.resolve(net.submitter, a, [sig])
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        net.dep.accept_batch_root(net.submitter, bytes(32), 1, [])


@pytest.mark.parametrize("n, t", [(7, 5), (4, 3), (4, 4), (3, 2), (1, 1)])
def test_provisioning_bonds_the_validators_with_the_threshold_asked(n, t):
    """`devnet up --validators n --threshold t` keeps meaning t of n with bonded validators."""
    from network.provision import deploy, fund
    from oracle.chain import Chain

    chain = Chain.embedded()
    deployer = LocalSigner.create()
    fund(chain, [deployer])
    keys = [LocalSigner.create() for _ in range(n)]
    dep = deploy(chain, deployer, keys, t, bond=3 * ETH)
    staking = Staking.of(dep)
    assert dep.validators() == staking.members() == [k.address for k in keys] and dep.threshold() == t
    assert all(staking.bond_of(k.address).bond == 3 * ETH for k in keys)
    assert staking.parameters().min_bond == ETH and dep.oracle.functions.owner().call() == staking.address


# ------------------------------------------------------------ rounds in flight
def test_a_member_leaving_mid_round_does_not_stall_the_round(staked):
    """Two of four members voted (t = 3) when one of them leaves at a boundary: the aggregator follows
    the new set (3 members, t = 2) as the network's aggregators do on a `validatorEpoch` change, drops
    the leaver's vote, and the next honest vote settles the round, signed by members only."""
    s, dep = staked.staking, staked.dep
    keys = staked.net.keys
    leaver = keys[0]
    market_id = staked.register()
    r = _resolution(market_id)
    agg = Aggregator(dep.domain, dep.validators(), dep.threshold(), Settler(dep, staked.net.submitter))

    def vote(k):
        return agg.add(Vote(k.address, r, dep.digest(r), staked.sign(k, r)), required=1)

    assert vote(leaver) is None and vote(keys[1]) is None
    s.leave(leaver)
    staked.next_epoch()
    assert leaver.address not in dep.validators() and dep.threshold() == 2
    # the leaver's signature no longer settles anything
    with pytest.raises(ChainError, match="UnknownSigner"):
        dep.resolve(staked.net.submitter, r, [staked.sign(k, r) for k in sorted(keys[:2], key=lambda k: int(
            k.address, 16))])
    agg.set_members(dep.validators(), dep.threshold())
    sub = vote(keys[2])
    assert sub is not None and sub.tx_hash is not None
    assert set(sub.signers) == {keys[1].address, keys[2].address}
    assert dep.is_resolved(market_id) and len(dep.resolved_events(market_id)) == 1


def test_a_quorum_refused_after_a_set_change_is_submitted_again_on_a_retried_vote(staked):
    """A member is slashed between the votes and the submission (by another reporter): the chain
    refuses the quorum. Once the aggregator follows the new set, a vote sent again completes the
    round with the votes that still count, instead of being ignored as already counted."""
    s, dep = staked.staking, staked.dep
    keys = staked.net.keys
    market_id = staked.register()
    r = _resolution(market_id)
    agg = Aggregator(dep.domain, dep.validators(), dep.threshold(), Settler(dep, staked.net.submitter))
    votes = {k.address: Vote(k.address, r, dep.digest(r), staked.sign(k, r)) for k in keys[:3]}
    agg.add(votes[keys[0].address], required=1)
    agg.add(votes[keys[1].address], required=1)
    s.slash(staked.net.submitter, *_equivocation(staked, keys[0], staked.register(b"other")))
    with pytest.raises(ChainError, match="UnknownSigner"):
        agg.add(votes[keys[2].address], required=1)
    agg.set_members(dep.validators(), dep.threshold())  # 3 members, t = 2
    sub = agg.add(votes[keys[2].address], required=1)  # the validator's retry
    assert sub is not None and sub.tx_hash is not None and dep.is_resolved(market_id)
    assert set(sub.signers) == {keys[1].address, keys[2].address}


# ---------------------------------------------------------------- governance
def test_parameters_change_only_after_the_public_delay(staked):
    s, net = staked.staking, staked.net
    paused = replace(PARAMS, min_bond=3 * ETH, joining_paused=True)
    with pytest.raises(ChainError, match="NotOwner"):
        s.queue_parameters(net.creator, paused)
    with pytest.raises(ChainError, match=r"BadParameters\(field=quorumBps\)"):
        s.queue_parameters(net.deployer, replace(PARAMS, quorum_bps=5000))
    receipt = s.queue_parameters(net.deployer, paused)
    (event,) = s.contract.events.ParametersQueued().process_receipt(receipt)
    due = event["args"]["executableAt"]
    assert due == staked.chain.timestamp() + s.contract.functions.GOVERNANCE_DELAY().call()
    with pytest.raises(ChainError, match="NotDue"):
        s.execute_parameters(net.submitter)
    k = staked.newcomer()
    s.join(k, ETH)  # the old rules hold until then
    net.advance_to(due)
    s.execute_parameters(net.submitter)  # anyone may apply due parameters
    assert s.parameters() == paused
    with pytest.raises(ChainError, match="JoiningPaused"):
        s.join(staked.newcomer(), 5 * ETH)
    s.leave(staked.net.keys[0])  # leaving goes on while joining is paused
    with pytest.raises(ChainError, match="NothingQueued"):
        s.execute_parameters(net.submitter)
    s.queue_parameters(net.deployer, PARAMS)
    s.cancel_parameters(net.deployer)
    net.advance_to(net.chain.timestamp() + 3 * 86_400)
    with pytest.raises(ChainError, match="NothingQueued"):
        s.execute_parameters(net.submitter)
    assert s.parameters() == paused


def test_staking_ownership_moves_in_two_steps(staked):
    s, net = staked.staking, staked.net
    heir = staked.newcomer(ETH)
    s.transfer_ownership(net.deployer, heir.address)
    with pytest.raises(ChainError, match="NotPendingOwner"):
        s.accept_ownership(net.creator)
    s.accept_ownership(heir)
    with pytest.raises(ChainError, match="NotOwner"):
        s.queue_parameters(net.deployer, PARAMS)
    s.queue_parameters(heir, PARAMS)


# ------------------------------------------------------------ the network's aggregator
def _role_home(net, anvil, path, role: str, name: str):
    """A role's home on this anvil: role.json, its own encrypted key (funded), the deployment file."""
    from conftest import PASSWORD

    from oracle.keystore import KeyStore

    key = KeyStore(path / "keys").ensure(name, PASSWORD)
    net.chain.fund(key.address, 10 * ETH)
    (path / "role.json").write_text(json.dumps({"role": role, "name": name, "key": name, "port": 0,
                                                "rpc_url": anvil.url, "artifacts": []}))
    net.dep.save(path / "deployments")
    return key


def test_the_network_aggregator_submits_equivocation_evidence(anvil, store, tmp_path):
    """An aggregator that receives two votes from one member for one round with different outcomes
    keeps the evidence and submits it: the member is slashed, the aggregator is paid."""
    from conftest import PASSWORD, Network

    from network.home import RoleHome
    from network.roles.aggregator import AggregatorService
    from oracle.chain import Chain

    net = Network(store, chain=Chain.rpc(anvil.url))
    staked = Staked(net)
    home = tmp_path / "aggregator-0"
    key = _role_home(net, anvil, home, "aggregator", "aggregator-0")
    service = AggregatorService(RoleHome(home, password=PASSWORD))
    market_id = staked.register()
    service._last_round[market_id] = 0  # the market's last round, as its spec would say (no spec here)
    cheat = net.keys[2]
    a, sig_a, b, sig_b = _equivocation(staked, cheat, market_id)
    before = net.chain.balance(key.address)
    service.add(Vote(cheat.address, a, net.dep.digest(a), sig_a), persist=True)
    service.add(Vote(cheat.address, b, net.dep.digest(b), sig_b), persist=True)
    assert cheat.address not in net.dep.validators()
    assert staked.staking.bond_of(cheat.address).bond == 0
    assert net.chain.balance(key.address) > before  # its share outweighs the gas
    events = [json.loads(line) for line in (home / "events.jsonl").read_text().splitlines()]
    slashed = [e for e in events if e["event"] == "slashed"]
    assert len(slashed) == 1 and slashed[0]["validator"] == cheat.address
    assert len((home / "evidence.jsonl").read_text().splitlines()) == 1


def test_validator_cli_join_status_leave_withdraw(anvil, store, tmp_path, monkeypatch):
    """`oracle validator join --bond / status / leave / withdraw --role-home`, as an operator types them."""
    from conftest import PASSWORD, Network
    from typer.testing import CliRunner

    from cli import app
    from oracle.chain import Chain

    net = Network(store, chain=Chain.rpc(anvil.url))
    staked = Staked(net)
    home = tmp_path / "validator-9"
    key = _role_home(net, anvil, home, "validator", "validator-9")
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", PASSWORD)
    run = lambda *args: CliRunner().invoke(app, ["validator", *args, "--role-home", str(home)])

    bad = run("join", "--bond", "-1")
    assert bad.exit_code == 1 and "--bond" in bad.output and "positive" in bad.output
    low = run("join", "--bond", "0.5")
    assert low.exit_code == 1 and "BondTooSmall" in low.output
    ok = run("join", "--bond", "1.5", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {**json.loads(ok.output), "status": "queued", "bond_wei": 15 * ETH // 10}
    staked.next_epoch()
    status = run("status", "--json")
    doc = json.loads(status.output)
    assert doc["validator"]["status"] == "member" and key.address in doc["staking"]["members"]
    assert doc["staking"]["threshold"] == 4 and key.address in net.dep.validators()
    assert "member, bond 1.5 ETH" in run("status").output
    assert run("leave").exit_code == 0
    staked.next_epoch()
    early = run("withdraw")
    assert early.exit_code == 1 and "StillUnbonding" in early.output
    net.advance_to(staked.staking.bond_of(key.address).withdrawable_at)
    done = run("withdraw", "--json")
    assert done.exit_code == 0 and json.loads(done.output)["withdrawn_wei"] == 15 * ETH // 10


def test_a_node_provisioned_with_bonds_owns_no_instant_set_power(anvil, tmp_path, monkeypatch):
    """`provision_node(bond=)`: the operator's validators bond, staking owns the oracle's set."""
    from conftest import PASSWORD

    from network.provision import provision_node

    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    dep, signers = provision_node(tmp_path / "node", anvil.url, validators=4, threshold=3, password=PASSWORD,
                                  bond=2 * ETH)
    staking = Staking.of(dep)
    assert sorted(dep.validators()) == sorted(signers[f"validator-{i}"].address for i in range(4))
    assert dep.threshold() == 3 and staking.bond_of(signers["validator-0"].address).status == "member"
    saved = json.loads((tmp_path / "node" / "deployments" / f"{dep.chain.chain_id}.json").read_text())
    assert saved["contracts"]["ValidatorStaking"] == staking.address
    with pytest.raises(ChainError, match="NotOwner"):
        dep.propose_validators(signers["deployer"], dep.validators()[:1], 1)


def test_node_init_bond_makes_the_nodes_set_bonded(make_node_home):
    """`oracle node init --bond ETH`: the node's validators bond in ValidatorStaking, which owns the
    set; a bad amount is one line naming the flag, before anything is created."""
    from typer.testing import CliRunner

    from cli import app
    from oracle.chain import Chain
    from oracle.deployment import Deployment

    bad = CliRunner().invoke(app, ["node", "init", "--rpc-url", "http://127.0.0.1:9", "--bond", "-1"])
    assert bad.exit_code == 1 and "--bond" in bad.output and "Traceback" not in bad.output
    home = make_node_home("--bond", "2")
    chain = Chain.rpc(json.loads((home / "node.json").read_text())["rpc_url"])
    dep = Deployment.load(chain, home / "deployments")
    staking = Staking.of(dep)
    assert dep.oracle.functions.owner().call() == staking.address == dep.oracle.functions.manager().call()
    assert sorted(staking.members()) == sorted(dep.validators()) and len(dep.validators()) == 4
    assert all(staking.bond_of(a).bond == 2 * ETH for a in dep.validators())
