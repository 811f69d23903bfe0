"""Trustless settlement: a market that requires zk resolves only with a proof that its resolver's
on-chain ezkl verifier accepts over the evidence, and only to the outcome the market's shape gives
for the proven output, even if a quorum signs something else. Its forecasts post only with a proof
of its forecaster's. On both chains."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle.bundle import felt_to_uint
from oracle.canonical import keccak_hex
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def verifier_artifact(circuit, store):
    """The resolver's Solidity verifier (the model a zk market settles with)."""
    from provers.evm import evm_verifier

    _, art = evm_verifier(circuit, store)
    return art


@pytest.fixture(scope="session")
def forecaster_verifier(forecaster, store):
    """The reference forecaster's Solidity verifier (the model a zk forecast market posts with)."""
    from provers.evm import evm_verifier

    _, art = evm_verifier(forecaster, store)
    return art


@pytest.fixture(scope="session")
def forecast_spec(circuit, forecaster):
    from conftest import forecast_doc
    from markets.spec import MarketSpec

    return MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))


@pytest.fixture(scope="session")
def forecast_bundle(forecast_prover, forecast_spec, load):
    """The forecaster's real proof of round 0 of `forecast_spec`."""
    return forecast_prover.prove(forecast_spec, load, round=0)


def _register_verifier(net, model, artifact) -> None:
    verifier = net.chain.deploy(net.deployer, artifact)
    c = model.record.circuit(1)
    net.dep.register_verifier(net.deployer, model.model_id, verifier.address, c.vk, model.record.n_inputs)


def _quorum(net, votes) -> list[bytes]:
    assert all(votes)
    return [v.signature for v in sorted(votes, key=lambda v: int(v.validator, 16))][: net.t]


@pytest.fixture
def zk(chain_network, verifier_artifact, circuit, spec, bundle):
    net = chain_network
    _register_verifier(net, circuit, verifier_artifact)
    net.register(spec, advance=False)
    net.dep.require_zk(net.creator, spec.market_id, _zk_rule(spec))  # while trading is open
    net.advance_to(spec.resolve_at_unix)
    votes = [v.review(spec, bundle).vote for v in net.validators]
    return net, votes[0].resolution, _quorum(net, votes)


def _zk_rule(spec):
    """The rule the contract enforces: the market's shape over the resolver's output (x - c, ticks)."""
    return spec.zk_rule().as_tuple()


def _instances(bundle):
    return [felt_to_uint(f) for f in bundle.instances[0]]


def test_verifier_fits_the_contract_limit(verifier_artifact):
    assert (len(verifier_artifact["deployedBytecode"]) - 2) // 2 < 24_576


def test_zk_market_settles_only_with_a_valid_proof(zk, bundle, spec, circuit):
    net, resolution, sigs = zk
    with pytest.raises(ChainError, match="ZkProofRequired"):
        net.dep.resolve(net.submitter, resolution, sigs)
    wrong_inputs = _instances(bundle)
    wrong_inputs[0] += 1
    with pytest.raises(ChainError, match="InputsMismatch"):
        net.dep.resolve_zk(net.submitter, resolution, sigs, bundle.proof_bytes, wrong_inputs)
    receipt = net.dep.resolve_zk(net.submitter, resolution, sigs, bundle.proof_bytes, _instances(bundle))
    assert net.dep.resolution_of(spec.market_id).resolution == resolution
    # the evidence's median close 3,994.25 is below 4,000: NO, and that is what the proof gives on-chain
    assert resolution.outcome == spec.outcomes.index("NO") and resolution.model_id == spec.resolver
    output = _instances(bundle)[circuit.record.n_inputs]  # the proven x - c, in ticks
    assert net.dep.oracle.functions.provenOutcome(spec.market_id, output).call() == resolution.outcome
    assert 300_000 < receipt["gasUsed"] < 1_500_000  # most of it is the pairing-based verifier


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


def test_only_the_creator_asks_for_zk_and_only_for_a_verified_model(chain_network, spec):
    net = chain_network
    net.register(spec, advance=False)
    with pytest.raises(ChainError, match="NotCreator"):
        net.dep.require_zk(net.bob, spec.market_id, _zk_rule(spec))
    with pytest.raises(ChainError, match="UnknownModel"):
        net.dep.require_zk(net.creator, spec.market_id, _zk_rule(spec))


