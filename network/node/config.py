"""A node's configuration: `$ORACLE_HOME/node.json` (keys are named here, kept in keystores)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oracle import config
from oracle.errors import FieldError, NotFound


@dataclass
class NodeConfig:
    rpc_url: str
    validators: list[str]  # keystore names
    threshold: int
    prover: str = "prover"
    submitter: str = "submitter"
    creator: str = "creator"
    quorum: int = 0  # default quorum for imported markets (0: the oracle's t)
    pull_interval_s: float = 5.0
    batches: list[int] = field(default_factory=lambda: [1])  # compiled batch sizes; due rounds share proofs
    sources: dict[str, Any] = field(default_factory=dict)  # local_dir, polymarket, manifold, registry
    version: int = 1

    @staticmethod
    def path(home: Path | None = None) -> Path:
        return (home or config.home()) / "node.json"

    def save(self, home: Path | None = None) -> Path:
        p = self.path(home)
        p.write_text(json.dumps(asdict(self), indent=2))
        return p

    @classmethod
    def load(cls, home: Path | None = None) -> "NodeConfig":
        p = cls.path(home)
        if not p.exists():
            raise NotFound(f"no node configuration at {p}: run `oracle node init`")
        d = json.loads(p.read_text())
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise FieldError(sorted(unknown)[0], "unknown field", where=str(p))
        return cls(**d)


def password() -> str:
    """The keystore password from the environment (a scheduler job cannot prompt)."""
    from oracle.keystore import PASSWORD_ENV, password_from_env

    pw = password_from_env()
    if pw is None:
        raise FieldError("password", f"set {PASSWORD_ENV} (or use the interactive CLI prompt)")
    return pw
