"""`oracle market ...`: market specs: validate, register, list, show."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import typer
from rich.table import Table

from oracle import config
from oracle.errors import NotFound

from .home import password
from .render import JsonOption, emit, handles_errors, out, say

app = typer.Typer(no_args_is_help=True, help="Market specs: validate, register, list, show.")


def _tracked() -> dict[str, dict[str, Any]]:
    from network.tracked import tracked_markets

    return tracked_markets(config.home())


@app.command("validate")
@handles_errors
def validate(path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
             as_json: bool = JsonOption) -> None:
    """Check a spec file; print its spec hash and market id."""
    from markets.spec import MarketSpec

    spec = MarketSpec.load(path)
    info = {"market_id": spec.market_id, "spec_hash": spec.spec_hash, "question": spec.question,
            "outcomes": list(spec.outcomes), "model": spec.model, "resolve_at": spec.to_json()["resolve_at"]}

    def human(info: dict) -> None:
        for k, v in info.items():
            out.print(f"[bold]{k}[/bold]: {v}", highlight=False)

    emit(info, as_json, human)


@app.command("register")
@handles_errors
def register(path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
             as_json: bool = JsonOption) -> None:
    """Register a market: spec into the artifact store, entry on-chain, job for its resolve time."""
    from markets.spec import MarketSpec
    from network.node import Node

    spec = MarketSpec.load(path, now=datetime.now(timezone.utc))
    market_id = Node(password=password()).register(spec)
    info = {"market_id": market_id, "spec_hash": spec.spec_hash, "rounds": len(spec.rounds()),
            "resolve_at": spec.to_json()["resolve_at"]}
    emit(info, as_json, say(f"registered {market_id} ({info['rounds']} round(s), resolves at {info['resolve_at']})"))


@app.command("list")
@handles_errors
def list_(as_json: bool = JsonOption) -> None:
    """Markets known to this node."""
    emit(list(_tracked().values()), as_json, _render_list)


def _render_list(entries: list[dict[str, Any]]) -> None:
    table = Table(title="Markets")
    for col in ("market", "origin", "question", "resolve at", "status"):
        table.add_column(col, overflow="fold")
    for e in entries:
        r = e["resolution"]
        status = "open"
        if r:
            outcome = r.get("onchain_outcome") or r.get("outcome")
            if isinstance(outcome, int):
                outcome = e["spec"]["outcomes"][outcome] if outcome < len(e["spec"]["outcomes"]) else "INVALID"
            status = f"resolved ({outcome})"
        elif e["rounds"]:
            status = ", ".join(sorted({x["status"] for x in e["rounds"]}))
        table.add_row(e["market_id"], e["origin"], e["spec"]["question"], e["spec"]["resolve_at"], status)
    out.print(table)


@app.command("show")
@handles_errors
def show(market_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """One market: its spec, rounds, resolution and score."""
    entry = _tracked().get(market_id.lower())
    if entry is None:
        raise NotFound(f"unknown market {market_id}: this node does not track it")
    emit(entry, as_json, lambda e: out.print_json(json.dumps(e, default=str)))
