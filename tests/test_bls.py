"""BLS12-381 aggregate quorum: keys registered with a proof of possession, one aggregate over a
batch root checked on-chain with the EIP-2537 precompiles, on py-evm and on anvil."""

from __future__ import annotations

import hashlib

import blspy
import pytest
from eth_utils import keccak
from py_ecc.bls.g2_primitives import G1_to_pubkey, pubkey_to_G1
from py_ecc.optimized_bls12_381 import G1, add, multiply, neg

from oracle import bls
from oracle.batch import leaf, merkle_proof, merkle_root
from oracle.errors import ChainError
from test_batch_resolution import _batch, _rotate, _sign
from validators.aggregator import BlsAggregator, BlsVote, VoteRejected

QUUX = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
# RFC 9380 Appendix J.10.1, BLS12381G2_XMD:SHA-256_SSWU_RO_: P = (x.c0, x.c1, y.c0, y.c1)
RFC9380_G2 = {
    b"": (
        0x0141EBFBDCA40EB85B87142E130AB689C673CF60F1A3E98D69335266F30D9B8D4AC44C1038E9DCDD5393FAF5C41FB78A,
        0x05CB8437535E20ECFFAEF7752BADDF98034139C38452458BAEEFAB379BA13DFF5BF5DD71B72418717047F5B0F37DA03D,
        0x0503921D7F6A12805E72940B963C0CF3471C7B2A524950CA195D11062EE75EC076DAF2D4BC358C4B190C0C98064FDD92,
        0x12424AC32561493F3FE3C260708A12B7C620E7BE00099A974E259DDC7D1F6395C3C811CDD19F1E8DBF3E9ECFDCBAB8D6,
    ),
    b"abcdef0123456789": (
        0x121982811D2491FDE9BA7ED31EF9CA474F0E1501297F68C298E9F4C0028ADD35AEA8BB83D53C08CFC007C1E005723CD0,
        0x190D119345B94FBD15497BCBA94ECF7DB2CBFD1E1FE7DA034D26CBBA169FB3968288B3FAFB265F9EBD380512A71C3F2C,
        0x05571A0F8D3C08D094576981F4A3B8EDA0A8E771FCDCC8ECCEAF1356A6ACF17574518ACB506E435B639353C2E14827C8,
        0x0BB5E7572275C567462D91807DE765611490205A941A5A6AF3B1691BFE596C31225D3AABDF15FAFF860CB4EF17C7C3BE,
    ),
}


class BlsNet:
    """A chain network whose members also hold BLS keys, registered with proofs of possession."""

    def __init__(self, network):
        self.net = network
        self.dep = network.dep
        self.keys = [bls.BlsKey.generate() for _ in network.keys]
        for signer, key in zip(network.keys, self.keys):
            network.chain.fund(signer.address, 10**18)
            self.dep.register_bls_key(signer, key.public_key, key.proof_of_possession(signer.address))

    def sign(self, members, root: bytes, count: int) -> tuple[int, bytes]:
        message = self.dep.batch_digest(root, count)
        return bls.bitmap_of(members), bls.aggregate([self.keys[i].sign(message) for i in members])


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def blsnet(request, store, tmp_path_factory):
    """One BLS-keyed network per chain for the module: key registration runs pairings, which
    py-evm computes in pure Python (seconds each). Tests use their own markets (resolvable at once:
    resolveAt = 1), so one chain (and one anvil, started here: conftest's is per test) serves them all."""
    from conftest import replay_network

    with replay_network(request.param, store, tmp_path_factory.mktemp("anvil-bls")) as net:
        yield BlsNet(net)


def test_hash_to_curve_matches_rfc9380_and_the_library(chain_network):
    oracle = chain_network.dep.oracle
    for message, point in RFC9380_G2.items():
        assert bytes(oracle.functions.hashToG2(message, QUUX).call()) == b"".join(v.to_bytes(64, "big") for v in point)
    for message in (b"", b"\x00" * 32, hashlib.sha256(b"oracle").digest(), b"x" * 48):
        expected = bls.to_eip2537_g2(bytes(blspy.G2Element.from_message(message, bls.DST_SIG)))
        assert bytes(oracle.functions.hashToG2(message, bls.DST_SIG).call()) == expected


