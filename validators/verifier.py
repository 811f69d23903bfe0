"""ezkl proof verification with only vk + settings + SRS.

A batched proof serves several markets; the verifier remembers proofs it has
accepted (keyed by proof, instances and vk), so a validator verifies one proof
per batch and still checks every market's own row.
"""

from __future__ import annotations

import json
import tempfile
from collections import OrderedDict
from pathlib import Path

import ezkl

from oracle.bundle import ProofBundle
from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import CheckFailed
from oracle.models import Circuit
from oracle.store import ArtifactStore


class ProofVerifier:
    def __init__(self, store: ArtifactStore, *, remember: int = 4096):
        self.store = store
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.verifications = 0  # ezkl verify calls actually made

    def verify(self, bundle: ProofBundle, circuit: Circuit) -> None:
        """Return if the proof verifies; raise CheckFailed('proof', why) otherwise."""
        key = keccak_hex(bundle.proof_bytes + canonical_json([list(r) for r in bundle.instances])
                         + circuit.vk.encode())
        if key in self._accepted:
            self._accepted.move_to_end(key)
            return
        try:
            vk, settings, srs = circuit.paths(self.store)
        except Exception as e:
            raise CheckFailed("model-artifacts", str(e)) from None
        with tempfile.TemporaryDirectory(prefix="oracle-verify-") as tmp:
            proof_path = Path(tmp) / "proof.json"
            proof_path.write_text(json.dumps(bundle.ezkl_proof()))
            self.verifications += 1
            try:
                ok = ezkl.verify(str(proof_path), str(settings), str(vk), str(srs))
            except BaseException as e:  # Rust panics surface as PanicException (BaseException)
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                raise CheckFailed("proof", f"ezkl verify rejected the proof: {e}") from None
        if ok is not True:
            raise CheckFailed("proof", f"ezkl verify returned {ok!r}")
        self._accepted[key] = None
        if len(self._accepted) > self._remember:
            self._accepted.popitem(last=False)
