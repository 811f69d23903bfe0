"""Test-only adversaries: real role processes that misbehave, loaded as a plugin their role.json
names (`"plugin": "tests.adversaries:Equivocate"`). The devnet starts every role with the
repository root first on its path (`python cli.py ...`), so this module is importable there as
`tests.adversaries`; production roles never name a plugin.

    set_adversary(devnet, "validator-3", "equivocate")   # rewrite role.json, restart the role
    set_adversary(devnet, "validator-3", None)           # honest again
"""

from __future__ import annotations

import asyncio
import json

from network.roles.hooks import RoleHooks

MODULE = "tests.adversaries"


class Equivocate(RoleHooks):
    """A Byzantine validator: signs the right outcome and sends it, then signs and keeps the opposite."""

    def votes(self, vote, resign):
        from oracle.eip712 import Resolution

        r = vote.resolution
        wrong = Resolution(**{**r.to_json(), "outcome": 1 - r.outcome if r.outcome in (0, 1) else 0})
        return [vote, resign(wrong)]


class OtherInputs(RoleHooks):
    """A prover that makes a valid proof over data that is not the market's: every source's prices 7 % up
    (the canonical columns the evidence reads, and the named close column the features read)."""

    def frame(self, frame):
        frame = frame.copy()
        for column in {"close", "open", "high", "low", "Close"} & set(frame.columns):
            frame[column] = frame[column] * 1.07
        return frame


class Hang(RoleHooks):
    """A prover that accepts a request and never answers."""

    async def before_prove(self, market_id: str, round_: int) -> None:
        self.home.log("hang", market_id=market_id, round=round_)
        await asyncio.sleep(3600)


class TamperedModel(RoleHooks):
    """A prover that serves a tampered record at /v1/models/<id>: the same id, circuits, vk and SRS,
    but output_scale + 3 and an identity output transform (what once made an honest validator sign
    another outcome). The record no longer hashes to its id: a validator must refuse it."""

    def model_record(self, doc: dict) -> dict:
        doc = {**doc, "output_transform": "identity",
               "circuits": [{**c, "output_scale": c["output_scale"] + 3} for c in doc["circuits"]]}
        self.home.log("served_tampered_model", model_id=doc.get("model_id"))
        return doc


ADVERSARIES = {"equivocate": Equivocate, "other_inputs": OtherInputs, "hang": Hang,
               "tampered_model": TamperedModel}


def plugin_of(adversary: str) -> str:
    """The role.json "plugin" value that makes a role the named adversary."""
    return f"{MODULE}:{ADVERSARIES[adversary].__name__}"


def set_adversary(net, name: str, adversary: str | None) -> None:
    """Make a devnet role the named adversary (None: honest again), and restart it."""
    from oracle.store import atomic_write

    r = net.roles[name]
    cfg = json.loads((r.home / "role.json").read_text())
    if adversary:
        cfg["plugin"] = plugin_of(adversary)
    else:
        cfg.pop("plugin", None)
    atomic_write(r.home / "role.json", json.dumps(cfg, indent=2).encode())
    net.kill(name)
    net.start(name)
    net.wait_healthy([name])