def test_library_signatures_round_trip_the_key_set(blsnet):
    key_set = blsnet.dep.bls_key_set()
    assert bls.keys_of_key_set(key_set) == [k.public_key for k in blsnet.keys]
    assert bytes(blsnet.dep.oracle.functions.blsKeysHash().call()) == keccak(key_set)


def test_aggregate_settles_a_batch_of_64_by_root_and_each_market_is_provable(blsnet):
    net = blsnet.net
    rs = _batch(net, 64, "bls64")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    bitmap, aggregate = blsnet.sign(range(net.t), root, 64)
    receipt = blsnet.dep.accept_batch_root_bls(net.submitter, root, 64, bitmap, aggregate)
    assert receipt["status"] == 1
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == net.t
    assert all(blsnet.dep.verify_inclusion(r, merkle_proof(leaves, i), root) for i, r in enumerate(rs))
    blsnet.dep.claim(net.submitter, rs[5], merkle_proof(leaves, 5), root)
    assert blsnet.dep.resolution_of(rs[5].market_id).resolution == rs[5]


def test_aggregate_resolves_a_stored_batch(blsnet):
    net = blsnet.net
    rs = _batch(net, 4, "blsstore")
    root = merkle_root([leaf(r) for r in rs])
    members = [0, 2, 3]  # any t members, not the first t
    bitmap, aggregate = blsnet.sign(members, root, 4)
    blsnet.dep.resolve_batch_bls(net.submitter, rs, bitmap, aggregate)
    assert all(blsnet.dep.resolution_of(r.market_id).resolution == r for r in rs)


def test_aggregate_refused_with_a_signer_missing_or_over_another_root(blsnet):
    net = blsnet.net
    rs = _batch(net, 4, "blsbad")
    root = merkle_root([leaf(r) for r in rs])
    t = net.t
    # t-1 signers named: below the threshold
    bitmap, aggregate = blsnet.sign(range(t - 1), root, 4)
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap, aggregate)
    # t named, one of them did not sign: the aggregate is of t-1 signatures
    _, short = blsnet.sign(range(t - 1), root, 4)
    with pytest.raises(ChainError, match="BadAggregateSignature"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bls.bitmap_of(range(t)), short)
    # t signatures over another root (and over the right root with another count)
    other = merkle_root([leaf(r) for r in rs[:3]])
    bitmap, wrong = blsnet.sign(range(t), other, 3)
    with pytest.raises(ChainError, match="BadAggregateSignature"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap, wrong)
    bitmap, wrong_count = blsnet.sign(range(t), root, 5)
    with pytest.raises(ChainError, match="BadAggregateSignature"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap, wrong_count)
    # a bitmap naming a non-member index, and a key set that is not the registered one
    bitmap, aggregate = blsnet.sign(range(t), root, 4)
    with pytest.raises(ChainError, match="SignerOutOfRange"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap | 1 << len(net.keys), aggregate)
    stale = bytearray(blsnet.dep.bls_key_set())
    stale[:128] = bls.to_eip2537_g1(bls.BlsKey.generate().public_key)
    with pytest.raises(ChainError, match="StaleBlsKeys"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap, aggregate, key_set=bytes(stale))
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == 0
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 4, bitmap, aggregate)
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == t


def test_bls_resubmission_does_not_downgrade_a_root(blsnet):
    """Issue 12 item 8, BLS path: a t-member aggregate resubmitted over a root accepted with every
    member leaves the root's signer count (and a quorum-n market's claim) intact."""
    from oracle.canonical import keccak_hex
    from oracle.eip712 import Resolution
    from test_quorum_oracle import MODEL

    net = blsnet.net
    n = len(net.keys)
    market_id, _ = blsnet.dep.register_market(net.creator, spec_hash=keccak_hex(b"bls-downgrade"), model_id=MODEL,
                                              resolve_at=1, outcome_count=2, quorum=n)
    rs = [Resolution(market_id, 0, 0, 100_000, MODEL, keccak_hex(b"in"), keccak_hex(b"p"))] + _batch(net, 1, "blsdown")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(n), root, 2))
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(net.t), root, 2))
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == n
    blsnet.dep.claim(net.submitter, rs[0], merkle_proof(leaves, 0), root)
    assert blsnet.dep.resolution_of(market_id).resolution == rs[0]


