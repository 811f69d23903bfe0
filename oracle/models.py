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

MODEL_RECORD_VERSION = 1
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


def model_id_of(vk_id: str, settings_id: str) -> str:
    return "0x" + keccak(MODEL_ID_DOMAIN + to_bytes32(vk_id) + to_bytes32(settings_id)).hex()


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    name: str
    vk: str  # artifact ids in the store
    settings: str
    srs: str
    srs_kind: str  # "dev" (local gen_srs, not for production) or "public"
    logrows: int
    n_inputs: int
    n_outputs: int
    input_scale: int
    output_scale: int
    input_visibility: str
    output_transform: str  # "sigmoid": outputs are logits, probability = 1 / (1 + e^-x)
    recipe: str
    version: int = MODEL_RECORD_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ModelRecord":
        return cls(**d)

    def paths(self, store: ArtifactStore) -> tuple[Path, Path, Path]:
        """Verified (vk, settings, srs) paths: each re-hashed against its id."""
        return store.path(self.vk), store.path(self.settings), store.path(self.srs)


def publish_model(store: ArtifactStore, record: ModelRecord) -> str:
    if model_id_of(record.vk, record.settings) != record.model_id:
        raise ArtifactError(f"model record {record.name}: model id does not match its vk and settings")
    rid = store.put_json(record.to_json())
    store.set_ref("model", record.model_id, rid)
    return rid


def load_model(store: ArtifactStore, model_id: str) -> ModelRecord:
    try:
        rid = store.ref("model", model_id)
    except NotFound:
        raise NotFound(f"model {model_id} is not registered in the artifact store") from None
    record = ModelRecord.from_json(store.get_json(rid))
    if record.model_id != model_id or model_id_of(record.vk, record.settings) != model_id:
        raise ArtifactError(f"model record for {model_id} does not hash to that id")
    return record


def list_models(store: ArtifactStore) -> list[ModelRecord]:
    return [ModelRecord.from_json(store.get_json(rid)) for rid in store.refs("model").values()]
