"""A node's local state (SQLite): markets it knows, rounds it dispatched, cursors, skips, scores.

Rounds move pending -> running -> settled (or failed / retry). `claim` is an
atomic compare-and-set, so two workers (or a restarted scheduler) never run
the same round at once; a round left `running` by a crash is resumed, and the
chain's one-resolution rule makes a resumed settlement idempotent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS markets (
    market_id TEXT PRIMARY KEY,
    spec_hash TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    resolve_at INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    market_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome INTEGER,
    probability_ppm INTEGER,
    tx_hash TEXT,
    detail TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (market_id, round)
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS skipped (
    origin TEXT NOT NULL, external_id TEXT NOT NULL, reason TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (origin, external_id)
);
CREATE TABLE IF NOT EXISTS scores (
    market_id TEXT PRIMARY KEY, n INTEGER NOT NULL, brier REAL NOT NULL, log_loss REAL NOT NULL,
    accuracy REAL NOT NULL, model_id TEXT NOT NULL, detail TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class RoundRow:
    market_id: str
    round: int
    due_at: int
    status: str
    attempts: int
    outcome: int | None
    probability_ppm: int | None
    tx_hash: str | None
    detail: str | None


class LocalState:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------- markets
    def add_market(self, spec, origin: str, rounds: list[tuple[int, int]]) -> bool:
        """Insert a market and its (round, due_at) rounds. False if it was already known."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM markets WHERE market_id=?", (spec.market_id,)).fetchone():
                return False
            db.execute(
                "INSERT INTO markets VALUES (?,?,?,?,?,?,?)",
                (spec.market_id, spec.spec_hash, spec.canonical().decode(), spec.kind, origin,
                 spec.resolve_at_unix, time.time()),
            )
            for r, due in rounds:
                db.execute("INSERT INTO rounds (market_id, round, due_at, updated_at) VALUES (?,?,?,?)",
                           (spec.market_id, r, due, time.time()))
            return True

    def markets(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM markets ORDER BY resolve_at, market_id").fetchall()
        return [dict(r) for r in rows]

    def market(self, market_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            r = db.execute("SELECT * FROM markets WHERE market_id=?", (market_id,)).fetchone()
        return dict(r) if r else None

    def spec_json(self, market_id: str) -> dict[str, Any] | None:
        m = self.market(market_id)
        return json.loads(m["spec_json"]) if m else None

    # -------------------------------------------------------------- rounds
    def rounds(self, market_id: str | None = None) -> list[RoundRow]:
        with self._db() as db:
            if market_id:
                rows = db.execute("SELECT * FROM rounds WHERE market_id=? ORDER BY round", (market_id,)).fetchall()
            else:
                rows = db.execute("SELECT * FROM rounds ORDER BY due_at, market_id, round").fetchall()
        return [RoundRow(r["market_id"], r["round"], r["due_at"], r["status"], r["attempts"], r["outcome"],
                         r["probability_ppm"], r["tx_hash"], r["detail"]) for r in rows]

    def claim(self, market_id: str, round: int) -> RoundRow | None:
        """pending/retry/running -> running, attempts+1. None if settled, failed or unknown."""
        with self.transaction() as db:
            r = db.execute("SELECT status FROM rounds WHERE market_id=? AND round=?", (market_id, round)).fetchone()
            if r is None or r["status"] in ("settled", "failed"):
                return None
            db.execute("UPDATE rounds SET status='running', attempts=attempts+1, updated_at=? "
                       "WHERE market_id=? AND round=?", (time.time(), market_id, round))
        return next(x for x in self.rounds(market_id) if x.round == round)

    def finish(self, market_id: str, round: int, *, status: str, outcome: int | None = None,
               probability_ppm: int | None = None, tx_hash: str | None = None, detail: str | None = None,
               due_at: int | None = None) -> None:
        """Record how a run ended; `due_at` moves a retried round's next due time."""
        assert status in ("settled", "failed", "retry")
        with self.transaction() as db:
            db.execute(
                "UPDATE rounds SET status=?, outcome=COALESCE(?, outcome), probability_ppm=COALESCE(?, probability_ppm), "
                "tx_hash=COALESCE(?, tx_hash), detail=?, due_at=COALESCE(?, due_at), updated_at=? "
                "WHERE market_id=? AND round=?",
                (status, outcome, probability_ppm, tx_hash, detail, due_at, time.time(), market_id, round),
            )

    # ------------------------------------------------------------- cursors
    def cursor(self, name: str, default: str | None = None) -> str | None:
        with self._db() as db:
            r = db.execute("SELECT value FROM cursors WHERE name=?", (name,)).fetchone()
        return r["value"] if r else default

    def set_cursor(self, name: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO cursors VALUES (?,?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                       (name, value))

    # ------------------------------------------------------------- skipped
    def skip(self, origin: str, external_id: str, reason: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO skipped VALUES (?,?,?,?) ON CONFLICT(origin, external_id) DO UPDATE "
                       "SET reason=excluded.reason, seen_at=excluded.seen_at", (origin, external_id, reason, time.time()))

    def skipped(self) -> list[dict[str, Any]]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM skipped ORDER BY origin, external_id")]

    # -------------------------------------------------------------- scores
    def set_score(self, market_id: str, *, n: int, brier: float, log_loss: float, accuracy: float,
                  model_id: str, detail: list[dict]) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?)",
                       (market_id, n, brier, log_loss, accuracy, model_id, json.dumps(detail)))

    def reputation(self, model_id: str) -> dict[str, Any]:
        """A model's public track record: Brier and log loss over every scored forecast it made."""
        with self._db() as db:
            rows = db.execute("SELECT n, brier, log_loss, accuracy FROM scores WHERE model_id=?",
                              (model_id,)).fetchall()
        n = sum(r["n"] for r in rows)
        if not n:
            return {"model_id": model_id, "markets": 0, "forecasts": 0, "brier": None, "log_loss": None,
                    "accuracy": None}
        return {
            "model_id": model_id, "markets": len(rows), "forecasts": n,
            "brier": sum(r["brier"] * r["n"] for r in rows) / n,
            "log_loss": sum(r["log_loss"] * r["n"] for r in rows) / n,
            "accuracy": sum(r["accuracy"] * r["n"] for r in rows) / n,
        }

    def score(self, market_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            r = db.execute("SELECT * FROM scores WHERE market_id=?", (market_id,)).fetchone()
        if not r:
            return None
        d = dict(r)
        d["detail"] = json.loads(d["detail"])
        return d