def test_bls_signers_of_a_root_accumulate_within_an_epoch(blsnet):
    """The members whose aggregates accepted a root add up within a validator epoch (the bitmap the
    slashing of an overturned batch reads), survive the root's later ECDSA acceptance by more signers,
    and are kept per epoch: a later set's acceptance of the root never erases an earlier one's."""
    net = blsnet.net
    n, t = len(net.keys), net.t
    assert t < n
    rs = _batch(net, 2, "blsacc")
    root = merkle_root([leaf(r) for r in rs])
    oracle = blsnet.dep.oracle.functions
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(t), root, 2))
    epoch = blsnet.dep.validator_epoch()
    assert oracle.blsSignersOf(root, epoch).call() == bls.bitmap_of(range(t))
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(1, t + 1), root, 2))
    assert oracle.blsSignersOf(root, epoch).call() == bls.bitmap_of(range(t + 1))
    assert oracle.batchSigners(root).call() == t
    blsnet.dep.accept_batch_root(net.submitter, root, 2, _sign(net, root, 2, keys=net.keys))
    assert oracle.batchSigners(root).call() == n
    assert oracle.blsSignersOf(root, epoch).call() == bls.bitmap_of(range(t + 1))
    # the set is installed again (a new epoch, the same members) and other members re-accept the root:
    # the earlier epoch's bitmap stays as it was (it names who vouched then: nobody erases it by
    # re-accepting later), and the new epoch keeps its own
    _rotate(net, net.keys, t)
    later = blsnet.dep.validator_epoch()
    assert later > epoch
    blsnet.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(n - t, n), root, 2))
    assert oracle.blsSignersOf(root, later).call() == bls.bitmap_of(range(n - t, n))
    assert oracle.blsSignersOf(root, epoch).call() == bls.bitmap_of(range(t + 1))


def test_rogue_key_needs_a_proof_of_possession(blsnet):
    """The attack is real off-chain, and registration is what stops it on-chain."""
    net = blsnet.net
    honest = blsnet.keys[1:]
    a = 0x1234567890ABCDEF
    others = None
    for k in honest:
        p = pubkey_to_G1(k.public_key)
        others = p if others is None else add(others, p)
    rogue_pk = bytes(G1_to_pubkey(add(multiply(G1, a), neg(others))))
    message = b"\x42" * 32
    forged = bytes(blspy.PopSchemeMPL.sign(blspy.PrivateKey.from_bytes(a.to_bytes(32, "big")), message))
    # alone, the attacker "aggregates" the honest members' consent without any of their signatures:
    assert bls.fast_aggregate_verify([rogue_pk] + [k.public_key for k in honest], message, forged)
    # it cannot prove possession of the rogue key: any proof it offers is refused
    with pytest.raises(ChainError, match="BadProofOfPossession"):
        blsnet.dep.register_bls_key(net.keys[0], rogue_pk, blsnet.keys[0].proof_of_possession(net.keys[0].address))
    with pytest.raises(ChainError, match="BadProofOfPossession"):
        blsnet.dep.register_bls_key(net.keys[0], rogue_pk, forged)
    # a member copying another member's key (with that member's valid PoP) is refused too
    with pytest.raises(ChainError, match="BlsKeyTaken"):
        blsnet.dep.register_bls_key(net.keys[0], honest[0].public_key,
                                   honest[0].proof_of_possession(net.keys[1].address))
    # and a non-member cannot register at all
    outsider = bls.BlsKey.generate()
    with pytest.raises(ChainError, match="NotValidator"):
        blsnet.dep.register_bls_key(net.submitter, outsider.public_key,
                                   outsider.proof_of_possession(net.submitter.address))
    assert bls.keys_of_key_set(blsnet.dep.bls_key_set())[0] == blsnet.keys[0].public_key


