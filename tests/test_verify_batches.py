"""`oracle verify` re-checks the quorum of every settlement path (issue 12 item 13): a batch stored by
`resolveBatch`, a market claimed from a root accepted by `acceptBatchRoot`, and the BLS paths
(`resolveBatchBls`, `acceptBatchRootBls` + `claim`), from public data only. Each honest settlement
passes; each forged case fails naming what is wrong."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle import bls
from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
from oracle.canonical import keccak_hex
from oracle.deployment import OracleCall
from oracle.eip712 import Resolution
from oracle.errors import CheckFailed
from oracle.settlement import tx_hash_of
from oracle.signer import LocalSigner
from test_batch_resolution import _batch, _rotate, _sign
from test_quorum_oracle import MODEL
from validators.audit import Auditor, Verdict
from validators.checks import check_batch_signatures, check_bls_aggregate


def _audit(net, market_id: str, *, at_block: int | None = None, quorum: int | None = None,
           resolution: Resolution | None = None) -> str:
    """The auditor's `resolution` step, then its `signatures` step alone (the others need a real
    bundle). `at_block`, `quorum`, `resolution` forge what the auditor believes."""
    auditor = Auditor(net.dep, store=None)
    v, ctx = Verdict(market_id), {}
    auditor._resolution(v, ctx)
    ctx["onchain"] = net.dep.get_market(market_id)
    if quorum is not None:
        ctx["onchain"] = replace(ctx["onchain"], quorum=quorum)
    if resolution is not None:
        ctx["resolution"] = resolution
    if at_block is not None:
        v.block = at_block
    return auditor._signatures(v, ctx)


def _market(net, tag: str, quorum: int) -> Resolution:
    market_id, _ = net.dep.register_market(net.creator, spec_hash=keccak_hex(tag.encode()), model_id=MODEL,
                                           resolve_at=1, outcome_count=2, quorum=quorum)
    return Resolution(market_id, 0, 1, 700_000, MODEL, keccak_hex(b"in-" + tag.encode()), keccak_hex(tag.encode()))


def _tamper(monkeypatch, net, tx_hash: str, **args) -> None:
    """The auditor reads `tx_hash` as a call with `args` replaced (a forged transaction)."""
    real = net.dep.settlement_call

    def forged(h):
        call = real(h)
        return OracleCall(call.function, {**call.args, **args}) if h == tx_hash else call

    monkeypatch.setattr(net.dep, "settlement_call", forged)


@pytest.fixture
def net(chain_network):
    return chain_network


# ------------------------------------------------------------------ resolveBatch (ECDSA)
def test_resolve_batch_quorum_is_rechecked(net, monkeypatch):
    high = _market(net, "rb-high", len(net.keys))
    rs = _batch(net, 3, "rb") + [high]
    root = merkle_root([leaf(r) for r in rs])
    tx = tx_hash_of(net.dep.resolve_batch(net.submitter, rs, _sign(net, root, 4, keys=net.keys)))
    for r in rs:
        detail = _audit(net, r.market_id)
        assert "resolveBatch" in detail and "4 distinct validators" in detail and "batch's 4" in detail
    assert "(needed 4)" in _audit(net, high.market_id)

    # the on-chain record is not one of the batch's resolutions
    forged = replace(rs[0], outcome=1 - rs[0].outcome)
    with pytest.raises(CheckFailed, match="holds no resolution equal") as e:
        _audit(net, rs[0].market_id, resolution=forged)
    assert e.value.check == "signatures"
    # a batch whose signer count is below the market's quorum
    with pytest.raises(CheckFailed, match="4 distinct validators signed over batch root 0x[0-9a-f]+, 5 needed"):
        _audit(net, rs[0].market_id, quorum=5)
    # signatures over another root (the call's resolutions no longer hash to what was signed)
    _tamper(monkeypatch, net, tx, rs=[r.as_tuple() for r in rs[:3]])
    with pytest.raises(CheckFailed, match="holds no resolution equal"):
        _audit(net, high.market_id)
    with pytest.raises(CheckFailed, match="not in the validator set"):
        _audit(net, rs[0].market_id)


def test_resolve_batch_signers_are_members_of_the_set_at_that_block(net):
    rs = _batch(net, 2, "rb-rot")
    root = merkle_root([leaf(r) for r in rs])
    net.dep.resolve_batch(net.submitter, rs, _sign(net, root, 2))
    _rotate(net, [LocalSigner.create() for _ in range(3)], 2)
    assert "3 distinct validators" in _audit(net, rs[0].market_id)  # the old set, read at its block
    with pytest.raises(CheckFailed, match="not in the validator set at that block"):  # the set after the change
        _audit(net, rs[0].market_id, at_block=net.chain.block_number() + 1)


def test_batch_signatures_check_names_each_fault(net):
    root, members = b"\x11" * 32, net.members
    sigs = _sign(net, root, 2)
    assert check_batch_signatures(net.dep.domain, root, 2, sigs, members, 3) == [
        k.address for k in sorted(net.keys[:3], key=lambda k: int(k.address, 16))]
    outsider = LocalSigner.create().sign_message(batch_signable(net.dep.domain, root, 2))
    with pytest.raises(CheckFailed, match="signature 2 over batch root 0x11+ is by .*not in the validator set"):
        check_batch_signatures(net.dep.domain, root, 2, sigs[:2] + [outsider], members, 3)
    with pytest.raises(CheckFailed, match="not in the validator set"):  # signed another count
        check_batch_signatures(net.dep.domain, root, 3, sigs, members, 3)
    with pytest.raises(CheckFailed, match="signed twice"):
        check_batch_signatures(net.dep.domain, root, 2, sigs[:2] + sigs[:1], members, 3)
    with pytest.raises(CheckFailed, match="2 distinct validators signed over batch root 0x11+, 3 needed"):
        check_batch_signatures(net.dep.domain, root, 2, sigs[:2], members, 3)


# ------------------------------------------------------------------ acceptBatchRoot + claim (ECDSA)
def test_claim_from_an_accepted_root_is_rechecked(net, monkeypatch):
    high = _market(net, "claim-high", len(net.keys))
    rs = [high] + _batch(net, 2, "claim")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    net.dep.accept_batch_root(net.submitter, root, 3, _sign(net, root, 3, keys=net.keys))
    net.dep.accept_batch_root(net.submitter, root, 3, _sign(net, root, 3))  # the t-sized replay
    tx = tx_hash_of(net.dep.claim(net.submitter, high, merkle_proof(leaves, 0), root))
    net.dep.claim(net.submitter, rs[1], merkle_proof(leaves, 1), root)
    detail = _audit(net, high.market_id)
    assert "claimed by inclusion in batch root 0x" + root.hex() in detail
    assert "acceptBatchRoot" in detail and "4 distinct validators" in detail and "(needed 4)" in detail
    assert "still in force" in _audit(net, rs[1].market_id)

    with pytest.raises(CheckFailed, match="carries a resolution other than"):
        _audit(net, high.market_id, resolution=replace(high, probability_ppm=1))
    # a quorum the best acceptance does not reach
    with pytest.raises(CheckFailed, match="accepted by at most 4 validators, this market's quorum needs 5"):
        _audit(net, high.market_id, quorum=5)
    # an inclusion proof that leads elsewhere
    _tamper(monkeypatch, net, tx, proof=merkle_proof(leaves, 1))
    with pytest.raises(CheckFailed, match="inclusion proof does not lead"):
        _audit(net, high.market_id)


def test_claim_against_a_replaced_set_is_named(net, monkeypatch):
    """The root was accepted by the old set, then again by the new one, then claimed: it passes on the
    new set's acceptance. Without that re-acceptance (a log hidden from the auditor) the claim would
    be against a superseded root, and the auditor says so."""
    rs = _batch(net, 2, "superseded")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    net.dep.accept_batch_root(net.submitter, root, 2, _sign(net, root, 2))
    fresh = sorted((LocalSigner.create() for _ in range(3)), key=lambda k: int(k.address, 16))
    _rotate(net, fresh, 2)
    net.dep.accept_batch_root(net.submitter, root, 2, _sign(net, root, 2, keys=fresh[:2]))
    net.dep.claim(net.submitter, rs[0], merkle_proof(leaves, 0), root)
    assert "2 distinct validators" in _audit(net, rs[0].market_id)

    real = net.dep.batch_accepted_events
    monkeypatch.setattr(net.dep, "batch_accepted_events", lambda root_, **kw: real(root_, **kw)[:1])
    with pytest.raises(CheckFailed, match="replaced before the claim.*superseded root"):
        _audit(net, rs[0].market_id)
    monkeypatch.setattr(net.dep, "batch_accepted_events", lambda root_, **kw: [])
    with pytest.raises(CheckFailed, match="no transaction accepted batch root"):
        _audit(net, rs[0].market_id)


# ------------------------------------------------------------------ BLS paths
class BlsNet:
    """A network whose members also registered BLS keys (proofs of possession checked on-chain)."""

    def __init__(self, network):
        self.net = network
        self.keys = [bls.BlsKey.generate() for _ in network.keys]
        self.before_keys = network.chain.block_number()
        for signer, key in zip(network.keys, self.keys):
            network.chain.fund(signer.address, 10**18)
            network.dep.register_bls_key(signer, key.public_key, key.proof_of_possession(signer.address))

    def sign(self, members, root: bytes, count: int) -> tuple[int, bytes]:
        message = self.net.dep.batch_digest(root, count)
        return bls.bitmap_of(members), bls.aggregate([self.keys[i].sign(message) for i in members])


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def blsnet(request, store, tmp_path_factory):
    """One BLS-keyed network per chain for the module (py-evm runs each pairing in pure Python); its
    own anvil node, since the shared one is per test."""
    from conftest import replay_network

    with replay_network(request.param, store, tmp_path_factory.mktemp("anvil-bls-logs")) as net:
        yield BlsNet(net)


def test_resolve_batch_bls_is_rechecked(blsnet, monkeypatch):
    net = blsnet.net
    rs = _batch(net, 3, "bls-rb")
    root = merkle_root([leaf(r) for r in rs])
    tx = tx_hash_of(net.dep.resolve_batch_bls(net.submitter, rs, *blsnet.sign([0, 2, 3], root, 3)))
    detail = _audit(net, rs[1].market_id)
    assert "resolveBatchBls: a BLS aggregate of 3 distinct validators" in detail and "(needed 3)" in detail

    # the bitmap names fewer members than this market's quorum
    with pytest.raises(CheckFailed, match="the signer bitmap names 3 members, 4 needed") as e:
        _audit(net, rs[1].market_id, quorum=4)
    assert e.value.check == "signatures"
    # the key set read before the members registered theirs: the calldata is not the stored set
    with pytest.raises(CheckFailed, match="publicKeys calldata hashes to 0x[0-9a-f]+, the oracle's blsKeysHash"):
        _audit(net, rs[1].market_id, at_block=blsnet.before_keys + 1)
    # a bitmap naming a member that did not sign (same count): the aggregate does not verify
    _tamper(monkeypatch, net, tx, signerBitmap=bls.bitmap_of([0, 1, 2]))
    with pytest.raises(CheckFailed, match=r"does not verify over ResolutionBatch\(0x[0-9a-f]+, 3\) under the keys "
                                          r"of members \[0, 1, 2\]"):
        _audit(net, rs[1].market_id)
    _tamper(monkeypatch, net, tx, signerBitmap=bls.bitmap_of([0, 2, 3, len(net.keys)]))
    with pytest.raises(CheckFailed, match="names a member index outside the set of 4"):
        _audit(net, rs[1].market_id)


def test_claim_from_a_bls_root_is_rechecked(blsnet):
    net = blsnet.net
    high = _market(net, "bls-claim-high", len(net.keys))
    rs = [high] + _batch(net, 1, "bls-claim")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    net.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(len(net.keys)), root, 2))
    net.dep.accept_batch_root_bls(net.submitter, root, 2, *blsnet.sign(range(net.t), root, 2))
    net.dep.claim(net.submitter, high, merkle_proof(leaves, 0), root)
    detail = _audit(net, high.market_id)
    assert "acceptBatchRootBls: a BLS aggregate of 4 distinct validators" in detail and "(needed 4)" in detail
    with pytest.raises(CheckFailed, match="accepted by at most 4 validators, this market's quorum needs 5"):
        _audit(net, high.market_id, quorum=5)


def test_bls_aggregate_check_names_each_fault(blsnet):
    net = blsnet.net
    dep, root = net.dep, b"\x22" * 32
    key_set, members, at = dep.bls_key_set(), dep.validators(), net.chain.block_number()
    keys_hash = dep.bls_keys_hash_at(at)
    bitmap, aggregate = blsnet.sign([1, 2, 3], root, 5)
    signature = bls.to_eip2537_g2(aggregate)

    def check(bitmap=bitmap, key_set=key_set, signature=signature, needed=3, count=5):
        return check_bls_aggregate(dep.domain, root, count, bitmap, key_set, signature, members, needed, keys_hash)

    assert check() == members[1:]
    with pytest.raises(CheckFailed, match="names 2 members, 3 needed"):
        check(bitmap=bls.bitmap_of([1, 2]))
    with pytest.raises(CheckFailed, match="does not verify"):
        check(count=4)
    stale = bytearray(key_set)
    stale[:128] = bls.to_eip2537_g1(bls.BlsKey.generate().public_key)
    with pytest.raises(CheckFailed, match="publicKeys calldata hashes to"):
        check(key_set=bytes(stale))
    bad = bytearray(signature)
    bad[100] ^= 1
    with pytest.raises(CheckFailed, match="aggregate signature is unreadable"):
        check(signature=bytes(bad))
