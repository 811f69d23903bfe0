"""A network role's own directory and what it keeps there: its configuration and key, its event log
(one JSON line per event), and small SQLite tables of JSON rows.

    role.json       {"role", "name", "key", "port", "rpc_url", "trusted_srs", ...}: the role's configuration
    keys/           its own key only (and its BLS key, for a validator that signs shares)
    deployments/    the contracts it talks to
    store/          content-addressed artifacts
    events.jsonl    its log

Nothing in it is shared with another role's process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from oracle.errors import OracleError
from oracle.store import ArtifactStore


class EventLog:
    """One JSON object per line: {"ts", "role", "event", ...fields}. Written to the role's log file
    (and stderr), flushed per line so a SIGKILL loses nothing already said."""

    def __init__(self, role: str, path: Path | None = None):
        self.role = role
        self.path = path
        self._f = open(path, "a", buffering=1) if path else None

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "role": self.role, "event": event, **fields},
                          default=str, sort_keys=True)
        if self._f:
            self._f.write(line + "\n")
        print(line, file=sys.stderr, flush=True)


def read_events(path: Path) -> list[dict]:
    """Every event of a role's log, in order (a line cut by a kill is skipped)."""
    if not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    return out


class JsonRows:
    """A tiny SQLite table of JSON rows keyed by (market_id, round, who)."""

    def __init__(self, path: Path, table: str):
        self.path, self.table = path, table
        with closing(sqlite3.connect(path)) as db, db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} (market_id TEXT, round INTEGER, who TEXT, "
                       "doc TEXT, PRIMARY KEY (market_id, round, who))")

    def get(self, market_id: str, round_: int, who: str) -> dict | None:
        with closing(sqlite3.connect(self.path)) as db:
            r = db.execute(f"SELECT doc FROM {self.table} WHERE market_id=? AND round=? AND who=?",
                           (market_id, round_, who)).fetchone()
        return json.loads(r[0]) if r else None

    def put(self, market_id: str, round_: int, who: str, doc: dict) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES (?, ?, ?, ?)",
                       (market_id, round_, who, json.dumps(doc)))

    def delete(self, market_id: str, round_: int, who: str) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(f"DELETE FROM {self.table} WHERE market_id=? AND round=? AND who=?", (market_id, round_, who))

    def replace(self, market_id: str, round_: int, who: str, doc: dict) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?, ?)",
                       (market_id, round_, who, json.dumps(doc)))

    def count(self) -> int:
        with closing(sqlite3.connect(self.path)) as db:
            return db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]

    def all(self) -> list[dict]:
        with closing(sqlite3.connect(self.path)) as db:
            return [json.loads(r[0]) for r in db.execute(f"SELECT doc FROM {self.table} ORDER BY rowid")]


class NonceStore:
    """The nonces of signed envelopes this role accepted, kept (in SQLite, so a restart forgets none)
    until the envelope expires; past that its expiry refuses it anyway, and the row is pruned."""

    def __init__(self, path: Path):
        self.path = path
        with closing(sqlite3.connect(path, timeout=30)) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS nonces (signer TEXT, nonce TEXT, exp INTEGER, "
                       "PRIMARY KEY (signer, nonce))")

    def use(self, signer: str, nonce: str, exp: int, *, now: float | None = None) -> bool:
        """Record (signer, nonce); False if it was recorded before (a replay)."""
        t = time.time() if now is None else now
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute("DELETE FROM nonces WHERE exp < ?", (int(t) - 1,))
            cur = db.execute("INSERT OR IGNORE INTO nonces VALUES (?, ?, ?)", (signer.lower(), nonce, int(exp)))
            return cur.rowcount == 1

    def count(self) -> int:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            return db.execute("SELECT COUNT(*) FROM nonces").fetchone()[0]


class RoleHome:
    """A role's own directory, opened: its configuration (`cfg`), key, log, chain, deployment and store."""

    def __init__(self, home: str | os.PathLike, *, password: str | None = None):
        from oracle.chain import Chain
        from oracle.deployment import Deployment
        from oracle.keystore import KeyStore, password_from_env

        self.home = Path(home)
        self.cfg = json.loads((self.home / "role.json").read_text())
        self.role, self.name = self.cfg["role"], self.cfg["name"]
        self.log = EventLog(self.name, self.home / "events.jsonl")
        pw = password if password is not None else password_from_env()
        if pw is None:
            raise OracleError("set ORACLE_KEYSTORE_PASSWORD for a network role")
        keys = KeyStore(self.home / "keys")
        self.key = keys.load(self.cfg["key"], pw)
        # a validator that also signs BLS shares (aggregate settlement) holds a BLS key beside its own
        self.bls_key = keys.load_bls(self.cfg["key"], pw) if self.cfg.get("bls") else None
        self.chain = Chain.rpc(self.cfg["rpc_url"], retries=int(self.cfg.get("rpc_retries", 8)),
                               on_retry=lambda what, attempt, error: self.log(
                                   "error", reason=f"node unreachable ({what}: {error}), retry {attempt}"))
        self.dep = Deployment.load(self.chain, self.home / "deployments")
        self.store = ArtifactStore(self.home / "store")
        self._trust_configured_srs()

    def _trust_configured_srs(self) -> None:
        """role.json `trusted_srs`: the SRS hashes this role accepts proofs under (replacing the
        previously configured set; a peer's model record can name an SRS, never make it trusted)."""
        from oracle.models import trust_srs

        srs = self.cfg.get("trusted_srs", [])
        if not isinstance(srs, list) or not all(isinstance(a, str) for a in srs):
            raise OracleError(f"{self.home / 'role.json'}: trusted_srs must be a list of SRS hashes")
        trust_srs(self.store, [a.lower() for a in srs], source="config")

    def peers(self, kind: str) -> list[str]:
        return list(self.cfg.get(kind, []))
