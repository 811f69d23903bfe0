"""The node's scheduler: APScheduler with a persistent job store, and the jobs it runs.

Jobs are stored by name with plain arguments (`network.node.jobs:dispatch`, market id, round);
the executor hands each one the running `NodeScheduler` as `context`
(oracle.scheduler.ContextExecutor), so no module holds a node.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from oracle.errors import OracleError

from .runtime import Node

log = logging.getLogger("oracle.node")
PULL = "network.node.jobs:pull"
DISPATCH = "network.node.jobs:dispatch"


class NodeScheduler:
    """One node and its APScheduler (jobs in `ORACLE_JOBS_URL`, default `<home>/jobs.sqlite`)."""

    def __init__(self, node: Node):
        from oracle.scheduler import make_scheduler

        self.node = node
        url = os.environ.get("ORACLE_JOBS_URL", f"sqlite:///{node.home / 'jobs.sqlite'}")
        self.scheduler = make_scheduler(url, blocking=False, context=self)

    def schedule_due(self) -> None:
        """A job for every pending round that has none (markets found by a pull, retried rounds)."""
        from oracle.scheduler import schedule_round

        for r in self.node.state.rounds():
            if r.status in ("pending", "retry") and self.scheduler.get_job(f"round:{r.market_id}:{r.round}") is None:
                schedule_round(self.scheduler, DISPATCH, r.market_id, r.round, r.due_at)

    def run(self, *, until_idle: bool = False, poll_s: float = 0.5, idle_horizon_s: float | None = None) -> None:
        """Run until stopped; with `until_idle`, return once every known round is settled or failed, or
        (`idle_horizon_s`) once every round left is due further than that ahead by the chain's clock.
        Says what it waits for whenever that changes."""
        from oracle.scheduler import ensure_round_jobs, schedule_pull

        self.scheduler.start(paused=True)
        ensure_round_jobs(self.scheduler, DISPATCH, self.node.state.rounds())
        schedule_pull(self.scheduler, PULL, self.node.cfg.pull_interval_s)
        self.scheduler.resume()
        log.info("scheduler running")
        said, checked = None, 0.0
        try:
            while True:
                time.sleep(poll_s)
                if time.monotonic() - checked < 5 * poll_s and not until_idle:
                    continue
                checked = time.monotonic()
                rounds = self.node.state.rounds()
                left = [r for r in rounds if r.status not in ("settled", "failed")]
                if until_idle and rounds and not left:
                    log.info(f"idle: every round of {len({r.market_id for r in rounds})} market(s) is settled or failed")
                    return
                try:  # the chain may be down for a while: the jobs retry, this loop only reports
                    chain_now = self.node.chain.timestamp()
                except OracleError as e:
                    waiting, chain_now = f"waiting for the chain: {e}", None
                else:
                    waiting = _waiting_for(left, chain_now)
                if waiting != said:
                    log.info(waiting)
                    said = waiting
                if until_idle and idle_horizon_s is not None and left and chain_now is not None and \
                        all(r.status != "running" for r in left) and \
                        min(r.due_at for r in left) > chain_now + idle_horizon_s:
                    log.info(f"idle: no round is due within {idle_horizon_s:g} s by the chain's clock; exiting "
                             "(run again later, or without --until-idle to wait)")
                    return
        finally:
            self.scheduler.shutdown(wait=False)


def _waiting_for(left, chain_now: int) -> str:
    """One line: how many rounds are open, and the next one due by the chain's clock."""
    from datetime import datetime, timezone

    if not left:
        return "waiting for markets: no open round (the registry, spec folder and importers are pulled)"
    nxt = min(left, key=lambda r: r.due_at)
    due = datetime.fromtimestamp(nxt.due_at, timezone.utc).strftime("%Y-%m-%d %H:%MZ")
    gap = nxt.due_at - chain_now
    when = "due now" if gap <= 0 else f"due in {gap / 86400:.1f} days" if gap >= 86400 else f"due in {gap:.0f} s"
    return (f"waiting for {len(left)} round(s); next: {nxt.market_id[:10]} round {nxt.round} at {due} "
            f"({when} by the chain's clock, {nxt.status})")


def pull(*, context: NodeScheduler | None = None) -> None:
    _running(context).node.pull()
    context.schedule_due()


def dispatch(market_id: str, round: int, *, context: NodeScheduler | None = None) -> None:
    """Run a due round; a retried round is due again at the time the round driver set."""
    if _running(context).node.dispatch(market_id, round) == "retry":
        context.schedule_due()


def _running(context: NodeScheduler | None) -> NodeScheduler:
    if context is None:  # the store's default; only a NodeScheduler's executor runs these jobs
        raise OracleError("a node job ran outside a node scheduler")
    return context


def run_scheduler(home: Path | None = None, *, until_idle: bool = False, idle_horizon_s: float | None = None) -> None:
    """`oracle scheduler run`: this home's node and its scheduler, in this process."""
    NodeScheduler(Node(home, on_log=log.info)).run(until_idle=until_idle, idle_horizon_s=idle_horizon_s)
