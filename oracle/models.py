"""Public model records: what a validator needs to check a model's proofs.

A model id is keccak256 over a domain tag and the canonical JSON of the whole record (every field
but the id itself): the vk and settings hashes, the SRS hash, scales, logrows, visibilities, sizes,
output transform and recipe. A validator reads all of these, so a record is refused unless it
hashes to its id; a peer cannot hand over the same id with another output scale.

The id binds which SRS the record names, not that the SRS is sound: an SRS whose secret the
prover knows lets it forge KZG openings. Each store therefore keeps its own set of trusted SRS
hashes (`trust_srs`), written only by its operator's configuration or by a compile on this
machine, never by a peer; the verifier refuses any other SRS.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, dataclass, fields
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from .canonical import canonical_json, is_bytes32
from .errors import ArtifactError, NotFound
from .store import ArtifactStore

# 3: the id hashes the whole record (2 hashed only vk, settings and params hash per circuit)
MODEL_RECORD_VERSION = 3
MODEL_ID_DOMAIN = keccak(b"ai-oracle/model/v2")
TRUSTED_SRS = "trusted-srs"  # store refs: who trusts which SRS hashes

OUTPUT_TRANSFORMS = ("identity", "sigmoid")
SRS_KINDS = ("dev", "public")
INPUT_VISIBILITIES = ("public", "hashed")
PARAM_VISIBILITIES = ("fixed", "hashed")


def output_probability(quantized: int, scale: int, transform: str) -> Decimal:
    """The probability a proven output means, computed exactly from its quantized value.

    Decimal arithmetic at 50 digits gives every validator the same bits on any
    machine, so they all sign the same `probabilityPpm`.
    """
    with localcontext() as ctx:
        ctx.prec = 50
        x = Decimal(quantized) / (Decimal(2) ** scale)
        if transform == "identity":
            p = x
        elif transform == "sigmoid":
            p = Decimal(1) / (Decimal(1) + (-x).exp())
        else:
            raise ArtifactError(f"unknown output transform {transform!r}")
        return min(max(p, Decimal(0)), Decimal(1))


@dataclass(frozen=True)
class Circuit:
    """One compiled circuit of a model: a fixed batch size, its vk, settings, SRS and scales."""

    batch: int
    vk: str  # artifact ids in the store
    settings: str
    srs: str
    logrows: int
    input_scale: int
    output_scale: int
    params_hash: str | None = None  # Poseidon commitment to the weights, when parameters are hashed

    def paths(self, store: ArtifactStore) -> tuple[Path, Path, Path]:
        """Verified (vk, settings, srs) paths: each re-hashed against its id."""
        return store.path(self.vk), store.path(self.settings), store.path(self.srs)


def model_id_of(record: "ModelRecord | dict[str, Any]") -> str:
    """keccak256(domain || canonical JSON of the record without `model_id`, circuits by batch).

    The one way a model id is computed: whatever a validator reads from a record is in it (with
    hashed parameters the vk does not bind the weights, so their commitment is in it too).
    """
    content = dict(record.to_json() if isinstance(record, ModelRecord) else record)
    content.pop("model_id", None)
    content["circuits"] = sorted((dict(c) for c in content["circuits"]), key=lambda c: c["batch"])
    return "0x" + keccak(MODEL_ID_DOMAIN + canonical_json(content)).hex()


def _refuse(field: str, reason: str) -> ArtifactError:
    return ArtifactError(f"model record: field '{field}': {reason}")


def _int(d: dict, name: str, where: str, *, least: int | None = None) -> int:
    v = d[name]
    if not isinstance(v, int) or isinstance(v, bool):
        raise _refuse(where + name, f"{v!r} is not an integer")
    if least is not None and v < least:
        raise _refuse(where + name, f"{v} is below {least}")
    return v


def _str(d: dict, name: str, where: str = "", *, one_of: tuple[str, ...] | None = None,
         hash32: bool = False) -> str:
    v = d[name]
    if not isinstance(v, str):
        raise _refuse(where + name, f"{v!r} is not a string")
    if one_of is not None and v not in one_of:
        raise _refuse(where + name, f"{v!r} is not one of {list(one_of)}")
    if hash32 and not (is_bytes32(v) and v == v.lower()):
        raise _refuse(where + name, f"{v!r} is not a lowercase 0x-prefixed 32-byte hash")
    return v


def _keys(d: Any, cls: type, where: str) -> dict:
    if not isinstance(d, dict):
        raise _refuse(where.rstrip(".") or "record", f"expected a JSON object, got {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING}
    missing, unknown = sorted(required - set(d)), sorted(set(d) - names)
    if missing:
        raise _refuse(where + missing[0], "missing")
    if unknown:
        raise _refuse(where + unknown[0], "not a field of a model record (unbound content is refused)")
    return d


@dataclass(frozen=True)
class RowValues:
    """One market's slice of a (possibly batched) proof's public instances."""

    inputs: list[str]  # field elements (from the instances, or from the preimage when hashed)
    outputs: list[str]
    input_commitment: str | None  # Poseidon hash instance when inputs are hashed
    params_commitment: str | None  # Poseidon hash instance when parameters are hashed


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    name: str
    family: str
    circuits: tuple[Circuit, ...]
    srs_kind: str  # "dev" (local gen_srs, not for production) or "public"
    n_inputs: int
    n_outputs: int
    input_visibility: str  # "public" | "hashed"
    param_visibility: str  # "fixed" | "hashed"
    output_transform: str  # "sigmoid": outputs are logits, probability = 1 / (1 + e^-x)
    recipe: str
    version: int = MODEL_RECORD_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def create(cls, **content: Any) -> "ModelRecord":
        """A new record, its id computed from its content (the only way records are made)."""
        content = {"version": MODEL_RECORD_VERSION, **content, "circuits": tuple(
            sorted(content["circuits"], key=lambda c: c.batch))}
        draft = cls(model_id="", **content)
        return cls(model_id=model_id_of(draft), **content)

    @classmethod
    def from_json(cls, d: Any) -> "ModelRecord":
        """Parse and check a record: every field present and well typed, nothing extra, and the
        content hashes to `model_id`. ArtifactError naming the field otherwise."""
        d = dict(_keys(d, cls, ""))
        if d.get("version", MODEL_RECORD_VERSION) != MODEL_RECORD_VERSION:
            raise _refuse("version", f"{d['version']!r}: this oracle reads version {MODEL_RECORD_VERSION} "
                          "(an older record's id does not bind its content: compile or fetch the model again)")
        _str(d, "model_id", hash32=True)
        for name in ("name", "family", "recipe"):
            _str(d, name)
        _str(d, "srs_kind", one_of=SRS_KINDS)
        _str(d, "input_visibility", one_of=INPUT_VISIBILITIES)
        _str(d, "param_visibility", one_of=PARAM_VISIBILITIES)
        _str(d, "output_transform", one_of=OUTPUT_TRANSFORMS)
        _int(d, "n_inputs", "", least=1)
        _int(d, "n_outputs", "", least=1)
        raw = d["circuits"]
        if not isinstance(raw, (list, tuple)) or not raw:
            raise _refuse("circuits", "expected a non-empty list")
        circuits = []
        for i, c in enumerate(raw):
            where = f"circuits[{i}]."
            c = _keys(c, Circuit, where)
            _int(c, "batch", where, least=1)
            for name in ("vk", "settings", "srs"):
                _str(c, name, where, hash32=True)
            _int(c, "logrows", where, least=1)
            _int(c, "input_scale", where)
            _int(c, "output_scale", where)
            ph = c.get("params_hash")
            if ph is not None and not (isinstance(ph, str) and re.fullmatch(r"[0-9a-f]{64}", ph)):
                raise _refuse(where + "params_hash", f"{ph!r} is not 32 bytes of lowercase hex")
            if (ph is not None) != (d["param_visibility"] == "hashed"):
                raise _refuse(where + "params_hash", "present exactly when parameters are hashed")
            circuits.append(Circuit(**c))
        if len({c.batch for c in circuits}) != len(circuits):
            raise _refuse("circuits", "two circuits for the same batch size")
        d["circuits"] = tuple(circuits)
        record = cls(**d)
        computed = model_id_of(record)
        if computed != record.model_id:
            raise _refuse("model_id", f"the record's content hashes to {computed}, not to its id "
                          f"{record.model_id} (a field was changed after the id was made)")
        return record

    @property
    def batches(self) -> list[int]:
        return sorted(c.batch for c in self.circuits)

    def circuit(self, batch: int) -> Circuit:
        for c in self.circuits:
            if c.batch == batch:
                return c
        raise ArtifactError(f"model {self.model_id[:12]}… has no circuit for batch {batch} (has {self.batches})")

    def batch_for(self, n: int) -> int:
        """The smallest compiled batch that fits n markets (the largest if none does)."""
        fitting = [b for b in self.batches if b >= n]
        return min(fitting) if fitting else max(self.batches)

    def instance_count(self, batch: int) -> int:
        ins = 1 if self.input_visibility == "hashed" else batch * self.n_inputs
        return ins + (1 if self.param_visibility == "hashed" else 0) + batch * self.n_outputs

    def row(self, instances: list[str], preimage: list[str], batch: int, row: int) -> RowValues:
        """Split a proof's instances into one row's inputs and outputs (layout checked by ezkl verify)."""
        if len(instances) != self.instance_count(batch):
            raise ArtifactError(f"{len(instances)} instances, a batch-{batch} proof of this model has "
                                f"{self.instance_count(batch)}")
        n, m = self.n_inputs, self.n_outputs
        offset, params = 0, None
        if self.param_visibility == "hashed":  # ezkl puts the weights' commitment first
            params, offset = instances[0], 1
        if self.input_visibility == "hashed":
            commitment, offset = instances[offset], offset + 1
            if len(preimage) != batch * n:
                raise ArtifactError(f"hashed inputs need a {batch * n}-element preimage, got {len(preimage)}")
            inputs = list(preimage[row * n:(row + 1) * n])
        else:
            commitment = None
            inputs = list(instances[offset + row * n:offset + (row + 1) * n])
            offset += batch * n
        return RowValues(inputs, list(instances[offset + row * m: offset + (row + 1) * m]), commitment, params)


def inputs_hash(felts: list[str]) -> str:
    """keccak256(abi.encode(uint256[] inputs)) of one market's input field elements: the head (offset
    0x20), the length, then one 32-byte word per element."""
    values = [int.from_bytes(bytes.fromhex(f), "little") for f in felts]
    words = [32, len(values), *values]
    return "0x" + keccak(b"".join(w.to_bytes(32, "big") for w in words)).hex()


def publish_model(store: ArtifactStore, record: ModelRecord) -> str:
    if model_id_of(record) != record.model_id:
        raise _refuse("model_id", f"record {record.name}: its content does not hash to {record.model_id}")
    rid = store.put_json(record.to_json())
    store.set_ref("model", record.model_id, rid)
    return rid


def load_model(store: ArtifactStore, model_id: str) -> ModelRecord:
    try:
        rid = store.ref("model", model_id)
    except NotFound:
        raise NotFound(f"model {model_id} is not registered in the artifact store") from None
    record = ModelRecord.from_json(store.get_json(rid))  # checks the content against its own id
    if record.model_id != model_id:
        raise _refuse("model_id", f"the record stored for {model_id} is {record.model_id}'s")
    return record


def list_models(store: ArtifactStore) -> list[ModelRecord]:
    """The store's models. Records that no longer load (an older id scheme, tampered) are left out:
    `load_model` on their id says why."""
    out = []
    for rid in store.refs("model").values():
        try:
            out.append(ModelRecord.from_json(store.get_json(rid)))
        except ArtifactError:
            continue
    return out


# ------------------------------------------------------------------- trusted SRS
def trust_srs(store: ArtifactStore, srs_ids: "list[str] | tuple[str, ...] | set[str]", *, source: str) -> None:
    """Record that this store's owner trusts these SRS hashes, under `source` (one source's set is
    replaced as a whole: "config" for a role's configuration, "compiled:<hash>" for a compile on this
    machine). Never called with what a peer says."""
    ids = sorted(set(srs_ids))
    for aid in ids:
        if not (is_bytes32(aid) and aid == aid.lower()):
            raise _refuse("trusted_srs", f"{aid!r} is not a lowercase 0x-prefixed 32-byte hash")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", source) or source.startswith("."):
        raise ArtifactError(f"trusted SRS source {source!r}: letters, digits, _.:- only")
    store.set_ref(TRUSTED_SRS, source, store.put_json({"trusted_srs": ids, "source": source}))


def trusted_srs(store: ArtifactStore) -> frozenset[str]:
    """Every SRS hash this store's owner trusts (union over sources)."""
    out: set[str] = set()
    for source, rid in store.refs(TRUSTED_SRS).items():
        try:
            doc = store.get_json(rid)
        except (ArtifactError, ValueError):
            raise ArtifactError(f"trusted SRS list {source!r} in {store.root} is unreadable") from None
        out.update(doc.get("trusted_srs", []))
    return frozenset(out)


def srs_label(kind: str) -> str:
    """How people should read an SRS kind: a locally generated SRS is for development only."""
    return "dev (local gen_srs: NOT for production)" if kind == "dev" else kind