def test_a_zk_market_takes_forecasts_only_with_a_proof(chain_network, verifier_artifact, forecaster_verifier,
                                                      circuit, forecaster, forecast_spec, forecast_bundle, bundle):
    """Issue 12 item 18: on a zk-required market a forecast round needs a proof too, here the
    forecaster's; a quorum alone posts nothing, and the resolver's valid proof is no forecast."""
    from oracle.eip712 import Resolution
    from oracle.models import inputs_hash

    net = chain_network
    _register_verifier(net, circuit, verifier_artifact)
    _register_verifier(net, forecaster, forecaster_verifier)
    market_id = net.register(forecast_spec, advance=False)
    net.dep.require_zk(net.creator, market_id, _zk_rule(forecast_spec))
    net.advance_to(forecast_spec.round(0).due_at)
    forecast = net.validators[0].review(forecast_spec, forecast_bundle).vote.resolution
    assert not forecast.final and forecast.model_id == forecaster.model_id
    sigs = _quorum(net, [v.review(forecast_spec, forecast_bundle).vote for v in net.validators])
    with pytest.raises(ChainError) as e:
        net.dep.post_forecast(net.submitter, forecast, sigs)
    assert e.value.error == "ZkProofRequired"
    raw = bytearray(forecast_bundle.proof_bytes)
    raw[200] ^= 1
    with pytest.raises(ChainError, match="ProofHashMismatch"):
        net.dep.post_forecast_zk(net.submitter, forecast, sigs, bytes(raw), _instances(forecast_bundle))
    # a quorum signs the resolver's (valid) proof as this market's forecast: not the forecaster's model
    as_resolver = Resolution(market_id, 0, 0, 900_000, circuit.model_id,
                             inputs_hash(list(bundle.instances[0][: circuit.record.n_inputs])), bundle.proof_hash,
                             final=False)
    with pytest.raises(ChainError) as e:
        net.dep.post_forecast_zk(net.submitter, as_resolver, [net.sign(k, as_resolver) for k in net.keys[: net.t]],
                                 bundle.proof_bytes, _instances(bundle))
    assert e.value.error == "ModelMismatch"
    assert net.dep.forecast_of(market_id, 0) is None
    net.dep.post_forecast_zk(net.submitter, forecast, sigs, forecast_bundle.proof_bytes, _instances(forecast_bundle))
    assert net.dep.forecast_of(market_id, forecast.round) == forecast.probability_ppm


def test_a_quorum_cannot_flip_the_outcome_of_a_zk_market(zk, bundle):
    """Issue 12 item 3: with the honest proof, a quorum-signed resolution naming another outcome
    than the proof's output gives under the market's rule is refused on-chain."""
    net, resolution, _ = zk
    signers = sorted(net.keys[: net.t], key=lambda k: int(k.address, 16))
    for outcome in (1 - resolution.outcome, INVALID_OUTCOME):
        flipped = replace(resolution, outcome=outcome)
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
    _register_verifier(net, circuit, verifier_artifact)
    net.register(spec, advance=False)
    invalid_from, above_from, above, below, pinned, value = _zk_rule(spec)
    for malformed in ((above_from + 1, above_from, above, below, pinned, value),
                      (invalid_from, above_from, above, below, circuit.record.n_inputs, value)):
        with pytest.raises(ChainError) as e:  # malformed rules are refused outright
            net.dep.require_zk(net.creator, spec.market_id, malformed)
        assert e.value.error == "BadZkRule"
    net.dep.require_zk(net.creator, spec.market_id, (invalid_from, above_from, below, above, pinned, value))
    net.advance_to(spec.resolve_at_unix)
    review = net.validators[0].review(spec, bundle)
    assert review.vote is None and review.refusal.check == "rule" and "zk rule" in review.refusal.reason


def test_a_quorum_cannot_settle_a_zk_market_with_a_proof_over_another_constant(zk, prover, load, circuit, spec,
                                                                             bundle):
    """Issue 12 item 3: a valid resolver proof over another threshold (here $3,000, the same day's
    same evidence: YES) does not settle the $4,000 market (NO), even signed by a quorum: the
    market's constant is pinned among the proof's inputs on-chain."""
    from markets.spec import MarketSpec
    from oracle.models import inputs_hash

    from conftest import spec_doc

    net, resolution, _ = zk
    other = prover.prove(MarketSpec.parse(spec_doc(circuit.model_id, value=3000)), load)
    n = circuit.record.n_inputs
    assert other.instances[0][0] == bundle.instances[0][0]  # the same observation
    assert _instances(other)[1] != net.dep.zk_rule_of(spec.market_id)[5] == _instances(bundle)[1]
    forged = replace(resolution, outcome=spec.outcomes.index("YES"), probability_ppm=1_000_000,
                     inputs_hash=inputs_hash(list(other.instances[0][:n])), proof_hash=other.proof_hash)
    signers = sorted(net.keys[: net.t], key=lambda k: int(k.address, 16))
    with pytest.raises(ChainError) as e:
        net.dep.resolve_zk(net.submitter, forged, [net.sign(k, forged) for k in signers], other.proof_bytes,
                           _instances(other))
    assert e.value.error == "InputNotPinned"
    assert not net.dep.is_resolved(resolution.market_id)


def test_a_creator_cannot_require_zk_once_trading_has_closed(chain_network, verifier_artifact, circuit, spec):
    """Review: after the close (the outcome known or knowable), a creator requiring zk with a rule no
    honest proof meets would void the market (no validator signs, refunds after 30 days) and escape
    a bet or a cover it sees going against it. requireZk is refused from closeAt."""
    net = chain_network
    _register_verifier(net, circuit, verifier_artifact)
    net.register(spec, advance=False)
    net.advance_to(spec.close_at_unix)
    with pytest.raises(ChainError) as e:
        net.dep.require_zk(net.creator, spec.market_id, _zk_rule(spec))
    assert e.value.error == "ZkTooLate"
    assert not net.dep.zk_required(spec.market_id)
