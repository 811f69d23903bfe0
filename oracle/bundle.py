"""The proof bundle: what a prover hands to validators. Versioned, content-hashed.

Validators read the model's inputs and outputs only from `instances` (the
proof's public instances, which ezkl verify checks). `inputs` and `outputs`
are the same numbers rescaled for people; a validator refuses a bundle whose
readable numbers disagree with its instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .canonical import check_document, hash_json, is_bytes32, keccak_hex
from .errors import BundleError
from .typed_data import Signable, encode, recover

BUNDLE_VERSION = 1
MAX_PROOF_BYTES = 1 << 20

# A prover's signature over a bundle: EIP-712 `ProofBundle(bytes32 bundleHash)` under a domain of
# name and version only (it is never presented to a contract)
_ATTESTATION_DOMAIN_TYPE = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}]
_ATTESTATION_DOMAIN = {"name": "AIOracle ProofBundle", "version": str(BUNDLE_VERSION)}
_ATTESTATION_TYPE = [{"name": "bundleHash", "type": "bytes32"}]


# BN254's scalar field: ezkl's field elements (a negative integer x is BN254_R + x)
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def felt_to_uint(felt_hex: str) -> int:
    """ezkl writes field elements as 32-byte little-endian hex, no prefix."""
    return int.from_bytes(bytes.fromhex(felt_hex), "little")


def attestation(bundle_hash: str) -> Signable:
    return encode(_ATTESTATION_DOMAIN_TYPE, _ATTESTATION_DOMAIN, "ProofBundle", _ATTESTATION_TYPE,
                  {"bundleHash": bytes.fromhex(bundle_hash[2:])})


@dataclass(frozen=True)
class ProofBundle:
    market_id: str
    round: int
    model_id: str
    inputs: tuple[float, ...]
    outputs: tuple[float, ...]
    instances: tuple[tuple[str, ...], ...]
    proof: str
    prover: str
    data_snapshot: str = ""  # keccak256 of the canonical rows the inputs were computed from
    batch_size: int = 1  # markets proved together in this proof (padding rows included)
    batch_row: int = 0  # this market's row in the batch
    input_preimage: tuple[str, ...] = ()  # all rows' input felts, when the circuit hashes its inputs
    prover_signature: str = ""
    version: int = BUNDLE_VERSION
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    # ------------------------------------------------------------- hashes
    def body(self) -> dict[str, Any]:
        """Everything the bundle hash covers (all but the prover's signature)."""
        return {
            "version": self.version,
            "market_id": self.market_id,
            "round": self.round,
            "model_id": self.model_id,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "instances": [list(row) for row in self.instances],
            "proof": self.proof,
            "prover": self.prover,
            "data_snapshot": self.data_snapshot,
            "batch_size": self.batch_size,
            "batch_row": self.batch_row,
            "input_preimage": list(self.input_preimage),
            "meta": self.meta,
        }

    @property
    def bundle_hash(self) -> str:
        return hash_json(self.body())

    @property
    def proof_bytes(self) -> bytes:
        return bytes.fromhex(self.proof[2:])

    @property
    def proof_hash(self) -> str:
        return keccak_hex(self.proof_bytes)

    # ---------------------------------------------------------- signature
    def signed_by(self, signer) -> "ProofBundle":
        sig = signer.sign_message(attestation(self.bundle_hash))
        return replace(self, prover=signer.address, prover_signature="0x" + sig.hex())

    def recover_prover(self) -> str:
        sig = bytes.fromhex(self.prover_signature[2:])
        return recover(attestation(self.bundle_hash), sig)

    # -------------------------------------------------------------- codec
    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "prover_signature": self.prover_signature}

    def ezkl_proof(self) -> dict[str, Any]:
        """The proof file ezkl.verify reads."""
        return {"instances": [list(r) for r in self.instances], "proof": list(self.proof_bytes)}

    @classmethod
    def from_json(cls, d: Any) -> "ProofBundle":
        """Parse and validate shape; raises BundleError naming the field."""
        if not isinstance(d, dict):
            raise BundleError("bundle", "must be a JSON object")
        known = {
            "version", "market_id", "round", "model_id", "inputs", "outputs",
            "instances", "proof", "prover", "prover_signature", "meta", "data_snapshot",
            "batch_size", "batch_row", "input_preimage",
        }
        check_document(d, fields=known, required=known - {"meta"}, version=BUNDLE_VERSION, kind="bundle",
                       error=BundleError)
        for k in ("market_id", "model_id", "data_snapshot"):
            if not is_bytes32(d[k]) or d[k] != d[k].lower():
                raise BundleError(k, "must be 0x + 64 lowercase hex digits")
        if type(d["round"]) is not int or not 0 <= d["round"] < 2**32:
            raise BundleError("round", "must be an integer in [0, 2^32)")
        for k in ("inputs", "outputs"):
            v = d[k]
            if not isinstance(v, list) or not v or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                raise BundleError(k, "must be a non-empty list of finite numbers")
        if not isinstance(d["prover"], str) or not d["prover"].startswith("0x") or len(d["prover"]) != 42:
            raise BundleError("prover", "must be a 0x-prefixed 20-byte address")
        inst = d["instances"]
        if (
            not isinstance(inst, list)
            or len(inst) != 1
            or not isinstance(inst[0], list)
            or not all(isinstance(f, str) and len(f) == 64 for f in inst[0])
        ):
            raise BundleError("instances", "must be [[64-hex-char field elements]]")
        try:
            [bytes.fromhex(f) for f in inst[0]]
        except ValueError:
            raise BundleError("instances", "field elements must be hex") from None
        for k in ("batch_size", "batch_row"):
            if type(d[k]) is not int or d[k] < 0:
                raise BundleError(k, "must be a non-negative integer")
        if not d["batch_row"] < d["batch_size"]:
            raise BundleError("batch_row", f"{d['batch_row']} is outside a batch of {d['batch_size']}")
        pre = d["input_preimage"]
        if not isinstance(pre, list) or not all(isinstance(f, str) and len(f) == 64 for f in pre):
            raise BundleError("input_preimage", "must be a list of 64-hex-char field elements")
        proof = d["proof"]
        if not isinstance(proof, str) or not proof.startswith("0x") or len(proof) % 2 or proof != proof.lower():
            raise BundleError("proof", "must be 0x-prefixed lowercase hex bytes")
        if len(proof) // 2 - 1 > MAX_PROOF_BYTES:
            raise BundleError("proof", f"larger than {MAX_PROOF_BYTES} bytes")
        try:
            bytes.fromhex(proof[2:])
        except ValueError:
            raise BundleError("proof", "not hex") from None
        if not is_bytes32(d["data_snapshot"]):
            raise BundleError("data_snapshot", "must be 0x-prefixed 32-byte hex")
        sig = d["prover_signature"]
        if not isinstance(sig, str) or not sig.startswith("0x") or len(sig) != 132:
            raise BundleError("prover_signature", "must be a 65-byte 0x-hex signature")
        meta = d.get("meta", {})
        if not isinstance(meta, dict):
            raise BundleError("meta", "must be an object")
        return cls(
            market_id=d["market_id"],
            round=d["round"],
            model_id=d["model_id"],
            inputs=tuple(float(x) for x in d["inputs"]),
            outputs=tuple(float(x) for x in d["outputs"]),
            instances=tuple(tuple(r) for r in inst),
            proof=proof,
            prover=d["prover"],
            data_snapshot=d["data_snapshot"],
            batch_size=d["batch_size"],
            batch_row=d["batch_row"],
            input_preimage=tuple(pre),
            prover_signature=sig,
            version=d["version"],
            meta=meta,
        )


# ------------------------------------------------------------------ publishing
BUNDLE_BY_PROOF = "bundle-by-proof"


def bundle_ref(proof_hash: str, market_id: str) -> str:
    """One batched proof serves several markets: the reference names both."""
    return f"{proof_hash}-{market_id}"


def publish_bundle(store, bundle: ProofBundle) -> str:
    """Store a bundle content-addressed and make it findable from what a Resolution commits to
    (proof hash, market id): anyone can then re-verify a resolution from the chain alone."""
    rid = store.put_json(bundle.to_json())
    store.set_ref(BUNDLE_BY_PROOF, bundle_ref(bundle.proof_hash, bundle.market_id), rid)
    return rid
