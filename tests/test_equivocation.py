"""Equivocation on every signing path is slashable on-chain, on both chains: a member's vote against
its own batch signature, two batch signatures over different roots, and two BLS batch shares. Each
refusal names its check (no conflict, a proof that does not fold, another key's share, another
signer, no registered BLS key)."""

from __future__ import annotations

import pytest
from test_staking import BOND, Staked, _resolution

from oracle import bls
from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
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