def test_a_copied_proof_of_possession_registers_nothing_for_another_member(chain_network):
    """Issue 12 item 12: member 0 front-runs member 1's registration with member 1's key and proof;
    the proof is bound to member 1's address, so it is refused and member 1 still registers. After a
    rotation, member 1's freed old key cannot be taken with its old proof either."""
    net = chain_network
    for signer in net.keys[:2]:
        net.chain.fund(signer.address, 10**18)
    victim, thief = net.keys[1], net.keys[0]
    key = bls.BlsKey.generate()
    proof = key.proof_of_possession(victim.address)
    assert bls.verify_possession(key.public_key, proof, victim.address)
    assert not bls.verify_possession(key.public_key, proof, thief.address)
    with pytest.raises(ChainError, match="BadProofOfPossession"):
        net.dep.register_bls_key(thief, key.public_key, proof)
    net.dep.register_bls_key(victim, key.public_key, proof)
    rotated = bls.BlsKey.generate()
    net.dep.register_bls_key(victim, rotated.public_key, rotated.proof_of_possession(victim.address))
    with pytest.raises(ChainError, match="BadProofOfPossession"):
        net.dep.register_bls_key(thief, key.public_key, proof)
    assert bls.keys_of_key_set(net.dep.bls_key_set())[:2] == [None, rotated.public_key]


def test_unregistered_member_cannot_be_named(chain_network):
    net = chain_network
    keys = [bls.BlsKey.generate() for _ in net.keys]
    for signer, key in list(zip(net.keys, keys))[1:]:  # member 0 never registers
        net.chain.fund(signer.address, 10**18)
        net.dep.register_bls_key(signer, key.public_key, key.proof_of_possession(signer.address))
    rs = _batch(net, 2, "unreg")
    root = merkle_root([leaf(r) for r in rs])
    message = net.dep.batch_digest(root, 2)
    aggregate = bls.aggregate([keys[i].sign(message) for i in range(net.t)])
    with pytest.raises(ChainError, match="UnregisteredKey"):
        net.dep.accept_batch_root_bls(net.submitter, root, 2, bls.bitmap_of(range(net.t)), aggregate)


def test_aggregator_checks_each_share_and_submits_once(blsnet):
    network = blsnet.net
    rs = _batch(network, 3, "agg")
    root = merkle_root([leaf(r) for r in rs])
    submitted = []

    def settle(root_, count, bitmap, aggregate, key_set):
        submitted.append(bitmap)
        return network.settler.root_bls(root_, count, bitmap, aggregate, key_set)

    agg = BlsAggregator(blsnet.dep.domain, blsnet.dep.validators(), blsnet.dep.bls_key_set(), network.t, settle)
    message = blsnet.dep.batch_digest(root, 3)
    members = [k.address for k in network.keys]
    with pytest.raises(VoteRejected, match="does not verify"):  # member 0 signs another root
        agg.add(BlsVote(members[0], root, 3, blsnet.keys[0].sign(b"\x00" * 32)))
    with pytest.raises(VoteRejected, match="not in the validator set"):
        agg.add(BlsVote(network.submitter.address, root, 3, blsnet.keys[0].sign(message)))
    result = None
    for i in (3, 1, 0, 2):
        result = agg.add(BlsVote(members[i], root, 3, blsnet.keys[i].sign(message))) or result
    assert result is not None and len(submitted) == 1
    assert result.signer_bitmap == bls.bitmap_of([0, 1, 3]) == submitted[0]
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == network.t


def test_keystore_round_trip(tmp_path):
    key = bls.BlsKey.generate()
    path = tmp_path / "v0.bls.json"
    bls.save_key(path, key, "a long password", iterations=2)
    assert bls.load_key(path, "a long password") == key
    with pytest.raises(Exception, match="cannot decrypt"):
        bls.load_key(path, "wrong password!")


def test_validator_bls_signs_final_rounds_only(store):
    """Issue 12 item 2: a forecast round never goes into a BLS-signed batch root."""
    from oracle.canonical import keccak_hex
    from oracle.eip712 import Domain, Resolution
    from oracle.errors import OracleError
    from oracle.signer import LocalSigner
    from validators.validator import Validator

    v = Validator(LocalSigner.create(), store, Domain(1, "0x" + "11" * 20), lambda source: None,
                  bls_key=bls.BlsKey.generate())
    forecast = Resolution(keccak_hex(b"m"), 0, 0, 500_000, keccak_hex(b"model"), keccak_hex(b"i"), keccak_hex(b"p"),
                          final=False)
    with pytest.raises(OracleError, match="final rounds only"):
        v.sign_batch_bls([forecast])


