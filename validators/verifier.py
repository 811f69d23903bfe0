"""ezkl proof verification with only vk + settings + SRS.

A batched proof serves several markets; the verifier remembers proofs it has
accepted (keyed by proof, instances, vk and SRS), so a validator verifies one proof
per batch and still checks every market's own row.

A validator keeps one verifier between reviews: it hashes each artifact (vk, settings, SRS) once and
again only when its file changes (inode, size, modification and change times). ezkl's Python API
reads the three files on every call and rebuilds the evaluation domain from the vk (twiddles for 2^k
rows): that, not the pairing check, is most of a verification, and it grows with the circuit's logrows.

The SRS must be one this verifier trusts by hash: by default the store's own trusted set
(`oracle.models.trust_srs`: the operator's configuration, or a compile on this machine), or the
set given to the constructor. A record names its SRS, and the model id binds that name, but
whoever knows an SRS's secret can forge KZG openings: a peer's record is never enough.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Iterable

import ezkl

from oracle.bundle import ProofBundle
from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import CheckFailed, OracleError
from oracle.models import Circuit, trusted_srs
from oracle.store import ArtifactStore


class ProofVerifier:
    def __init__(self, store: ArtifactStore, *, remember: int = 4096, trusted: Iterable[str] | None = None):
        """`trusted`: the SRS hashes to accept; None reads the store's trusted set at each verify."""
        self.store = store
        self.trusted = None if trusted is None else frozenset(a.lower() for a in trusted)
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.verifications = 0  # ezkl verify calls actually made
        self._consistent: set[Circuit] = set()  # circuits whose scales and logrows match their settings
        self._verified: dict[str, tuple[Path, tuple]] = {}  # artifact id -> (path, file signature when hashed)
        self.hashed = 0  # artifacts hashed from disk (once each while their files stay unchanged)
        # ezkl reads proofs from files: one scratch directory for this verifier's life, a file per call
        self._scratch = Path(tempfile.mkdtemp(prefix="oracle-verify-"))
        self._names = itertools.count()
        weakref.finalize(self, shutil.rmtree, self._scratch, ignore_errors=True)

    def verify(self, bundle: ProofBundle, circuit: Circuit) -> None:
        """Return if the proof verifies; raise CheckFailed('srs' | 'model-artifacts' | 'proof', why) otherwise."""
        self.check_srs(circuit)
        self.check_settings(circuit)
        key = keccak_hex(bundle.proof_bytes + canonical_json([list(r) for r in bundle.instances])
                         + circuit.vk.encode() + circuit.srs.encode())
        if key in self._accepted:
            self._accepted.move_to_end(key)
            return
        try:
            vk, settings, srs = (self._path(a) for a in (circuit.vk, circuit.settings, circuit.srs))
        except Exception as e:
            raise CheckFailed("model-artifacts", str(e)) from None
        proof_path = self._scratch / f"proof-{next(self._names)}.json"
        try:
            proof_path.write_text(json.dumps(bundle.ezkl_proof()))
            self.verifications += 1
            try:
                ok = ezkl.verify(str(proof_path), str(settings), str(vk), str(srs))
            except BaseException as e:  # Rust panics surface as PanicException (BaseException)
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                raise CheckFailed("proof", f"ezkl verify rejected the proof: {e}") from None
        finally:
            proof_path.unlink(missing_ok=True)
        if ok is not True:
            raise CheckFailed("proof", f"ezkl verify returned {ok!r}")
        self._accepted[key] = None
        if len(self._accepted) > self._remember:
            self._accepted.popitem(last=False)

    def _path(self, artifact_id: str) -> Path:
        """The artifact's verified path: hashed on first use, and again whenever its file changed."""
        known = self._verified.get(artifact_id)
        if known is not None:
            path, signature = known
            try:
                if _signature(path) == signature:
                    return path
            except OSError:
                pass
        path = self.store.path(artifact_id)
        signature = _signature(path)
        self.store.get(artifact_id)  # the bytes behind this signature hash to the id
        self.hashed += 1
        self._verified[artifact_id] = (path, signature)
        return path

    def check_srs(self, circuit: Circuit) -> None:
        """CheckFailed('srs') unless the circuit's SRS hash is one this verifier trusts."""
        try:
            trusted = self.trusted if self.trusted is not None else trusted_srs(self.store)
        except OracleError as e:
            raise CheckFailed("srs", str(e)) from None
        if circuit.srs not in trusted:
            raise CheckFailed("srs", f"SRS {circuit.srs} is not trusted here (trusted: "
                              f"{sorted(trusted) or 'none configured'}); a record naming it is refused")

    def check_settings(self, circuit: Circuit) -> None:
        """CheckFailed('model-artifacts') unless the record's scales and logrows are its settings'
        (the validator reads the numbers from the record; ezkl reads them from the settings)."""
        if circuit in self._consistent:
            return
        try:
            settings = json.loads(self.store.get(circuit.settings))
            found = {"input_scale": settings["model_input_scales"][0],
                     "output_scale": settings["model_output_scales"][0],
                     "logrows": settings["run_args"]["logrows"]}
        except Exception as e:
            raise CheckFailed("model-artifacts", f"settings {circuit.settings} unreadable: {e}") from None
        for name, value in found.items():
            if getattr(circuit, name) != value:
                raise CheckFailed("model-artifacts", f"the record's {name} is {getattr(circuit, name)}, "
                                  f"its settings say {value}")
        self._consistent.add(circuit)


def _signature(path: Path) -> tuple:
    """What changes whenever a file's bytes can have changed (ctime: no one sets it back)."""
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
