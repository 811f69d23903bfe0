"""A model id binds the whole model record, and the SRS is pinned by the validator, not by a peer.

The attacks (security review, issue 12 item 1): a peer serves the record of a registered model id
with `output_scale + 3` (an honest validator read a forecaster's YES at 0.867 as NO at 0.558; a
resolver's evidence difference would read 8x smaller), with `output_transform: identity` (it signed
1.0), or naming another SRS (one whose secret the prover knows forges KZG openings). The real-proof
tests below use the resolver that settles markets from evidence. Item 17: a malformed record from one peer is that peer's failure, and
the next peer is asked.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import RawServer

from oracle.canonical import keccak_hex
from oracle.errors import ArtifactError, CheckFailed
from oracle.models import Circuit, ModelRecord, load_model, model_id_of, publish_model, trust_srs, trusted_srs
from oracle.store import ArtifactStore


FILES = {name: f"{name} bytes".encode() for name in ("vk", "settings", "srs", "other-srs")}
IDS = {name: keccak_hex(data) for name, data in FILES.items()}


def _record(**changes) -> ModelRecord:
    circuit = Circuit(batch=1, vk=IDS["vk"], settings=IDS["settings"], srs=IDS["srs"], logrows=15,
                      input_scale=13, output_scale=13)
    fields = dict(name="m", family="mlp", circuits=(circuit,), srs_kind="dev", n_inputs=17, n_outputs=1,
                  input_visibility="public", param_visibility="fixed", output_transform="sigmoid", recipe="btc-v1")
    return ModelRecord.create(**{**fields, **changes})


def _routes(record_doc, *, body: bytes | None = None) -> dict[str, tuple[int, bytes]]:
    mid = _record().model_id
    routes = {f"/v1/artifacts/{aid}": (200, FILES[name]) for name, aid in IDS.items()}
    routes[f"/v1/models/{mid}"] = (200, body if body is not None else json.dumps(record_doc).encode())
    return routes


# every field a validator reads, each changed after the id was made
TAMPERED = {
    "output_scale": lambda d: d["circuits"][0].update(output_scale=d["circuits"][0]["output_scale"] + 3),
    "input_scale": lambda d: d["circuits"][0].update(input_scale=12),
    "logrows": lambda d: d["circuits"][0].update(logrows=16),
    "srs": lambda d: d["circuits"][0].update(srs=IDS["other-srs"]),
    "output_transform": lambda d: d.update(output_transform="identity"),
    "recipe": lambda d: d.update(recipe="other-recipe"),
    "input_visibility": lambda d: d.update(input_visibility="hashed"),
    "n_inputs": lambda d: d.update(n_inputs=16),
    "n_outputs": lambda d: d.update(n_outputs=2),
    "srs_kind": lambda d: d.update(srs_kind="public"),
    "name": lambda d: d.update(name="honest-looking"),
}


def _tampered(field: str) -> dict:
    doc = json.loads(json.dumps(_record().to_json()))
    TAMPERED[field](doc)
    return doc


def test_every_record_field_is_in_the_id():
    honest = _record()
    assert ModelRecord.from_json(json.loads(json.dumps(honest.to_json()))) == honest
    ids = {honest.model_id}
    for field in TAMPERED:
        doc = _tampered(field)
        with pytest.raises(ArtifactError, match="field 'model_id'"):
            ModelRecord.from_json(doc)
        remade = dict(doc)
        remade.pop("model_id")
        ids.add(model_id_of(remade))
    assert len(ids) == len(TAMPERED) + 1  # no two contents share an id


@pytest.mark.parametrize("field", sorted(TAMPERED))
def test_ensure_model_refuses_a_tampered_record(tmp_path, field):
    from network.transport import ensure_model

    store = ArtifactStore(tmp_path / "store")
    mid = _record().model_id
    with RawServer(_routes(_tampered(field))) as peer:
        with pytest.raises(ArtifactError, match=f"model {mid}: not obtained.*field 'model_id'"):
            ensure_model([peer.url], mid, store)
    assert store.refs("model") == {}


def test_a_poisoned_store_record_does_not_load(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    honest = _record()
    store.set_ref("model", honest.model_id, store.put_json(_tampered("output_scale")))
    with pytest.raises(ArtifactError, match="field 'model_id'"):
        load_model(store, honest.model_id)
    with pytest.raises(ArtifactError, match="field 'model_id'"):
        publish_model(store, replace(honest, recipe="other-recipe"))


@pytest.mark.parametrize("garbage", [
    b"<html>not json</html>",
    b"[1, 2, 3]",
    b'{"model_id": 7}',
    json.dumps({**_record().to_json(), "circuits": "none"}).encode(),
    json.dumps({**_record().to_json(), "n_inputs": "17"}).encode(),
    json.dumps({**_record().to_json(), "circuits": [{"batch": 1}]}).encode(),
    json.dumps({**_record().to_json(), "unbound": True}).encode(),
    b"\xff\xfe",
])
def test_malformed_record_from_one_peer_tries_the_next(tmp_path, garbage):
    from network.transport import ensure_model

    store = ArtifactStore(tmp_path / "store")
    honest = _record()
    with RawServer(_routes(None, body=garbage)) as bad, RawServer(_routes(honest.to_json())) as good:
        ensure_model([bad.url, good.url], honest.model_id, store)
        assert load_model(store, honest.model_id) == honest
        store2 = ArtifactStore(tmp_path / "store2")
        with pytest.raises(ArtifactError, match=f"{bad.url}: "):
            ensure_model([bad.url], honest.model_id, store2)


def test_a_stale_record_under_an_id_is_fetched_again(tmp_path):
    from network.transport import ensure_model

    store = ArtifactStore(tmp_path / "store")
    honest = _record()
    old = {**honest.to_json(), "version": 2}  # an older id scheme's record left in a developer's store
    store.set_ref("model", honest.model_id, store.put_json(old))
    with RawServer(_routes(honest.to_json())) as peer:
        ensure_model([peer.url], honest.model_id, store)
    assert load_model(store, honest.model_id) == honest


def test_trusted_srs_comes_from_this_store_only(tmp_path):
    from network.transport import ensure_model

    store = ArtifactStore(tmp_path / "store")
    with RawServer(_routes(_record().to_json())) as peer:
        ensure_model([peer.url], _record().model_id, store)
    assert trusted_srs(store) == frozenset()  # fetching a record trusts nothing
    trust_srs(store, [IDS["srs"]], source="config")
    trust_srs(store, [IDS["other-srs"]], source="compiled-x")
    assert trusted_srs(store) == {IDS["srs"], IDS["other-srs"]}
    trust_srs(store, [], source="config")  # a configuration change replaces its own set only
    assert trusted_srs(store) == {IDS["other-srs"]}
    with pytest.raises(ArtifactError, match="trusted_srs"):
        trust_srs(store, ["0xnothex"], source="config")


# ------------------------------------------------------------- with a real proof
def _light_store(path, store, record) -> ArtifactStore:
    """A validator's own store: the public record and its files, nothing trusted yet."""
    light = ArtifactStore(path)
    for c in record.circuits:
        for artifact in (c.vk, c.settings, c.srs):
            light.put(store.get(artifact))
    publish_model(light, record)
    return light


