"""Operator keys in encrypted eth-account (v3) keystore files, never raw keys in config.

The password comes from ORACLE_KEYSTORE_PASSWORD or a prompt (the CLI's job).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import FieldError, NotFound, OracleError
from .signer import LocalSigner
from .store import atomic_write

PASSWORD_ENV = "ORACLE_KEYSTORE_PASSWORD"
# Lowers scrypt's work factor (default 2^18, ~0.7 s per key) for test suites. Never in production.
ITERATIONS_ENV = "ORACLE_KEYSTORE_INSECURE_ITERATIONS"
BLS_SUFFIX = ".bls.json"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeyStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, name: str, suffix: str = ".json") -> Path:
        if not _NAME.match(name) or name.endswith(".bls"):
            raise FieldError("name", "key names are 1-64 of letters, digits, '_', '.', '-' (not ending in .bls)")
        return self.root / f"{name}{suffix}"

    def _new(self, name: str, password: str, suffix: str, what: str) -> Path:
        """The path of a key about to be created: refused if it exists or the password is short."""
        path = self._path(name, suffix)
        if path.exists():
            raise FieldError("name", f"{what} named {name!r} already exists ({path})")
        if len(password) < 8:
            raise FieldError("password", "must be at least 8 characters")
        return path

    # A validator's BLS12-381 key lives beside its account key, in `<name>.bls.json`, encrypted
    # with the same keystore format and password.
    def create_bls(self, name: str, password: str):
        from .bls import BlsKey, save_key

        path = self._new(name, password, BLS_SUFFIX, "a BLS key")
        key = BlsKey.generate()
        save_key(path, key, password, iterations=_iterations())
        return key

    def load_bls(self, name: str, password: str):
        from .bls import load_key

        path = self._path(name, BLS_SUFFIX)
        if not path.exists():
            raise NotFound(f"no BLS key named {name!r} in {self.root}")
        try:
            return load_key(path, password)
        except OracleError as e:
            if "MAC mismatch" in str(e):
                raise OracleError(f"wrong password for BLS keystore {name!r} ({path}): cannot decrypt it") from None
            raise

    def bls_public_key(self, name: str) -> str | None:
        path = self._path(name, BLS_SUFFIX)
        return json.loads(path.read_text())["bls_public_key"] if path.exists() else None

    def create(self, name: str, password: str, *, signer: LocalSigner | None = None) -> LocalSigner:
        path = self._new(name, password, ".json", "a key")
        signer = signer or LocalSigner.create()
        keystore = signer.to_keystore(password, iterations=_iterations())
        atomic_write(path, json.dumps(keystore).encode())
        path.chmod(0o600)
        return signer

    def load(self, name: str, password: str) -> LocalSigner:
        path = self._path(name)
        if not path.exists():
            raise NotFound(f"no key named {name!r} in {self.root}")
        try:
            return LocalSigner.from_keystore(json.loads(path.read_text()), password)
        except ValueError as e:
            if "MAC mismatch" in str(e):
                raise OracleError(f"wrong password for keystore {name!r} ({path}): cannot decrypt it") from None
            raise OracleError(f"cannot decrypt key {name!r} ({path}): {e}") from None

    def ensure(self, name: str, password: str) -> LocalSigner:
        """The key named `name`, created first if there is none."""
        return self.load(name, password) if self._path(name).exists() else self.create(name, password)

    def ensure_bls(self, name: str, password: str):
        """The BLS key beside `name`, created first if there is none."""
        exists = self._path(name, BLS_SUFFIX).exists()
        return self.load_bls(name, password) if exists else self.create_bls(name, password)

    def address(self, name: str) -> str:
        path = self._path(name)
        if not path.exists():
            raise NotFound(f"no key named {name!r} in {self.root}")
        return "0x" + json.loads(path.read_text())["address"]

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.endswith(BLS_SUFFIX))


def _iterations() -> int | None:
    weak = os.environ.get(ITERATIONS_ENV)
    return int(weak) if weak else None


def password_from_env() -> str | None:
    return os.environ.get(PASSWORD_ENV)
