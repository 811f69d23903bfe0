"""The markets an operator's home knows about, from the two places that record them: the artifact
store's `market` refs (written by `oracle demo`, with a `resolution` ref once settled) and the
node's local state (`state.sqlite`, written by the node and its scheduler). Both writers are
compositions in this package, so reading them back together lives here too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oracle.errors import NotFound
from oracle.state import LocalState
from oracle.store import ArtifactStore


def tracked_markets(home: Path) -> dict[str, dict[str, Any]]:
    """Every market in `home`, by id: {"market_id", "origin", "spec", "rounds", "score", "resolution"}.
    The node's state wins over a store ref for the same id (it has the rounds and the score)."""
    store = ArtifactStore(home / "store")
    entries: dict[str, dict[str, Any]] = {}
    for mid, ref in store.refs("market").items():
        entry = {"market_id": mid, "origin": "demo", "spec": store.get_json(ref), "rounds": [], "score": None}
        try:
            entry["resolution"] = store.get_json(store.ref("resolution", mid))
        except NotFound:
            entry["resolution"] = None
        entries[mid] = entry
    state_path = home / "state.sqlite"
    if state_path.exists():
        state = LocalState(state_path)
        for m in state.markets():
            rounds = [r.__dict__ for r in state.rounds(m["market_id"])]
            final = rounds[-1] if rounds else None
            entries[m["market_id"]] = {
                "market_id": m["market_id"], "origin": m["origin"], "spec": json.loads(m["spec_json"]),
                "rounds": rounds, "score": state.score(m["market_id"]),
                "resolution": final if final and final["status"] == "settled" else None,
            }
    return entries
