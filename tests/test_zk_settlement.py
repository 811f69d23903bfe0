"""Trustless settlement: a market that requires zk resolves only with a proof that its model's
on-chain ezkl verifier accepts, even if a quorum signs something else. On both chains."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle.bundle import felt_to_uint
from oracle.canonical import keccak_hex
from oracle.errors import ChainError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def verifier_artifact(circuit, store):
    from provers.evm import evm_verifier

    _, art = evm_verifier(circuit, store)
    return art


@pytest.fixture
def zk(chain_network, verifier_artifact, circuit, spec, bundle):
    net = chain_network
    verifier = net.chain.deploy(net.deployer, verifier_artifact)
    c = circuit.record.circuit(1)
    net.dep.register_verifier(net.deployer, circuit.model_id, verifier.address, c.vk, circuit.record.n_inputs)
    net.register(spec)
    net.dep.require_zk(net.creator, spec.market_id, _zk_rule(spec, circuit))
    votes = [v.review(spec, bundle).vote for v in net.validators]
    assert all(votes)
    sigs = [v.signature for v in sorted(votes, key=lambda v: int(v.validator, 16))][: net.t]
    return net, votes[0].resolution, sigs


def _zk_rule(spec, circuit):
    return spec.rule.zk_rule(spec.outcomes, circuit.record.circuit(1).output_scale,
                             circuit.record.output_transform).as_tuple()


def _instances(bundle):
    return [felt_to_uint(f) for f in bundle.instances[0]]


def test_verifier_fits_the_contract_limit(verifier_artifact):
    assert (len(verifier_artifact["deployedBytecode"]) - 2) // 2 < 24_576


def test_zk_market_settles_only_with_a_valid_proof(zk, bundle, spec):
    net, resolution, sigs = zk
    with pytest.raises(ChainError, match="ZkProofRequired"):
        net.dep.resolve(net.submitter, resolution, sigs)
    wrong_inputs = _instances(bundle)
    wrong_inputs[0] += 1
    with pytest.raises(ChainError, match="InputsMismatch"):
        net.dep.resolve_zk(net.submitter, resolution, sigs, bundle.proof_bytes, wrong_inputs)
    receipt = net.dep.resolve_zk(net.submitter, resolution, sigs, bundle.proof_bytes, _instances(bundle))
    assert net.dep.resolution_of(spec.market_id).resolution == resolution
    assert 400_000 < receipt["gasUsed"] < 1_500_000  # ~550k of it is the pairing-based verifier


def test_a_quorum_cannot_settle_a_zk_market_with_a_bad_proof(zk, bundle):
    net, resolution, _ = zk
    raw = bytearray(bundle.proof_bytes)
    raw[200] ^= 1
    # a malicious quorum signs the tampered proof's hash: the verifier still refuses it
    forged = replace(resolution, proof_hash=keccak_hex(bytes(raw)))
    sigs = sorted(net.keys[: net.t], key=lambda k: int(k.address, 16))
    sigs = [net.sign(k, forged) for k in sigs]
    with pytest.raises(ChainError, match="ProofRejected"):
        net.dep.resolve_zk(net.submitter, forged, sigs, bytes(raw), _instances(bundle))
    with pytest.raises(ChainError, match="ProofHashMismatch"):
        net.dep.resolve_zk(net.submitter, resolution, sigs, bytes(raw), _instances(bundle))
    assert not net.dep.is_resolved(resolution.market_id)


def test_only_the_creator_asks_for_zk_and_only_for_a_verified_model(chain_network, spec, circuit):
    net = chain_network
    net.register(spec)
    with pytest.raises(ChainError, match="NotCreator"):
        net.dep.require_zk(net.bob, spec.market_id, _zk_rule(spec, circuit))
    with pytest.raises(ChainError, match="UnknownModel"):
        net.dep.require_zk(net.creator, spec.market_id, _zk_rule(spec, circuit))


def test_a_zk_market_takes_forecasts_only_with_a_proof(zk, bundle):
    """Issue 12 item 18: on a zk-required market a forecast round needs the same proof as the
    resolution; a quorum alone posts nothing."""
    from oracle.eip712 import signable

    net, resolution, _ = zk
    forecast = replace(resolution, final=False)  # a forecast round over the same proven output
    signers = sorted(net.keys[: net.t], key=lambda k: int(k.address, 16))
    sigs = [k.sign_message(signable(net.dep.domain, forecast)) for k in signers]
    with pytest.raises(ChainError) as e:
        net.dep.post_forecast(net.submitter, forecast, sigs)
    assert e.value.error == "ZkProofRequired"
    raw = bytearray(bundle.proof_bytes)
    raw[200] ^= 1
    with pytest.raises(ChainError, match="ProofHashMismatch"):
        net.dep.post_forecast_zk(net.submitter, forecast, sigs, bytes(raw), _instances(bundle))
    net.dep.post_forecast_zk(net.submitter, forecast, sigs, bundle.proof_bytes, _instances(bundle))
    assert net.dep.forecast_of(resolution.market_id, forecast.round) == forecast.probability_ppm


def test_a_quorum_cannot_flip_the_outcome_of_a_zk_market(zk, bundle):
    """Issue 12 item 3: with the honest proof, a quorum-signed resolution naming another outcome
    than the proof's output gives under the market's rule is refused on-chain."""
    net, resolution, _ = zk
    flipped = replace(resolution, outcome=1 - resolution.outcome)
    signers = sorted(net.keys[: net.t], key=lambda k: int(k.address, 16))
    sigs = [net.sign(k, flipped) for k in signers]
    with pytest.raises(ChainError) as e:
        net.dep.resolve_zk(net.submitter, flipped, sigs, bundle.proof_bytes, _instances(bundle))
    assert e.value.error == "OutcomeNotProven"
    assert not net.dep.is_resolved(resolution.market_id)


def test_validators_refuse_a_zk_market_whose_onchain_rule_is_not_its_spec(chain_network, verifier_artifact,
                                                                         circuit, spec, bundle):
    """A creator who sets another rule on-chain than the spec's (here: outcomes swapped) gets no
    signature: the contract would otherwise enforce the wrong rule."""
    net = chain_network
    verifier = net.chain.deploy(net.deployer, verifier_artifact)
    c = circuit.record.circuit(1)
    net.dep.register_verifier(net.deployer, circuit.model_id, verifier.address, c.vk, circuit.record.n_inputs)
    net.register(spec)
    invalid_from, above_from, above, below = _zk_rule(spec, circuit)
    with pytest.raises(ChainError) as e:  # malformed rules are refused outright
        net.dep.require_zk(net.creator, spec.market_id, (above_from + 1, above_from, above, below))
    assert e.value.error == "BadZkRule"
    net.dep.require_zk(net.creator, spec.market_id, (invalid_from, above_from, below, above))
    review = net.validators[0].review(spec, bundle)
    assert review.vote is None and review.refusal.check == "rule" and "zk rule" in review.refusal.reason
