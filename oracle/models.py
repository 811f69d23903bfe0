"""Public model records: what a validator needs to check a model's proofs.

A model id is keccak256 over the hashes of the verifying key and the circuit
settings, so a bundle cannot claim one model and carry another's proof. The
record also pins the SRS file by hash: every validator loads the same one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from eth_utils import keccak

from .canonical import to_bytes32
from .errors import ArtifactError, NotFound
from .store import ArtifactStore

MODEL_RECORD_VERSION = 2
MODEL_ID_DOMAIN = keccak(text="ai-oracle/model/v1")


OUTPUT_TRANSFORMS = ("identity", "sigmoid")


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


def model_id_of(circuits: "tuple[Circuit, ...] | list[Circuit]") -> str:
    """keccak256(domain || for each circuit by batch: batch || keccak(vk) || keccak(settings) [|| params hash])."""
    # With hashed parameters the vk does not bind the weights: their commitment must be in the id.
    body = b"".join(c.batch.to_bytes(4, "big") + to_bytes32(c.vk) + to_bytes32(c.settings)
                    + (bytes.fromhex(c.params_hash) if c.params_hash else b"")
                    for c in sorted(circuits, key=lambda c: c.batch))
    return "0x" + keccak(MODEL_ID_DOMAIN + body).hex()


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
    def from_json(cls, d: dict[str, Any]) -> "ModelRecord":
        d = dict(d)
        d["circuits"] = tuple(Circuit(**c) for c in d["circuits"])
        return cls(**d)

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
    """keccak256(abi.encode(uint256[] inputs)) of one market's input field elements."""
    from eth_abi import encode as abi_encode

    values = [int.from_bytes(bytes.fromhex(f), "little") for f in felts]
    return "0x" + keccak(abi_encode(["uint256[]"], [values])).hex()


def publish_model(store: ArtifactStore, record: ModelRecord) -> str:
    if model_id_of(record.circuits) != record.model_id:
        raise ArtifactError(f"model record {record.name}: model id does not match its circuits")
    rid = store.put_json(record.to_json())
    store.set_ref("model", record.model_id, rid)
    return rid


def load_model(store: ArtifactStore, model_id: str) -> ModelRecord:
    try:
        rid = store.ref("model", model_id)
    except NotFound:
        raise NotFound(f"model {model_id} is not registered in the artifact store") from None
    record = ModelRecord.from_json(store.get_json(rid))
    if record.model_id != model_id or model_id_of(record.circuits) != model_id:
        raise ArtifactError(f"model record for {model_id} does not hash to that id")
    return record


def list_models(store: ArtifactStore) -> list[ModelRecord]:
    return [ModelRecord.from_json(store.get_json(rid)) for rid in store.refs("model").values()]


def srs_label(kind: str) -> str:
    """How people should read an SRS kind: a locally generated SRS is for development only."""
    return "dev (local gen_srs: NOT for production)" if kind == "dev" else kind
