"""`oracle verify`: anyone re-checks a resolution from public data (validators.audit). No key, no torch."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from oracle import config

from .home import store
from .render import JsonOption, emit, handles_errors, out


@handles_errors
def verify(
    market: str = typer.Argument(..., help="Market id, or the hash of the transaction that resolved it."),
    rpc_url: Optional[str] = typer.Option(None, "--rpc-url", help="Default: this node's configured node."),
    offline: bool = typer.Option(False, help="Do not consult the market's live data source."),
    as_json: bool = JsonOption,
) -> None:
    """Re-check a resolution from public data: chain, spec, snapshot, proof, rule, signatures. No key needed."""
    from markets.feeds import load_source
    from oracle.canonical import is_bytes32
    from oracle.chain import Chain
    from oracle.deployment import Deployment
    from oracle.errors import FieldError
    from validators.audit import Auditor

    if not is_bytes32(market):
        raise FieldError("MARKET_ID|TX_HASH", f"{market!r} is neither a market id nor a transaction hash "
                         "(0x and 64 hex digits)")
    market = market.lower()
    if rpc_url is None:
        from network.node.config import NodeConfig

        rpc_url = NodeConfig.load().rpc_url
    chain = Chain.rpc(rpc_url)
    dep = Deployment.load(chain, config.home() / "deployments")
    loader = None if offline else (lambda source: load_source(source, chain=chain))
    verdict = Auditor(dep, store(), loader).verify(market).to_json()
    emit(verdict, as_json, _render)
    if not verdict["ok"]:
        raise typer.Exit(1)


def _render(verdict: dict[str, Any]) -> None:
    table = Table(title=f"Re-verification of {verdict['market_id']}")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for c in verdict["checks"]:
        mark = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "[yellow]skip[/yellow]"}[c["ok"]]
        table.add_row(c["name"], mark, c["detail"])
    out.print(table)
    if verdict["ok"]:
        out.print("[bold green]VERIFIED[/bold green]")
    else:
        failed = next((c for c in verdict["checks"] if c["ok"] is False), {"name": "checks", "detail": "none ran"})
        out.print(f"[bold red]NOT VERIFIED[/bold red]: {failed['name']}: {failed['detail']}")
