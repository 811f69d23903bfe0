"""What a command reads from this operator's home (ORACLE_HOME): its artifact store, its keystore
and the keystore's password; and the one check every command taking a quorum makes."""

from __future__ import annotations

from pathlib import Path

import typer

from oracle import config
from oracle.store import ArtifactStore


def store() -> ArtifactStore:
    return ArtifactStore(config.home() / "store")


def keys():
    from oracle.keystore import KeyStore

    return KeyStore(config.home() / "keys")


def password(confirm: bool = False) -> str:
    """ORACLE_KEYSTORE_PASSWORD, or a prompt."""
    from oracle.keystore import password_from_env

    pw = password_from_env()
    if pw is None:
        pw = typer.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)
    return pw


def deployments() -> Path:
    return config.home() / "deployments"


def check_quorum(threshold: int, validators: int) -> None:
    """t of n needs t <= n (the contract checks the rest, and says why)."""
    if threshold > validators:
        raise typer.BadParameter(f"threshold {threshold} exceeds validators {validators}", param_hint="--threshold")
