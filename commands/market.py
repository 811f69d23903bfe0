"""`oracle market ...`: market specs: validate, register, list, show."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Optional

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


def _info(spec) -> dict[str, Any]:
    doc = spec.to_json()
    return {"market_id": spec.market_id, "spec_hash": spec.spec_hash, "question": spec.question,
            "outcomes": list(spec.outcomes), "kind": spec.kind, "shape": spec.shape.kind,
            "sources": len(spec.observe.sources), "resolver": spec.resolver, "forecaster": spec.forecaster,
            "close_at": doc["close_at"], "resolve_at": doc["resolve_at"], "rounds": len(spec.rounds())}


@app.command("validate")
@handles_errors
def validate(path: str = typer.Argument(..., help="Market spec file (.json, .yaml), version 2."),
             now: Optional[str] = typer.Option(None, "--now", help="Check trading is still open at this "
                                               "ISO-8601 time (default: the wall clock); e.g. a replay "
                                               "chain's time, 2019-03-10T00:00:00Z."),
             as_json: bool = JsonOption) -> None:
    """Check a spec file (and that its trading has not closed by now); print its spec hash and market id."""
    from markets.fields import _parse_time
    from markets.spec import MarketSpec

    at = datetime.now(timezone.utc) if now is None else _parse_time(now, "--now")
    spec = MarketSpec.load(path, now=at)
    info = _info(spec)

    def human(info: dict) -> None:
        for k, v in info.items():
            out.print(f"[bold]{k}[/bold]: {v}", highlight=False)

    emit(info, as_json, human)


@app.command("register")
@handles_errors
def register(path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
             as_json: bool = JsonOption) -> None:
    """Register a market: spec into the artifact store, entry on-chain, a job for each round. Refused
    once its trading has closed by the chain's clock (its outcome could already be known)."""
    from markets.spec import MarketSpec
    from network.node import Node

    node = Node(password=password())
    spec = MarketSpec.load(path, now=node.clock())
    market_id = node.register(spec)
    info = {**_info(spec), "market_id": market_id}
    emit(info, as_json, say(f"registered {market_id} ({info['rounds']} round(s), trading closes at "
                            f"{info['close_at']}, resolves at {info['resolve_at']})"))


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
