"""Content-addressed artifact store: specs, bundles, vk, settings, SRS.

An artifact's id is the keccak256 of its bytes; reads re-hash and refuse a
mismatch, so a corrupted or swapped file is caught where it is used. Writes go
to a temporary file and are renamed into place: never half-written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from .canonical import canonical_json, keccak_hex
from .errors import ArtifactError, FieldError, NotFound

# An artifact id is keccak_hex's output exactly: 0x + 64 lowercase hex digits. Nothing else may reach
# a path (no `..`, no `/`, no uppercase twin of an id naming the same object twice).
_ARTIFACT_ID = re.compile(r"0x[0-9a-f]{64}")
# A reference kind or name is one path component of safe characters (model ids, `<proof>-<market>`).
_REF_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")


def check_artifact_id(artifact_id: object, field: str = "artifact_id") -> str:
    """`artifact_id` if it is 0x + 64 lowercase hex digits, else ArtifactError naming the field."""
    if not (isinstance(artifact_id, str) and _ARTIFACT_ID.fullmatch(artifact_id)):
        raise ArtifactError(f"field '{field}': malformed artifact id {str(artifact_id)[:80]!r} "
                            "(expected 0x + 64 lowercase hex digits)")
    return artifact_id


def _check_ref_part(value: object, field: str) -> str:
    if not (isinstance(value, str) and _REF_PART.fullmatch(value) and ".." not in value):
        raise FieldError(field, f"{str(value)[:80]!r} is not a safe reference name "
                                "(letters, digits, '_', '-', '.', ':'; no '..' or '/')")
    return value


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArtifactStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)

    def _path(self, artifact_id: str) -> Path:
        h = check_artifact_id(artifact_id)[2:]
        return self.root / "objects" / h[:2] / h[2:]

    def put(self, data: bytes) -> str:
        artifact_id = keccak_hex(data)
        path = self._path(artifact_id)
        if not path.exists():
            atomic_write(path, data)
        return artifact_id

    def put_file(self, src: str | os.PathLike) -> str:
        return self.put(Path(src).read_bytes())

    def put_json(self, obj: Any) -> str:
        return self.put(canonical_json(obj))

    def has(self, artifact_id: str) -> bool:
        return self._path(artifact_id).exists()

    def delete(self, artifact_id: str) -> None:
        """Remove an object (only to undo a put whose companion write failed)."""
        self._path(artifact_id).unlink(missing_ok=True)

    def get(self, artifact_id: str) -> bytes:
        path = self._path(artifact_id)
        if not path.exists():
            raise NotFound(f"artifact {artifact_id} is not in the store at {self.root}")
        data = path.read_bytes()
        if keccak_hex(data) != artifact_id:
            raise ArtifactError(f"artifact {artifact_id} is corrupt: its bytes hash to something else")
        return data

    def get_json(self, artifact_id: str) -> Any:
        return json.loads(self.get(artifact_id))

    def path(self, artifact_id: str) -> Path:
        """A verified on-disk path (for tools such as ezkl that read files)."""
        self.get(artifact_id)
        return self._path(artifact_id)

    # Named references: mutable pointers to immutable objects (e.g. model id -> record).
    def _ref_path(self, kind: str, name: str | None = None) -> Path:
        d = self.root / "refs" / _check_ref_part(kind, "ref kind")
        return d if name is None else d / _check_ref_part(name, "ref name")

    def set_ref(self, kind: str, name: str, artifact_id: str) -> None:
        path = self._ref_path(kind, name)
        if not self.has(artifact_id):
            raise NotFound(f"cannot point {kind}/{name} at missing artifact {artifact_id}")
        atomic_write(path, artifact_id.encode())

    def ref(self, kind: str, name: str) -> str:
        p = self._ref_path(kind, name)
        if not p.exists():
            raise NotFound(f"no {kind} named {name}")
        return check_artifact_id(p.read_text().strip(), f"refs/{kind}/{name}")

    def refs(self, kind: str) -> dict[str, str]:
        d = self._ref_path(kind)
        if not d.exists():
            return {}
        return {p.name: check_artifact_id(p.read_text().strip(), f"refs/{kind}/{p.name}")
                for p in sorted(d.iterdir()) if not p.name.startswith(".")}