def test_a_key_rotation_does_not_stall_an_aggregate_in_flight(blsnet):
    """Issue 12 item 12: a member rotating its key while a batch collects shares does not void the
    shares already collected: the aggregate is submitted with the key set its shares were verified
    under, which the contract honours for BLS_KEY_GRACE in the same validator epoch; after that it
    is stale. An aggregator reading the new set drops only the rotated member's old share."""
    from oracle.settlement import SETTLED

    net = blsnet.net
    members = [k.address for k in net.keys]
    rs = _batch(net, 2, "rotation")
    root = merkle_root([leaf(r) for r in rs])
    message = blsnet.dep.batch_digest(root, 2)
    old_set, old_key = blsnet.dep.bls_key_set(), blsnet.keys[0]
    used = []

    def settle(root_, count, bitmap, aggregate, key_set):
        used.append(key_set)
        return net.settler.root_bls(root_, count, bitmap, aggregate, key_set)

    agg = BlsAggregator(blsnet.dep.domain, members, old_set, net.t, settle)
    for i in range(net.t - 1):
        assert agg.add(BlsVote(members[i], root, 2, blsnet.keys[i].sign(message))) is None
    new_key = bls.BlsKey.generate()  # member 0 rotates mid-batch
    blsnet.dep.register_bls_key(net.keys[0], new_key.public_key, new_key.proof_of_possession(members[0]))
    blsnet.keys[0] = new_key
    new_set = blsnet.dep.bls_key_set()
    assert new_set != old_set
    sub = agg.add(BlsVote(members[net.t - 1], root, 2, blsnet.keys[net.t - 1].sign(message)))
    assert sub is not None and sub.settlement.status == SETTLED and used == [old_set]
    assert blsnet.dep.oracle.functions.batchSigners(root).call() == net.t

    # an aggregator that learns the new set keeps the others' shares and drops member 0's old one
    rs2 = _batch(net, 2, "rotation-rekey")
    root2 = merkle_root([leaf(r) for r in rs2])
    message2 = blsnet.dep.batch_digest(root2, 2)
    agg2 = BlsAggregator(blsnet.dep.domain, members, old_set, net.t, settle)
    agg2.add(BlsVote(members[0], root2, 2, old_key.sign(message2)))
    agg2.add(BlsVote(members[1], root2, 2, blsnet.keys[1].sign(message2)))
    with pytest.raises(VoteRejected, match="does not verify"):
        agg2.check(BlsVote(members[0], root2, 2, new_key.sign(message2)))
    assert agg2.rekey(new_set) == [0]
    assert net.t == 3 and agg2.add(BlsVote(members[0], root2, 2, new_key.sign(message2))) is None
    sub2 = agg2.add(BlsVote(members[2], root2, 2, blsnet.keys[2].sign(message2)))
    assert sub2 is not None and sub2.settlement.status == SETTLED and used[-1] == new_set

    # past the grace period the replaced set is stale
    rs3 = _batch(net, 2, "rotation-late")
    root3 = merkle_root([leaf(r) for r in rs3])
    message3 = blsnet.dep.batch_digest(root3, 2)
    shares = [old_key.sign(message3)] + [blsnet.keys[i].sign(message3) for i in range(1, net.t)]
    bitmap, aggregate = bls.bitmap_of(range(net.t)), bls.aggregate(shares)
    grace = blsnet.dep.oracle.functions.BLS_KEY_GRACE().call()
    net.chain.advance_time(grace + 1)
    with pytest.raises(ChainError, match="StaleBlsKeys"):
        blsnet.dep.accept_batch_root_bls(net.submitter, root3, 2, bitmap, aggregate, key_set=old_set)
    bitmap, aggregate = blsnet.sign(range(net.t), root3, 2)
    blsnet.dep.accept_batch_root_bls(net.submitter, root3, 2, bitmap, aggregate)
    assert blsnet.dep.oracle.functions.batchSigners(root3).call() == net.t
