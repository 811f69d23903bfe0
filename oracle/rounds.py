"""The round driver: how every round runs, in node mode and in network mode.

claim -> spec -> on-chain state -> run -> finish, in one place. The *work* is injected: a node
proves and reviews in-process (`network/node`), the network scheduler asks provers and validators
over HTTP (`network/coordinator.py`). What is the same for both lives here:

- a round is claimed in the local state first (a restart resumes; a settled round never runs again);
- the chain is the source of truth: a round already on-chain (a crash after the transaction,
  another aggregator, a forecast made moot by the market's resolution) is finished from there;
- one retry policy: a round that could not settle now is `retry`, due again after an exponential
  backoff (first_s doubling to max_s), never dropped; only the work may call a round `failed`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

from .errors import OracleError


@dataclass(frozen=True)
class Backoff:
    first_s: float = 2.0
    max_s: float = 30.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1, 2, ...)."""
        return min(self.first_s * 2 ** max(attempts - 1, 0), self.max_s)


@dataclass(frozen=True)
class Claimed:
    """A round this driver holds: its spec (parsed once), and how many times it was tried."""

    market_id: str
    round: int
    attempts: int
    spec: Any

    @property
    def key(self) -> tuple[str, int]:
        return (self.market_id, self.round)

    @property
    def final(self) -> bool:
        return self.spec.round(self.round).final


@dataclass(frozen=True)
class Done:
    """What became of one round."""

    status: str  # "settled" | "retry" | "failed"
    detail: str = ""
    outcome: int | None = None
    probability_ppm: int | None = None
    tx_hash: str | None = None

    @classmethod
    def on_chain(cls, found: dict, detail: str) -> "Done":
        return cls("settled", detail, found.get("outcome"), found.get("probability_ppm"))


class Work(Protocol):
    def companions(self, first: Claimed) -> Iterable[tuple[str, int]]:
        """Other due rounds worth running with `first` (a shared proof); may be empty."""
        ...

    def run(self, rounds: list[Claimed]) -> dict[tuple[str, int], Done]:
        """Run rounds known not to be on-chain yet. A round missing from the answer is retried."""
        ...


class RoundDriver:
    """Drives rounds kept in a `LocalState` against a `Deployment`, with the work injected.

    `spec_of(market_id)` returns the parsed spec (callers cache it); `on_done(claimed, done)` hears
    every finished round; `log(event, **fields)` hears `round_waiting` and `round_settled`.
    """

    def __init__(self, state, deployment, spec_of: Callable[[str], Any], work: Work, *,
                 backoff: Backoff = Backoff(), on_done: Callable[[Claimed, Done], None] = lambda c, d: None,
                 log: Callable[..., None] = lambda event, **fields: None):
        self.state = state
        self.dep = deployment
        self.spec_of = spec_of
        self.work = work
        self.backoff = backoff
        self.on_done = on_done
        self.log = log

    def claim(self, market_id: str, index: int) -> Claimed | None:
        row = self.state.claim(market_id, index)
        if row is None:
            return None
        return Claimed(market_id, index, row.attempts, self.spec_of(market_id))

    def drive(self, market_id: str, index: int, *, companions: bool = True) -> str:
        """Run one round (and, with `companions`, the other due rounds the work asks to run with it).
        Returns this round's new status, or "skipped" when it is not claimable (settled, failed,
        unknown)."""
        t0 = time.time()
        first = self.claim(market_id, index)
        if first is None:
            return "skipped"
        claimed = [first]
        for key in (self.work.companions(first) if companions else ()):
            if any(c.key == tuple(key) for c in claimed):
                continue  # claiming a running round again would count a second attempt
            other = self.claim(*key)
            if other is not None:
                claimed.append(other)
        results: dict[tuple[str, int], Done] = {}
        pending = []
        for c in claimed:
            found = self.dep.round_result(c.market_id, c.round, final=c.final)
            if found is None:
                pending.append(c)
            else:
                results[c.key] = Done.on_chain(found, "moot: the market resolved, or its resolve time came, first"
                                               if found.get("moot") else "found on-chain")
        if pending:
            try:
                results.update(self.work.run(pending))
            except OracleError as e:
                results.update({c.key: Done("retry", str(e)) for c in pending if c.key not in results})
        for c in claimed:
            self._finish(c, results.get(c.key) or Done("retry", "the work gave no result"), t0)
        return results[first.key].status if first.key in results else "retry"

    def _finish(self, c: Claimed, done: Done, t0: float) -> None:
        due_at = None
        if done.status == "retry":
            wait = self.backoff.delay(c.attempts)
            due_at = int(time.time() + wait + 0.999)
            self.log("round_waiting", market_id=c.market_id, round=c.round, attempt=c.attempts, reason=done.detail,
                     retry_in_s=wait)
        self.state.finish(c.market_id, c.round, status=done.status, outcome=done.outcome,
                          probability_ppm=done.probability_ppm, tx_hash=done.tx_hash, detail=done.detail,
                          due_at=due_at)
        if done.status == "settled":
            self.log("round_settled", market_id=c.market_id, round=c.round, seconds=round(time.time() - t0, 2),
                     outcome=done.outcome, probability_ppm=done.probability_ppm, tx=done.tx_hash, detail=done.detail)
        self.on_done(c, done)
