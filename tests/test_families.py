"""One suite for every model kind: compile, prove, verify, refuse tampering. Then batching,
hashed inputs and hashed (private) parameters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle import config
from oracle.signer import LocalSigner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session", params=["mlp", "conv1d", "trees"])
def family_prover(request, store):
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    circuit = reference_circuit(store, config.cache_dir(), family=request.param)
    return request.param, EzklProver(circuit, LocalSigner.create(), store=store)


RESOLVER = "0x" + "ee" * 32  # forecast rounds are answered by the forecaster: the resolver is never asked here


def _spec(model_id, as_of="2019-03-17", at="2019-03-23", value=4000):
    """A forecast market whose forecaster is `model_id`: its round 0 is the forecaster's proof."""
    from conftest import forecast_doc
    from markets.spec import MarketSpec

    return MarketSpec.parse(forecast_doc(RESOLVER, model_id, as_of=as_of, at=at, value=value))


def test_every_family_proves_and_verifies(family_prover, make_network, frame):
    family, prover = family_prover
    assert prover.circuit.record.family == family
    net = make_network()
    spec = _spec(prover.circuit.model_id)
    net.register(spec)
    bundle = prover.prove(spec, frame)
    reviews = [v.review(spec, bundle) for v in net.validators]
    assert all(r.signed for r in reviews), [r.refusal for r in reviews]
    raw = bytearray(bundle.proof_bytes)
    raw[100] ^= 1
    bad = replace(bundle, proof="0x" + raw.hex()).signed_by(prover.signer)
    assert {v.review(spec, bad).refusal.check for v in net.validators} == {"proof"}


@pytest.fixture(scope="session")
def batch_prover(store):
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    circuit = reference_circuit(store, config.cache_dir(), batches=(1, 4))
    return EzklProver(circuit, LocalSigner.create(), store=store)


def _three_registered(net, model_id):
    specs = [_spec(model_id, *q) for q in (("2019-03-17", "2019-03-23", 4000), ("2019-03-18", "2019-03-24", 3900),
                                           ("2019-03-16", "2019-03-22", 4100))]
    for s in specs:  # all before their days (a chain's clock only moves forward), then time passes
        net.register(s, advance=False)
    net.advance_to(max(s.round(0).due_at for s in specs))  # forecasts post while the markets live
    return specs


def test_batch_proof_resolves_each_market(batch_prover, make_network, frame):
    from oracle.pipeline import run_round

    net = make_network()
    specs = _three_registered(net, batch_prover.circuit.model_id)
    bundles = batch_prover.prove_batch([(s, 0) for s in specs], lambda s: frame)
    assert [b.batch_size for b in bundles] == [4, 4, 4] and [b.batch_row for b in bundles] == [0, 1, 2]
    assert len({b.proof_hash for b in bundles}) == 1  # one proof for the batch
    for spec, bundle in zip(specs, bundles):
        report = run_round(spec, frame, batch_prover, net.validators, net.aggregator, bundle=bundle)
        assert report.signed == 4
        single = batch_prover.job(spec, frame)
        posted = report.submission.resolution
        assert not posted.final and posted.model_id == spec.forecaster
        assert net.dep.forecast_of(spec.market_id, 0) == posted.probability_ppm  # a forecast, never a settlement
        assert not net.dep.is_resolved(spec.market_id)
        assert single.features  # the market's own features, recomputed by every validator
    # each validator ran ezkl verify once for the three markets
    assert [v.verifier.verifications for v in net.validators] == [1, 1, 1, 1]


def test_batch_with_one_markets_inputs_swapped_is_refused_for_that_market(batch_prover, make_network, frame):
    from provers.prover import Job

    net = make_network()
    specs = _three_registered(net, batch_prover.circuit.model_id)
    jobs = [batch_prover.job(s, frame) for s in specs]
    # market 1's row carries market 2's features (a valid proof of the wrong numbers)
    jobs[1] = Job(jobs[1].market_id, 0, jobs[2].features, jobs[1].data_snapshot)
    bundles = batch_prover.prove_jobs(jobs)
    verdicts = [[v.review(s, b) for v in net.validators] for s, b in zip(specs, bundles)]
    assert all(r.signed for r in verdicts[0]) and all(r.signed for r in verdicts[2])
    assert {r.refusal.check for r in verdicts[1]} == {"inputs"}


