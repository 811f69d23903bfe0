"""ezkl proof verification with only vk + settings + SRS."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import ezkl

from oracle.bundle import ProofBundle
from oracle.errors import CheckFailed
from oracle.models import ModelRecord
from oracle.store import ArtifactStore


class ProofVerifier:
    """Verifies a bundle's proof against a registered model's public artifacts."""

    def __init__(self, store: ArtifactStore):
        self.store = store

    def verify(self, bundle: ProofBundle, record: ModelRecord) -> None:
        """Return if the proof verifies; raise CheckFailed('proof', why) otherwise."""
        try:
            vk, settings, srs = record.paths(self.store)
        except Exception as e:
            raise CheckFailed("model-artifacts", str(e)) from None
        with tempfile.TemporaryDirectory(prefix="oracle-verify-") as tmp:
            proof_path = Path(tmp) / "proof.json"
            proof_path.write_text(json.dumps(bundle.ezkl_proof()))
            try:
                ok = ezkl.verify(str(proof_path), str(settings), str(vk), str(srs))
            except BaseException as e:  # Rust panics surface as PanicException (BaseException)
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                raise CheckFailed("proof", f"ezkl verify rejected the proof: {e}") from None
        if ok is not True:
            raise CheckFailed("proof", f"ezkl verify returned {ok!r}")
