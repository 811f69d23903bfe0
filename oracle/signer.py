"""Signers: who holds a key. One small interface, one local implementation.

What is signed is always an EIP-191 message built by `oracle.typed_data` (EIP-712 structs, or
`personal` for network envelopes); eth_account holds the key and signs transactions.
"""

from __future__ import annotations

import abc
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .typed_data import Signable


class Signer(abc.ABC):
    @property
    @abc.abstractmethod
    def address(self) -> str: ...

    @abc.abstractmethod
    def sign_message(self, message: Signable) -> bytes:
        """65-byte (r, s, v) signature, v in {27, 28}, low s."""

    @abc.abstractmethod
    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """Raw signed transaction bytes."""


class LocalSigner(Signer):
    """A key held in this process (from a keystore file or created fresh)."""

    def __init__(self, account: LocalAccount):
        self._account = account

    @classmethod
    def create(cls) -> "LocalSigner":
        return cls(Account.create())

    @classmethod
    def from_key(cls, key: bytes | str) -> "LocalSigner":
        return cls(Account.from_key(key))

    @classmethod
    def from_keystore(cls, keystore: dict[str, Any], password: str) -> "LocalSigner":
        return cls(Account.from_key(Account.decrypt(keystore, password)))

    def to_keystore(self, password: str, *, iterations: int | None = None) -> dict[str, Any]:
        """Encrypted v3 keystore (scrypt). `iterations` lowers the work factor: tests only."""
        return Account.encrypt(self._account.key, password, iterations=iterations)

    @property
    def address(self) -> str:
        return self._account.address

    def sign_message(self, message: Signable) -> bytes:
        return bytes(self._account.sign_message(message).signature)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def __repr__(self) -> str:
        return f"LocalSigner({self.address})"