def test_hashed_inputs_verify_and_a_wrong_preimage_is_refused(store, make_network, frame):
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    circuit = reference_circuit(store, config.cache_dir(), input_visibility="hashed")
    assert circuit.record.input_visibility == "hashed"
    prover = EzklProver(circuit, LocalSigner.create(), store=store)
    net = make_network()
    spec = _spec(circuit.model_id)
    net.register(spec)
    bundle = prover.prove(spec, frame)
    assert len(bundle.instances[0]) == 2  # the Poseidon commitment and the output
    assert all(v.review(spec, bundle).signed for v in net.validators)
    pre = list(bundle.input_preimage)
    pre[3] = pre[4]
    wrong = replace(bundle, input_preimage=tuple(pre)).signed_by(prover.signer)
    assert {v.review(spec, wrong).refusal.check for v in net.validators} == {"instances"}


def test_hashed_parameters_verify_without_the_weights(store, make_network, frame, tmp_path):
    """A validator with only the public record (vk, settings, SRS, params commitment) verifies."""
    from oracle.models import load_model, publish_model, trust_srs
    from oracle.store import ArtifactStore
    from provers.prover import EzklProver
    from provers.reference import reference_circuit
    from validators.validator import Validator
    from markets.feeds import load_source

    circuit = reference_circuit(store, config.cache_dir(), param_visibility="hashed")
    record = circuit.record
    assert record.param_visibility == "hashed" and record.circuit(1).params_hash
    prover = EzklProver(circuit, LocalSigner.create(), store=store)
    spec = _spec(record.model_id)
    bundle = prover.prove(spec, frame)

    light = ArtifactStore(tmp_path / "validator-store")  # no ONNX, no weights, no compiled circuit
    for c in record.circuits:
        for artifact in (c.vk, c.settings, c.srs):
            light.put(store.get(artifact))
    publish_model(light, load_model(store, record.model_id))
    trust_srs(light, [c.srs for c in record.circuits], source="config")  # its operator's trusted SRS
    assert not list(tmp_path.rglob("*.onnx")) and not list(tmp_path.rglob("*.compiled"))
    net = make_network()
    net.register(spec)
    lone = Validator(net.keys[0], light, net.dep.domain, load_source, registry=net.dep)
    review = lone.review(spec, bundle)
    assert review.signed, review.refusal
    # the same architecture with other weights: same circuit shape, another commitment
    import copy

    import torch
    from provers.circuit import compile_model
    from provers.reference import trained
    from markets.features import CLIP
    import numpy as np

    other = copy.deepcopy(trained("mlp").body)
    with torch.no_grad():
        other.correction.net[0].bias.add_(0.25)
    impostor = compile_model(other, name="impostor", family="mlp", n_inputs=17, recipe=record.recipe,
                             calibration=np.zeros((4, 17)), input_bound=CLIP, cache=config.cache_dir(),
                             store=store, param_visibility="hashed", output_transform="sigmoid")
    assert impostor.record.circuit(1).params_hash != record.circuit(1).params_hash
    fake = EzklProver(impostor, prover.signer).prove_features(
        spec.market_id, prover.job(spec, frame).features, data_snapshot=bundle.data_snapshot)
    claimed = replace(fake, model_id=record.model_id).signed_by(prover.signer)
    refusal = lone.review(spec, claimed).refusal
    assert refusal is not None and refusal.check in ("model", "proof")
    if impostor.record.circuit(1).vk == record.circuit(1).vk:
        assert refusal.check == "model"  # same vk: only the weights' commitment tells them apart
