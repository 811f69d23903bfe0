"""`oracle devnet ...`: every role its own process on 127.0.0.1, on anvil (network.devnet)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from oracle import config

from .home import password
from .render import JsonOption, emit, outcome_text, handles_errors, out

app = typer.Typer(no_args_is_help=True, help="Every role its own process on 127.0.0.1, on anvil.")


def _root() -> Path:
    return config.home() / "devnet"


@app.command("up")
@handles_errors
def up(
    validators: int = typer.Option(7, min=1, max=64),
    threshold: int = typer.Option(5, min=1),
    provers: int = typer.Option(1, min=1, max=8),
    aggregators: int = typer.Option(2, min=0, max=8, help="Dedicated aggregator processes."),
    validator_aggregators: int = typer.Option(0, min=0, help="Validators that also aggregate (any validator can)."),
    bls: bool = typer.Option(False, "--bls", help="Validators hold BLS keys; aggregators settle final rounds "
                             "with one BLS12-381 aggregate."),
    start: str = typer.Option("2019-03-10", "--start", help="The chain's genesis day (UTC), or 'now': a replay "
                              "chain starts before the bundled data's events, and `devnet market` moves it on."),
    dispute_window: int = typer.Option(120, "--dispute-window", help="Seconds a market's quorum resolution stays "
                                       "proposed (disputable) before it is final; 0: final as it lands."),
    fee: str = typer.Option("0.01", "--fee", help="Resolution fee (ETH) the creator escrows per market, for the "
                            "signers and the prover of its final resolution."),
) -> None:
    """Start anvil, deploy, and start every role as its own process (recorded by PID)."""
    from network.devnet import Devnet

    from markets.spec import MAX_DISPUTE_WINDOW

    from .roles import parse_eth

    if aggregators + validator_aggregators == 0:
        raise typer.BadParameter("someone must aggregate", param_hint="--aggregators")
    if not 0 <= dispute_window <= MAX_DISPUTE_WINDOW:
        raise typer.BadParameter(f"must be 0..{MAX_DISPUTE_WINDOW} seconds (7 days)", param_hint="--dispute-window")
    net = Devnet.up(_root(), validators=validators, threshold=threshold, provers=provers,
                    aggregators=aggregators, validator_aggregators=validator_aggregators, bls=bls,
                    password=password(), start=None if start == "now" else _day(start, "--start"),
                    dispute_window=dispute_window, fee=parse_eth(fee, "--fee"))
    out.print(f"devnet up: anvil {net.rpc_url}, {len(net.roles)} roles, scheduler {net.doc['scheduler_url']}, "
              f"chain time {_iso(net.now())}; markets: dispute window {dispute_window} s, fee {fee} ETH")


def _day(text: str, hint: str) -> int:
    from datetime import datetime, timezone

    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {text!r}", param_hint=hint) from None


def _iso(ts: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("market")
@handles_errors
def market(
    at: str = typer.Option(None, "--at", help="The day whose BTC close decides (YYYY-MM-DD, UTC; default: the "
                           "day after the chain's clock). The chain's clock must be before it."),
    value: float = typer.Option(4000.0, "--value", help="Close above this (USD)?"),
    advance: bool = typer.Option(True, "--advance/--no-advance", help="Then move the chain's clock to the "
                                 "market's resolve time (a replay chain: the day's evidence now exists)."),
) -> None:
    """Register "Will BTC close above VALUE on AT?" (resolved from the bundled providers' data) as the
    devnet's market creator, hand its spec to the scheduler; print its market id."""
    from datetime import datetime, timedelta, timezone

    from network.devnet import Devnet

    net = Devnet(_root())
    if at is None:
        at = (datetime.fromtimestamp(net.now(), timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
    _day(at, "--at")
    market_id = net.demo_market(at, value, password=password())
    if advance:
        net.advance_to(net.deployment().get_market(market_id).resolve_at)
    out.print(market_id)


@app.command("status")
@handles_errors
def status(
    watch: bool = typer.Option(False, "--watch", help="Refresh live until Ctrl-C."),
    as_json: bool = JsonOption,
) -> None:
    """Roles (PID, health), rounds in flight, the last resolutions, and each market's state in the
    dispute court (proposed -> final, with its window's end; disputed; invalid) and fees."""
    if as_json or not watch:
        emit(_snapshot(), as_json, lambda s: out.print(_render(s)))
        return
    from rich.live import Live

    with Live(_render(_snapshot()), console=out, refresh_per_second=2) as live:
        try:
            while True:
                time.sleep(1)
                live.update(_render(_snapshot()))
        except KeyboardInterrupt:
            pass


def _snapshot() -> dict[str, Any]:
    from network.devnet import Devnet

    net = Devnet(_root())
    roles = [{"name": r.name, "role": r.role, "pid": r.pid, "alive": r.alive(), "url": r.url,
              "health": r.health()} for r in net.roles.values()]
    sch = net.scheduler_status()
    if sch and "scheduler" in net.roles:  # outcome names for the last resolutions, from the scheduler's state
        from oracle.state import LocalState

        path = net.roles["scheduler"].home / "state.sqlite"
        state = LocalState(path) if path.exists() else None
        for x in sch.get("last", []):
            spec = state.spec_json(x["market_id"]) if state else None
            x["outcomes"] = spec["outcomes"] if spec else None
    alive = net.anvil().alive()
    markets = []
    if alive:
        markets = net.markets()
        if any(m["state"] == "proposed" for m in markets):
            net.tick()  # a quiet dev chain shows a window's end only in a new block
            markets = net.markets()
    return {"anvil": {"url": net.rpc_url, "alive": alive}, "roles": roles, "scheduler": sch,
            "chain_time": net.now() if alive else None, "markets": markets}


def _render(s: dict[str, Any]):
    from rich.console import Group

    from network.fees import state_label

    t = Table(title=f"devnet: anvil {s['anvil']['url']} ({'up' if s['anvil']['alive'] else 'DOWN'})")
    for col in ("role", "name", "pid", "state", "detail"):
        t.add_column(col)
    for r in s["roles"]:
        h = r["health"]
        state = "healthy" if h else ("starting/unresponsive" if r["alive"] else "DOWN")
        detail = ", ".join(f"{k}={v}" for k, v in (h or {}).items() if k in ("votes", "proven", "evidence"))
        t.add_row(r["role"], r["name"], str(r["pid"]), state, detail)
    sch = s["scheduler"] or {}
    counts = sch.get("rounds", {})
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) if isinstance(counts, dict) else str(counts)
    f = Table(title=f"Rounds ({summary or 'none yet'})")
    for col in ("market", "round", "status", "attempts", "detail"):
        f.add_column(col, overflow="fold")
    for x in sch.get("in_flight", []):
        f.add_row(x["market_id"][:12], str(x["round"]), x["status"], str(x["attempts"]), x["detail"] or "")
    for x in sch.get("last", []):
        f.add_row(x["market_id"][:12], str(x["round"]), "settled", "",
                  outcome_text(x.get("outcomes"), x.get("outcome"), x.get("probability_ppm")))
    m = Table(title=f"Markets in the dispute court (chain time {_iso(s['chain_time']) if s.get('chain_time') else '?'})")
    for col in ("market", "state", "window ends", "case", "fee", "paid"):
        m.add_column(col, overflow="fold")
    for x in s.get("markets", []):
        m.add_row(x["market_id"][:12], state_label(x, x.get("outcomes")),
                  _iso(x["window_ends_at"]) if x.get("window_ends_at") is not None else "",
                  _case_text(x.get("case")), f"{x['fees']['pot_wei'] / 10**18:g} ETH",
                  f"{x['fees']['paid_wei'] / 10**18:g} ETH ({x['fees']['signer_claims']} signers"
                  f"{', prover' if x['fees']['prover_paid'] else ''})")
    return Group(t, f, m)


def _case_text(case: dict | None) -> str:
    if not case:
        return ""
    return f"{case['disputer'][:10]} bond {case['bond_wei'] / 10**18:g} ETH, ruling {case['ruling']}"


@app.command("down")
@handles_errors
def down() -> None:
    """Stop exactly what `devnet up` started (by PID and process group)."""
    from network.devnet import Devnet

    stopped = Devnet(_root()).down()
    out.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
