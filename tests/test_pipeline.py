"""Real proofs through real validators to the embedded chain: the happy path and every refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from oracle.canonical import keccak_hex
from oracle.eip712 import Resolution
from oracle.errors import ChainError, OracleError
from oracle.pipeline import run_round
from oracle.settlement import SETTLED, Settlement
from validators.aggregator import Aggregator, VoteRejected

pytestmark = pytest.mark.slow


def _resolve(network, spec, frame, prover, bundle):
    network.register(spec)
    return run_round(spec, frame, prover, network.validators, network.aggregator, bundle=bundle)


def test_happy_path_lands_on_chain_and_pays_the_winner(network, spec, frame, prover, bundle, circuit):
    market_id = network.register(spec)
    network.dep.deposit(network.alice, market_id, spec.outcomes.index("YES"), 10**18)
    network.dep.deposit(network.bob, market_id, spec.outcomes.index("NO"), 3 * 10**18)
    report = run_round(spec, frame, prover, network.validators, network.aggregator, bundle=bundle)

    assert report.signed == 4 and not report.refusals
    assert all(r.checks == ["prover-signature", "market", "model", "proof", "instances", "data-snapshot", "inputs", "rule"]
               for r in report.reviews)
    sub = report.submission
    assert sub is not None and len(sub.signers) == network.t

    # on-chain state, not return values
    stored = network.dep.resolution_of(market_id)
    assert stored.resolution == sub.resolution
    r = stored.resolution
    assert r.model_id == circuit.model_id == spec.model
    from oracle.models import inputs_hash

    assert r.inputs_hash == inputs_hash(list(bundle.instances[0][:17])) and r.proof_hash == keccak_hex(bundle.proof_bytes)
    receipt = network.chain.w3.eth.get_transaction_receipt(sub.tx_hash)
    (event,) = network.dep.oracle.events.Resolved().process_receipt(receipt)
    assert sorted(event["args"]["signers"]) == sorted(sub.signers)

    # the proven probability is the float model's, up to quantization
    from provers.model import TrainingConfig, load_or_train
    from markets.feeds import bundled_path
    from oracle import config

    model = load_or_train(frame, bundled_path("btc_usd_daily.csv").read_bytes(), TrainingConfig(), config.cache_dir())
    p_float = model(torch.tensor([spec.compute_features(frame)])).item()
    assert abs(r.probability_ppm / 1e6 - p_float) < 0.01
    expected = "YES" if r.probability_ppm >= 500_000 else "NO"
    assert spec.outcomes[r.outcome] == expected

    winner, loser = (network.alice, network.bob) if expected == "YES" else (network.bob, network.alice)
    paid, _ = network.dep.redeem(winner, market_id)
    assert paid == 4 * 10**18
    with pytest.raises(ChainError, match="NothingToRedeem"):
        network.dep.redeem(loser, market_id)

    # a second round of votes for the same market never lands twice
    with pytest.raises(ChainError, match="AlreadyResolved"):
        network.settle(r, [v.vote.signature for v in report.reviews[: network.t]])


def _flip_proof_byte(b, prover):
    raw = bytearray(b.proof_bytes)
    raw[len(raw) // 2] ^= 0x01
    return replace(b, proof="0x" + raw.hex()).signed_by(prover.signer)


def _claim_other_model(b, prover):
    return replace(b, model_id=keccak_hex(b"another model")).signed_by(prover.signer)


def _edit_readable_output(b, prover):
    return replace(b, outputs=(b.outputs[0] + 3.0,)).signed_by(prover.signer)


def _edit_instance(b, prover):
    inst = list(b.instances[0])
    inst[-1] = inst[0]
    return replace(b, instances=(tuple(inst),)).signed_by(prover.signer)


def _other_snapshot(b, prover):
    return replace(b, data_snapshot=keccak_hex(b"other rows")).signed_by(prover.signer)


def _forge_prover(b, prover):
    return replace(b, outputs=(b.outputs[0] + 1.0,))  # changed after signing


@pytest.mark.parametrize(
    "tamper, check",
    [
        (_flip_proof_byte, "proof"),
        (_claim_other_model, "model"),
        (_edit_readable_output, "instances"),
        (_edit_instance, "proof"),
        (_forge_prover, "prover-signature"),
        (_other_snapshot, "data-snapshot"),
    ],
)
def test_tampered_bundles_are_refused_by_every_validator(network, spec, frame, prover, bundle, tamper, check):
    report = _resolve(network, spec, frame, prover, tamper(bundle, prover))
    assert report.signed == 0
    assert [r.check for r in report.refusals] == [check] * 4
    assert report.submission is None and not network.dep.is_resolved(spec.market_id)


def test_valid_proof_over_other_inputs_is_refused(network, spec, frame, prover):
    # a perfectly valid proof, but of another day's features
    other = spec.features.__class__(spec.features.recipe, spec.features.as_of - __import__("pandas").Timedelta(days=1),
                                    spec.features.horizon_days, spec.features.threshold_ratio)
    # ...claiming the market's real rows as its snapshot
    from markets.features import snapshot_bytes

    honest_snapshot = keccak_hex(snapshot_bytes(spec.features.window(frame), "Close"))
    wrong = prover.prove_features(spec.market_id, other.compute(frame), data_snapshot=honest_snapshot)
    report = _resolve(network, spec, frame, prover, wrong)
    assert report.signed == 0
    assert {r.check for r in report.refusals} == {"inputs"}
    assert "the market's data gives" in report.refusals[0].reason
    assert not network.dep.is_resolved(spec.market_id)


def test_bundle_for_another_market_is_refused(network, spec, frame, prover, bundle):
    moved = replace(bundle, market_id=keccak_hex(b"elsewhere")).signed_by(prover.signer)
    report = _resolve(network, spec, frame, prover, moved)
    assert {r.check for r in report.refusals} == {"market"} and report.signed == 0


def test_unregistered_market_is_refused(network, spec, frame, prover, bundle):
    report = run_round(spec, frame, prover, network.validators, network.aggregator, bundle=bundle)
    assert {r.check for r in report.refusals} == {"market"}
    assert "not registered on-chain" in report.refusals[0].reason


def test_a_disagreeing_validator_does_not_sign_and_quorum_still_lands(network, spec, frame, prover, bundle):
    doctored = frame.copy()
    doctored.loc[spec.features.as_of, "Close"] *= 1.02  # this validator's data source disagrees
    network.validators[0].load_data = lambda source: doctored
    report = _resolve(network, spec, frame, prover, bundle)
    assert report.signed == 3
    (refusal,) = report.refusals
    assert refusal.check == "data-snapshot" and refusal.validator == network.keys[0].address
    assert network.validators[0].refusals == [refusal]
    assert network.dep.is_resolved(spec.market_id)


def test_aggregator_checks_votes_and_keeps_equivocation_evidence(network, spec, frame, prover, bundle):
    network.register(spec)
    submitted = []
    agg = Aggregator(network.dep.domain, [k.address for k in network.keys], network.t,
                     lambda r, sigs: submitted.append((r, sigs)) or Settlement(SETTLED, "0xtx"))
    votes = [v.review(spec, bundle).vote for v in network.validators]

    outsider_vote = replace(votes[0], validator="0x" + "11" * 20)
    with pytest.raises(VoteRejected, match="not in the validator set"):
        agg.add(outsider_vote)
    with pytest.raises(VoteRejected, match="does not recover"):
        agg.add(replace(votes[0], signature=votes[1].signature))
    other = Resolution(**{**votes[0].resolution.to_json(), "outcome": 1 - votes[0].resolution.outcome})
    with pytest.raises(VoteRejected, match="not the resolution's digest"):
        agg.add(replace(votes[0], resolution=other))

    assert agg.add(votes[0]) is None
    assert agg.add(votes[0]) is None  # a repeated vote counts once
    # validator 0 also signs the opposite outcome: kept as evidence, not counted
    from oracle.eip712 import digest

    conflicting = replace(votes[0], resolution=other, digest=digest(network.dep.domain, other),
                          signature=network.sign(network.keys[0], other))
    assert agg.add(conflicting) is None
    assert len(agg.evidence) == 1 and agg.evidence[0].validator == network.keys[0].address
    assert agg.add(votes[1]) is None
    sub = agg.add(votes[2])
    assert sub is not None and len(submitted) == 1 and len(sub.signers) == 3
    assert agg.add(votes[3]) is None and len(submitted) == 1  # submitted once


def test_validators_bls_sign_only_roots_of_resolutions_they_reviewed(network, spec, frame, prover, bundle):
    """Reviewed with a real proof, BLS-signed by every member, aggregated and settled by root."""
    from oracle import bls
    from oracle.batch import leaf, merkle_proof
    from validators.aggregator import BlsAggregator

    network.register(spec)
    for v in network.validators:
        v.bls_key = bls.BlsKey.generate()
        network.chain.fund(v.address, 10**18)
        network.dep.register_bls_key(v.signer, v.bls_key.public_key, v.bls_key.proof_of_possession(v.address))
    resolution = network.validators[0].review(spec, bundle).vote.resolution
    stranger = Resolution(**{**resolution.to_json(), "outcome": 1 - resolution.outcome})
    with pytest.raises(OracleError, match="did not sign these resolutions itself"):
        network.validators[0].sign_batch_bls([stranger])
    for v in network.validators[1:]:
        assert v.review(spec, bundle).vote.resolution == resolution
    keys = bls.keys_of_key_set(network.dep.bls_key_set())
    agg = BlsAggregator(network.dep.domain, network.dep.validators(), keys, network.t,
                        lambda root, count, bitmap, sig: network.settler.root_bls(root, count, bitmap, sig))
    subs = [agg.add(v.sign_batch_bls([resolution])) for v in network.validators]
    assert sum(s is not None for s in subs) == 1
    root = leaf(resolution)
    network.dep.claim(network.submitter, resolution, merkle_proof([root], 0), root)
    assert network.dep.resolution_of(spec.market_id).resolution == resolution


def test_aggregator_follows_a_validator_set_change(network, spec, bundle):
    """After the set changes, votes of members who left stop counting and the new threshold holds."""
    network.register(spec)
    submitted = []
    members = [k.address for k in network.keys]
    agg = Aggregator(network.dep.domain, members, network.t,
                     lambda r, sigs: submitted.append(sigs) or Settlement(SETTLED, "0xtx"))
    votes = [v.review(spec, bundle).vote for v in network.validators]
    assert agg.add(votes[0]) is None and agg.add(votes[1]) is None
    agg.set_members(members[1:], 3)  # member 0 left; t = 3 of the remaining 3
    assert agg.add(votes[2]) is None  # 2 countable votes, not 3
    with pytest.raises(VoteRejected, match="not in the validator set"):
        agg.add(votes[0])
    sub = agg.add(votes[3])
    assert sub is not None and set(sub.signers) == set(members[1:]) and len(submitted) == 1
