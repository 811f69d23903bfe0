"""The points where a role's behaviour can be changed from outside its code.

A role.json may name a plugin, `"plugin": "module:attribute"`: a `RoleHooks` subclass (or any
callable taking the `RoleHome` and returning hooks). Every default here is the honest behaviour, and
production never sets a plugin: the only ones are the adversaries the tests and the fault benchmark
start (`tests/adversaries.py`), so that misbehaviour lives with them and not in the role apps.
"""

from __future__ import annotations

import importlib
from typing import Callable

from oracle.errors import OracleError

from ..home import RoleHome


class RoleHooks:
    def __init__(self, home: RoleHome):
        self.home = home

    # -------------------------------------------------------------- prover
    async def before_prove(self, market_id: str, round_: int) -> None:
        """Called once a prove request is authenticated, before any work on it."""

    def frame(self, frame):
        """The market data a proof is made over: each source's frame (a pandas DataFrame, loaded from
        one of the sources the spec observes, or its forecast source) on its way to the prover."""
        return frame

    def model_record(self, doc: dict) -> dict:
        """The model record (JSON) this prover serves at GET /v1/models/<id>: what is stored."""
        return doc

    # ----------------------------------------------------------- validator
    def votes(self, vote, resign: Callable) -> list:
        """The votes to send for a round, given the one this validator's review signed; the last is the
        one it keeps (stores, answers again). `resign(resolution)` signs another resolution with its key."""
        return [vote]


def load_hooks(home: RoleHome) -> RoleHooks:
    """The hooks role.json's "plugin" names, else the honest defaults."""
    spec = home.cfg.get("plugin")
    if not spec:
        return RoleHooks(home)
    module, _, attribute = str(spec).partition(":")
    try:
        factory = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as e:
        raise OracleError(f"role.json plugin: cannot load {spec!r} ({type(e).__name__}: {e})") from None
    hooks = factory(home)
    if not isinstance(hooks, RoleHooks):
        raise OracleError(f"role.json plugin: {spec!r} gave a {type(hooks).__name__}, not RoleHooks")
    home.log("plugin", plugin=spec)
    return hooks
