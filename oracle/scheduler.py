"""APScheduler 3 with a persistent SQLAlchemy job store (SQLite by default, any database URL).

Misfire policy: `misfire_grace_time=None` and `coalesce=True`. A job whose time
passed while the scheduler was down runs once, as soon as it starts again,
however late. Oracle rounds must never be dropped for being late; running a
late round twice is prevented by the node's round state and by the chain.

A date job leaves the store when it starts; a crash mid-run would lose it. So
the round state in LocalState is the source of truth, and `ensure_round_jobs`
re-creates the job of every round that is not settled yet, at every start.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


class ContextExecutor(ThreadPoolExecutor):
    """Hands every job the object it works for, as its keyword argument `context`.

    The persistent store keeps a job as a function's name and plain arguments (market id, round);
    the live object (a node) cannot be stored, so the executor that runs the job supplies it."""

    def __init__(self, context: Any, workers: int):
        super().__init__(workers)
        self.context = context

    def _do_submit_job(self, job, run_times):
        bound = copy.copy(job)  # the stored job stays as it is; only this run gets the context
        bound._jobstore_alias = job._jobstore_alias  # not part of a Job's copied state
        bound.kwargs = {**job.kwargs, "context": self.context}
        super()._do_submit_job(bound, run_times)


def make_scheduler(db_url: str, *, blocking: bool, workers: int = 2, context: Any = None):
    """`context`: handed to every job as its keyword argument `context` (see ContextExecutor)."""
    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(
        jobstores={"default": SQLAlchemyJobStore(url=db_url)},
        executors={"default": ContextExecutor(context, workers) if context is not None else ThreadPoolExecutor(workers)},
        job_defaults=JOB_DEFAULTS,
        timezone=timezone.utc,
    )


def round_job_id(market_id: str, round: int) -> str:
    return f"round:{market_id}:{round}"


def schedule_round(scheduler, job: str, market_id: str, round: int, due_at: int) -> None:
    """`job`: the dispatch function's reference ("module:function")."""
    scheduler.add_job(
        job, trigger="date", run_date=datetime.fromtimestamp(due_at, tz=timezone.utc),
        args=[market_id, round], id=round_job_id(market_id, round), replace_existing=True,
        name=f"dispatch {market_id[:10]} round {round}",
    )


def schedule_pull(scheduler, job: str, every_s: float) -> None:
    scheduler.add_job(job, trigger="interval", seconds=every_s, id="pull", replace_existing=True,
                      name="pull market sources", next_run_time=datetime.now(timezone.utc))


def ensure_round_jobs(scheduler, job: str, rounds: list[Any]) -> int:
    """(Re)create the job of every unsettled round; return how many were missing."""
    missing = 0
    for r in rounds:
        if r.status in ("settled", "failed"):
            continue
        if scheduler.get_job(round_job_id(r.market_id, r.round)) is None:
            missing += 1
        schedule_round(scheduler, job, r.market_id, r.round, r.due_at)
    return missing


def list_jobs(db_url: str) -> list[dict[str, Any]]:
    store = SQLAlchemyJobStore(url=db_url)
    store.start(None, "default")  # type: ignore[arg-type]
    try:
        return [{"id": j.id, "name": j.name, "next_run_time": j.next_run_time.isoformat() if j.next_run_time else None}
                for j in store.get_all_jobs()]
    finally:
        store.shutdown()
