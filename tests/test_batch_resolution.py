"""One signature over a Merkle root settles a whole batch: stored per market in one transaction,
or accepted as a root with each market provable by inclusion."""

from __future__ import annotations

import pytest

from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
from oracle.canonical import keccak_hex
from oracle.errors import ChainError
from test_quorum_oracle import MODEL


@pytest.fixture
def network(chain_network):
    return chain_network


def _batch(network, n: int, tag: str):
    from oracle.eip712 import Resolution

    rs = []
    for i in range(n):
        market_id, _ = network.dep.register_market(
            network.creator, spec_hash=keccak_hex(f"{tag}-{i}".encode()), model_id=MODEL, resolve_at=1,
            outcome_count=2, quorum=1)
        rs.append(Resolution(market_id, 0, i % 2, 500_000 + i, MODEL, keccak_hex(b"in%d" % i), keccak_hex(b"p%d" % i)))
    return rs


def _sign(network, root: bytes, count: int, keys=None) -> list[bytes]:
    keys = sorted(keys or network.keys[: network.t], key=lambda k: int(k.address, 16))
    return [k.sign_message(batch_signable(network.dep.domain, root, count)) for k in keys]


def test_python_merkle_root_matches_contract(network):
    rs = _batch(network, 5, "root")
    leaves = [leaf(r) for r in rs]
    assert [bytes(network.dep.oracle.functions.hashResolution(r.as_tuple()).call()) for r in rs] == leaves
    assert bytes(network.dep.oracle.functions.merkleRoot(leaves).call()) == merkle_root(leaves)


def test_batch_of_64_settles_in_one_transaction(network):
    rs = _batch(network, 64, "b64")
    root = merkle_root([leaf(r) for r in rs])
    receipt = network.dep.resolve_batch(network.submitter, rs, _sign(network, root, 64))
    assert all(network.dep.resolution_of(r.market_id).resolution == r for r in rs)
    assert len(network.dep.oracle.events.Resolved().process_receipt(receipt)) == 64
    with pytest.raises(ChainError, match="AlreadyResolved"):
        network.dep.resolve_batch(network.submitter, rs[:1], _sign(network, leaf(rs[0]), 1))


def test_root_then_inclusion(network):
    rs = _batch(network, 8, "incl")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    network.dep.accept_batch_root(network.submitter, root, 8, _sign(network, root, 8))
    for i, r in enumerate(rs):
        assert network.dep.verify_inclusion(r, merkle_proof(leaves, i), root)
    forged = rs[3].__class__(**{**rs[3].to_json(), "outcome": 1 - rs[3].outcome})
    assert not network.dep.verify_inclusion(forged, merkle_proof(leaves, 3), root)
    with pytest.raises(ChainError, match="NotInBatch"):
        network.dep.claim(network.submitter, forged, merkle_proof(leaves, 3), root)
    network.dep.claim(network.submitter, rs[3], merkle_proof(leaves, 3), root)
    assert network.dep.resolution_of(rs[3].market_id).resolution == rs[3]


def test_batch_signatures_are_checked(network):
    rs = _batch(network, 4, "sig")
    root = merkle_root([leaf(r) for r in rs])
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        network.dep.resolve_batch(network.submitter, rs, _sign(network, root, 4)[:2])
    other = merkle_root([leaf(r) for r in rs[:3]])
    with pytest.raises(ChainError, match="UnknownSigner"):  # signed another root
        network.dep.resolve_batch(network.submitter, rs, _sign(network, other, 3))
    with pytest.raises(ChainError, match="UnknownSigner"):  # right root, wrong count
        network.dep.accept_batch_root(network.submitter, root, 4, _sign(network, root, 5))
    with pytest.raises(ChainError, match="UnknownRoot"):
        network.dep.claim(network.submitter, rs[0], [], root)
    assert not any(network.dep.is_resolved(r.market_id) for r in rs)


def test_resubmitting_a_smaller_signer_set_does_not_downgrade_a_root(network):
    """Issue 12 item 8: anyone can resubmit a t-sized subset of a root's public signatures; the root
    keeps its larger signer set, so a market whose quorum is above t still claims."""
    from oracle.eip712 import Resolution

    market_id, _ = network.dep.register_market(
        network.creator, spec_hash=keccak_hex(b"downgrade"), model_id=MODEL, resolve_at=1, outcome_count=2,
        quorum=len(network.keys))
    r = Resolution(market_id, 0, 1, 800_000, MODEL, keccak_hex(b"in"), keccak_hex(b"p"))
    rs = [r] + _batch(network, 2, "downgrade")
    leaves = [leaf(x) for x in rs]
    root = merkle_root(leaves)
    everyone = _sign(network, root, 3, keys=network.keys)
    network.dep.accept_batch_root(network.submitter, root, 3, everyone)
    assert network.dep.oracle.functions.batchSigners(root).call() == len(network.keys)
    network.dep.accept_batch_root(network.submitter, root, 3, _sign(network, root, 3))  # the t-sized replay
    assert network.dep.oracle.functions.batchSigners(root).call() == len(network.keys)
    network.dep.claim(network.submitter, r, merkle_proof(leaves, 0), root)
    assert network.dep.resolution_of(market_id).resolution == r


def _rotate(network, keys, threshold: int) -> None:
    """Replace the oracle's validator set: the owner proposes, anyone executes after the delay."""
    network.dep.propose_validators(network.deployer, [k.address for k in keys], threshold)
    network.chain.advance_time(network.dep.validator_set_delay() + 1)
    network.dep.execute_validators(network.submitter)


def test_a_root_of_a_replaced_validator_set_is_not_claimable(network):
    """Issue 12 item 9: a root accepted by the old set stops being claimable when the set changes;
    the new set can accept the same root again, and then it claims."""
    from oracle.signer import LocalSigner

    rs = _batch(network, 2, "rotate")
    leaves = [leaf(r) for r in rs]
    root = merkle_root(leaves)
    network.dep.accept_batch_root(network.submitter, root, 2, _sign(network, root, 2))
    assert network.dep.verify_inclusion(rs[0], merkle_proof(leaves, 0), root)
    fresh = [LocalSigner.create() for _ in range(3)]
    _rotate(network, fresh, 2)
    assert network.dep.oracle.functions.batchSigners(root).call() == 0
    assert not network.dep.verify_inclusion(rs[0], merkle_proof(leaves, 0), root)
    with pytest.raises(ChainError, match="SupersededRoot"):
        network.dep.claim(network.submitter, rs[0], merkle_proof(leaves, 0), root)
    with pytest.raises(ChainError, match="UnknownSigner"):  # the old members' signatures are strangers' now
        network.dep.accept_batch_root(network.submitter, root, 2, _sign(network, root, 2))
    network.dep.accept_batch_root(network.submitter, root, 2, _sign(network, root, 2, keys=fresh[:2]))
    network.dep.claim(network.submitter, rs[0], merkle_proof(leaves, 0), root)
    assert network.dep.resolution_of(rs[0].market_id).resolution == rs[0]
