"""`oracle scheduler ...`: the persistent scheduler (in-process node, or network mode's coordinator)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from oracle import config

from .home import password
from .render import JsonOption, emit, handles_errors, out

app = typer.Typer(no_args_is_help=True, help="Persistent jobs: pull sources, dispatch rounds.")


@app.command("run")
@handles_errors
def run(
    until_idle: bool = typer.Option(False, help="Exit when every known round is settled, or when none is due "
                                    "within --horizon by the chain's clock."),
    horizon: float = typer.Option(600.0, "--horizon", min=0, help="With --until-idle: seconds (chain time) "
                                  "within which a round must be due for the scheduler to keep waiting."),
    role_home: Optional[Path] = typer.Option(None, "--role-home", help="Network mode: this role's home "
                                             "(role.json); rounds go to prover/validator processes over HTTP."),
) -> None:
    """Run the persistent scheduler (pull sources on an interval, dispatch each round when due)."""
    if role_home is not None:
        from network.coordinator import build_app

        from .roles import serve_role

        serve_role(role_home, build_app)
        return
    import logging

    from network.node.jobs import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per job run (a pull every 5 s)
    password()  # fail now, not inside a job
    run_scheduler(until_idle=until_idle, idle_horizon_s=horizon if until_idle else None)


@app.command("status")
@handles_errors
def status(as_json: bool = JsonOption) -> None:
    """Jobs in the persistent store, and every round's state."""
    from oracle.scheduler import list_jobs
    from oracle.state import LocalState

    home = config.home()
    jobs = list_jobs(os.environ.get("ORACLE_JOBS_URL", f"sqlite:///{home / 'jobs.sqlite'}"))
    rounds = [r.__dict__ for r in LocalState(home / "state.sqlite").rounds()]
    emit({"jobs": jobs, "rounds": rounds}, as_json, _render)


def _render(doc: dict[str, Any]) -> None:
    table = Table(title="Rounds")
    for col in ("market", "round", "due", "status", "attempts", "tx"):
        table.add_column(col, overflow="fold")
    for r in doc["rounds"]:
        table.add_row(r["market_id"][:18] + "…", str(r["round"]),
                      datetime.fromtimestamp(r["due_at"], timezone.utc).isoformat(), r["status"],
                      str(r["attempts"]), (r["tx_hash"] or "-")[:14])
    out.print(table)
    out.print(f"{len(doc['jobs'])} job(s) in the store")
