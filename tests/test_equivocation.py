"""Equivocation on every signing path is slashable on-chain, on both chains: a member's vote against
its own batch signature, two batch signatures over different roots, and two BLS batch shares. Each
refusal names its check (no conflict, a proof that does not fold, another key's share, another
signer, no registered BLS key)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_staking import BOND, MODEL, Staked, _resolution

from oracle import bls
from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
from oracle.canonical import keccak_hex
from oracle.errors import ChainError
from oracle.staking import Vouch


def _batch(staked, key, resolutions, index):
    """`key`'s ECDSA signature over the batch of `resolutions`, and the proof of entry `index`."""
    leaves = [leaf(r) for r in resolutions]
    root = merkle_root(leaves)
    sig = key.sign_message(batch_signable(staked.dep.domain, root, len(resolutions)))
    return Vouch(resolutions[index], sig, tuple(merkle_proof(leaves, index)), root, len(resolutions))


def _reward_paid(staked, reporter, receipt, before) -> int:
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return staked.chain.balance(reporter.address) - before + spent


def test_a_vote_against_its_own_batch_signature_is_slashed(chain_network):
    staked = Staked(chain_network)
    net, staking = staked.net, staked.staking
    market = staked.register(b"vote-vs-batch")
    other = staked.register(b"other")
    liar = net.keys[1]
    yes, no = _resolution(market, outcome=0), _resolution(market, outcome=1)
    vote = Vouch(yes, staked.sign(liar, yes))
    batch = _batch(staked, liar, [_resolution(other), no], 1)
    # refusals first: each names its check
    with pytest.raises(ChainError, match="NotConflicting"):
        staking.slash_equivocation(net.alice, liar.address, vote, Vouch(yes, staked.sign(liar, yes)))
    with pytest.raises(ChainError, match="NotInBatch"):  # the proof of another entry
        staking.slash_equivocation(net.alice, liar.address, vote, Vouch(no, batch.signature, batch.proof[:0],
                                                                         batch.root, batch.count))
    with pytest.raises(ChainError, match="SignersDiffer"):  # two members, one answer each: no equivocation
        staking.slash_equivocation(net.alice, liar.address, vote, _batch(staked, net.keys[2], [_resolution(other), no], 1))
    before = net.chain.balance(net.alice.address)
    receipt = staking.slash_equivocation(net.alice, liar.address, vote, batch)
    assert _reward_paid(staked, net.alice, receipt, before) == BOND // 4
    assert staking.bond_of(liar.address).bond == 0 and liar.address not in staking.members()


def test_two_batch_signatures_over_conflicting_roots_are_slashed(chain_network):
    staked = Staked(chain_network)
    net, staking = staked.net, staked.staking
    market = staked.register(b"two-roots")
    pad = [_resolution(staked.register(b"pad%d" % i)) for i in range(3)]
    liar = net.keys[0]
    a = _batch(staked, liar, [pad[0], _resolution(market, outcome=0), pad[1]], 1)
    b = _batch(staked, liar, [pad[2], _resolution(market, outcome=0, ppm=650_000)], 1)
    staking.slash_equivocation(net.bob, liar.address, a, b)
    assert staking.bond_of(liar.address).bond == 0
    with pytest.raises(ChainError, match="NotBonded|EvidenceUsed"):  # once
        staking.slash_equivocation(net.bob, liar.address, a, b)


@pytest.mark.slow
def test_two_bls_shares_for_conflicting_answers_are_slashed(chain_network):
    staked = Staked(chain_network)
    net, dep, staking = staked.net, staked.dep, staked.staking
    liar, honest = net.keys[2], net.keys[3]
    key = bls.BlsKey.generate()
    dep.register_bls_key(liar, key.public_key, key.proof_of_possession(liar.address))
    market = staked.register(b"bls")
    yes, no = _resolution(market, outcome=0), _resolution(market, outcome=1)

    def share(k, r) -> Vouch:  # a one-resolution batch, signed as the network's validators sign it
        root = leaf(r)
        return Vouch(r, bls.to_eip2537_g2(k.sign(dep.batch_digest(root, 1))), (), root, 1)

    with pytest.raises(ChainError, match="NoBlsKey"):
        staking.slash_equivocation(net.alice, honest.address, share(key, yes), share(key, no), bls=True)
    with pytest.raises(ChainError, match="BadBlsSignature"):  # another key's share proves nothing about the liar
        staking.slash_equivocation(net.alice, liar.address, share(key, yes), share(bls.BlsKey.generate(), no),
                                   bls=True)
    staking.slash_equivocation(net.alice, liar.address, share(key, yes), share(key, no), bls=True)
    assert staking.bond_of(liar.address).bond == 0 and liar.address not in staking.members()


@pytest.mark.slow
def test_members_of_an_overturned_bls_batch_lose_their_bonds(chain_network):
    """The oracle checked the aggregate: the bitmap it kept names who vouched for the overturned answer."""
    staked = Staked(chain_network)
    net, dep, staking, court = staked.net, staked.dep, staked.staking, staked.dep.court
    keys = {}
    for k in net.keys[:3]:
        keys[k.address] = bls.BlsKey.generate()
        dep.register_bls_key(k, keys[k.address].public_key, keys[k.address].proof_of_possession(k.address))
    arbiter = net.alice
    court.queue_parameters(net.deployer, replace(court.parameters(), arbiter=arbiter.address))
    net.advance_to(net.chain.timestamp() + 2 * 86_400)
    court.execute_parameters(net.bob)
    now = net.chain.timestamp()
    market, _ = dep.register_market(net.creator, spec_hash=keccak_hex(b"bls-overturn"), model_id=MODEL,
                                    close_at=now + 100, resolve_at=now + 110, outcome_count=2, quorum=1,
                                    dispute_window=3600)
    net.advance_to(now + 110)
    wrong = _resolution(market, outcome=1)
    members = dep.validators()
    signers = [members.index(a) for a in keys]
    root = leaf(wrong)
    message = dep.batch_digest(root, 1)
    aggregate = bls.aggregate([keys[members[i]].sign(message) for i in signers])
    dep.resolve_batch_bls(net.submitter, [wrong], bls.bitmap_of(signers), aggregate)
    court.dispute(net.bob, market)
    court.settle_by_arbiter(arbiter, market, 0)
    epoch = dep.resolution_of(market).epoch
    epoch_members = dep.members_of_epoch(epoch)
    with pytest.raises(ChainError, match="NotInBatch"):  # the honest member's bit is not set
        staking.slash_overturned_bls(net.bob, market, [], root, epoch, epoch_members,
                                     members.index(net.keys[3].address))
    with pytest.raises(ChainError, match="NotInBatch"):  # no BLS acceptance of this root in another epoch
        staking.slash_overturned_bls(net.bob, market, [], root, epoch + 1, epoch_members, signers[0])
    for i in signers:
        staking.slash_overturned_bls(net.bob, market, [], root, epoch, epoch_members, i)
        assert staking.bond_of(epoch_members[i]).bond == 0
    assert staking.bond_of(net.keys[3].address).bond == BOND