@pytest.mark.slow
def test_validator_refuses_a_proof_under_an_untrusted_srs(store, circuit, spec, bundle, make_network, tmp_path):
    from markets.feeds import load_source
    from validators.validator import Validator

    record = circuit.record
    srs = record.circuit(1).srs
    assert srs in trusted_srs(store)  # the store that compiled the model trusts its SRS
    light = _light_store(tmp_path / "validator-store", store, record)
    net = make_network()
    net.register(spec)
    lone = Validator(net.keys[0], light, net.dep.domain, load_source, registry=net.dep)
    review = lone.review(spec, bundle)
    assert not review.signed and review.refusal.check == "srs", review.refusal
    assert srs in review.refusal.reason and "not trusted" in review.refusal.reason
    trust_srs(light, [srs], source="config")  # the operator configures the SRS it trusts
    review = lone.review(spec, bundle)
    assert review.signed, review.refusal


@pytest.mark.slow
def test_verifier_refuses_a_swapped_srs_and_inconsistent_scales(store, circuit, bundle, tmp_path):
    from validators.verifier import ProofVerifier

    honest = circuit.record.circuit(1)
    swapped = replace(honest, srs=store.put(store.get(honest.srs) + b"\0"))  # any other SRS file
    verifier = ProofVerifier(store, trusted=[honest.srs])
    verifier.verify(bundle, honest)
    with pytest.raises(CheckFailed) as e:
        verifier.verify(bundle, swapped)  # even right after the honest one was accepted
    assert e.value.check == "srs"
    # a record re-made under its own new id, with scales its settings do not have
    for change in ({"output_scale": honest.output_scale + 3}, {"input_scale": honest.input_scale - 1},
                   {"logrows": honest.logrows + 1}):
        with pytest.raises(CheckFailed) as e:
            verifier.verify(bundle, replace(honest, **change))
        assert e.value.check == "model-artifacts" and next(iter(change)) in e.value.reason
    with pytest.raises(CheckFailed) as e:
        ProofVerifier(ArtifactStore(tmp_path / "empty")).verify(bundle, honest)
    assert e.value.check == "srs" and "none configured" in e.value.reason


def test_an_old_scheme_record_left_in_a_store_is_named_not_fatal(tmp_path):
    """A developer's store keeps records made before ids bound the whole record: listing skips them,
    loading one says why, and a record made now sits beside them."""
    from oracle.models import list_models

    store = ArtifactStore(tmp_path / "store")
    old = {**_record().to_json(), "version": 2, "model_id": "0x" + "ab" * 32}
    store.set_ref("model", old["model_id"], store.put_json(old))
    publish_model(store, _record())
    assert [r.model_id for r in list_models(store)] == [_record().model_id]
    with pytest.raises(ArtifactError, match="field 'version'.*older record"):
        load_model(store, old["model_id"])
