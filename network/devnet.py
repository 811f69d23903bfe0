"""`oracle devnet up|status|down|market`: every role its own process on 127.0.0.1, on anvil.

`up` starts anvil (state kept in a file, so a restart resumes the chain; genesis at `start`, by
default the demo's replay start in March 2019, so that markets on the bundled historical data can be
registered before their events and time then moved on with `advance_to`), creates one key per role
in that role's own home, deploys (each validator bonds 10 ETH in `ValidatorStaking`, whose first
epoch installs them as the oracle's set), and starts: the scheduler, the provers, n validators and
the aggregators (`--aggregators`, default 2: any validator operator can run one). Everything
started is recorded in `devnet.json` by PID and process group; `down` stops exactly those. Its
markets are registered with a short dispute window (`dispute_window`, default 120 s: a quorum's
resolution is proposed, then final) and a resolution fee (`fee`, default 0.01 ETH), which the
aggregators claim for the signers and the prover once final.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from oracle.anvil import AnvilNode, free_port, start_anvil
from oracle.errors import OracleError
from oracle.store import atomic_write

ROOT = Path(__file__).resolve().parent.parent
REPLAY_START = 1552176000  # 2019-03-10T00:00:00Z (markets.demo.REPLAY_START): before the bundled markets' events
DISPUTE_WINDOW = 120  # seconds a devnet market's proposed resolution stays disputable
FEE = 10**16  # 0.01 ETH: the resolution fee a devnet market's creator escrows
SERVE = {"prover": ["prover", "serve"], "validator": ["validator", "serve"],
         "aggregator": ["aggregator", "serve"], "scheduler": ["scheduler", "run"]}


@dataclass
class Role:
    name: str
    role: str
    home: Path
    port: int
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
            return Path(f"/proc/{self.pid}/stat").read_text().split()[2] != "Z"
        except (ProcessLookupError, OSError):
            return False

    def health(self, timeout: float = 1.0) -> dict | None:
        try:
            r = httpx.get(f"{self.url}/v1/health", timeout=timeout)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None


class Devnet:
    def __init__(self, root: Path, *, password: str | None = None):
        self.root = Path(root)
        self.password = password  # handed to the roles' environment, never written to a file
        self.file = self.root / "devnet.json"
        doc = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.doc: dict[str, Any] = doc
        self.roles = {r["name"]: Role(r["name"], r["role"], Path(r["home"]), r["port"], r.get("pid"))
                      for r in doc.get("roles", [])}
        self._procs: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------------ files
    def save(self) -> None:
        self.doc["roles"] = [{"name": r.name, "role": r.role, "home": str(r.home), "port": r.port, "pid": r.pid}
                             for r in self.roles.values()]
        atomic_write(self.file, json.dumps(self.doc, indent=2).encode())

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.doc['anvil']['port']}"

    def anvil(self) -> AnvilNode:
        a = self.doc["anvil"]
        return AnvilNode(a["pid"], a["port"], Path(a["log"]))

    # -------------------------------------------------------------------- up
    @classmethod
    def up(cls, root: Path, *, validators: int = 7, threshold: int = 5, provers: int = 1, aggregators: int = 2,
           validator_aggregators: int = 0, bls: bool = False, password: str, overrides: dict[str, dict] | None = None,
           timeout: float = 120.0, start: int | None = REPLAY_START, bond: int | None = 10 * 10**18,
           dispute_window: int = DISPUTE_WINDOW, fee: int = FEE) -> "Devnet":
        """`start`: the chain's genesis time (unix; None: now). `bond` (wei): each validator bonds this
        much in `ValidatorStaking`, which owns the oracle's set (None: a fixed set, no staking).
        `dispute_window` (seconds) and `fee` (wei): what `demo_market` registers its markets with."""
        from oracle.chain import Chain
        from oracle.keystore import KeyStore

        from .provision import deploy, fund, register_bls_keys

        root = Path(root)
        if (root / "devnet.json").exists() and any(r.alive() for r in cls(root).roles.values()):
            raise OracleError(f"a devnet is already running from {root} (oracle devnet down first)")
        if threshold > validators or threshold * 2 <= validators:
            raise OracleError(f"threshold {threshold} of {validators}: needs a strict majority, at most n")
        from markets.spec import MAX_DISPUTE_WINDOW

        if not 0 <= dispute_window <= MAX_DISPUTE_WINDOW:
            raise OracleError(f"dispute_window: {dispute_window} s must be in [0, {MAX_DISPUTE_WINDOW}] (7 days)")
        root.mkdir(parents=True, exist_ok=True)
        net = cls(root, password=password)
        node = start_anvil(log_dir=root / "anvil", state_file=root / "anvil" / "state.json", timestamp=start)
        net.doc = {"anvil": node.to_json(), "state_file": str(root / "anvil" / "state.json"), "start": start,
                   "validators": validators, "threshold": threshold, "started": time.time(),
                   "dispute_window": dispute_window, "fee_wei": fee}
        net.roles = {}
        chain = Chain.rpc(node.url)
        names = (["scheduler", "creator", "deployer"] + [f"prover-{i}" for i in range(provers)]
                 + [f"validator-{i}" for i in range(validators)] + [f"aggregator-{i}" for i in range(aggregators)])
        keystores = {name: KeyStore(root / name / "keys") for name in names}  # each role holds only its own key
        signers = {name: keystores[name].ensure(name, password) for name in names}
        fund(chain, signers.values(), below=100 * 10**18)
        for name in names:
            role = name.split("-")[0]
            if role not in ("creator", "deployer"):
                net.roles[name] = Role(name, role, root / name, free_port())
        validator_names = [f"validator-{i}" for i in range(validators)]
        members = sorted((signers[n] for n in validator_names), key=lambda s: int(s.address, 16))
        dep = deploy(chain, signers["deployer"], members, threshold,
                     save_to=[root / name / "deployments" for name in names], bond=bond)
        if bls:  # every validator gets a BLS key, registered with its proof of possession
            register_bls_keys(dep, [(signers[n], keystores[n], n) for n in validator_names], password,
                              fund_first=False)
        sched = net.roles["scheduler"]
        urls = lambda role: [r.url for r in net.roles.values() if r.role == role]
        # the first `validator_aggregators` validators also aggregate (any validator can)
        aggregating = [f"validator-{i}" for i in range(min(validator_aggregators, validators))]
        base = {"rpc_url": node.url}
        configs = {
            "scheduler": {"url": sched.url, "provers": urls("prover"), "validators": urls("validator"),
                          "poll_s": 0.5, "prove_timeout_s": 90, "settle_wait_s": 30},
            "prover": {"trusted": [signers["scheduler"].address]},
            "validator": {"trusted": [signers["scheduler"].address],
                          "aggregators": urls("aggregator") + [net.roles[v].url for v in aggregating],
                          "artifacts": [sched.url]},
            "aggregator": {"artifacts": [sched.url]},
        }
        for r in net.roles.values():
            cfg = {"role": r.role, "name": r.name, "key": r.name, "port": r.port, **base, **configs[r.role],
                   **({"aggregate": True} if r.name in aggregating else {}),
                   **({"bls": True} if bls and r.role == "validator" else {}),
                   **({"scheme": "bls"} if bls and (r.role == "aggregator" or r.name in aggregating) else {}),
                   **(overrides or {}).get(r.name, {})}
            atomic_write(r.home / "role.json", json.dumps(cfg, indent=2).encode())
        net.doc["scheduler_url"] = sched.url
        net.save()
        # provers first, one at a time (the first compiles the model into the shared cache, the
        # others load it), then the rest
        for r in [r for r in net.roles.values() if r.role == "prover"]:
            net.start(r.name)
            net.wait_healthy([r.name], timeout=max(timeout, 900))
        net.trust_provers_srs(overrides or {})
        for r in net.roles.values():
            net.start(r.name)
        net.wait_healthy(timeout=timeout)
        return net

    def trust_provers_srs(self, overrides: dict[str, dict]) -> None:
        """Write into each validator's role.json the SRS hashes its operator trusts: here, the ones
        this devnet's provers compiled with (read from their stores on this disk, not asked of any
        peer). A validator whose overrides name `trusted_srs` keeps its own."""
        from oracle.models import trusted_srs
        from oracle.store import ArtifactStore

        srs = sorted(set().union(*(trusted_srs(ArtifactStore(r.home / "store"))
                                   for r in self.roles.values() if r.role == "prover")))
        for r in self.roles.values():
            if r.role != "validator" or "trusted_srs" in overrides.get(r.name, {}):
                continue
            cfg = json.loads((r.home / "role.json").read_text())
            atomic_write(r.home / "role.json", json.dumps({**cfg, "trusted_srs": srs}, indent=2).encode())

    # ------------------------------------------------------------- processes
    def start(self, name: str) -> Role:
        r = self.roles[name]
        if r.alive():
            return r
        out = open(r.home / "process.log", "ab")
        cmd = [sys.executable, str(ROOT / "cli.py"), *SERVE[r.role], "--role-home", str(r.home)]
        from oracle.keystore import PASSWORD_ENV

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.password is not None:
            env[PASSWORD_ENV] = self.password
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=ROOT, env=env)
        self._procs[name] = proc
        r.pid = proc.pid
        self.save()
        return r

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
        r = self.roles[name]
        if r.pid is None:
            return
        try:
            os.killpg(r.pid, sig)
        except ProcessLookupError:
            pass
        proc = self._procs.pop(name, None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    break
            elif not r.alive():
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(r.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc is not None:
                proc.wait()

    def wait_healthy(self, names: list[str] | None = None, timeout: float = 120.0) -> None:
        names = names or list(self.roles)
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for n in list(pending):
                r = self.roles[n]
                if not r.alive():
                    tail = (r.home / "process.log").read_text()[-2000:] if (r.home / "process.log").exists() else ""
                    raise OracleError(f"{n} exited while starting:\n{tail}")
                if r.health():
                    pending.discard(n)
            time.sleep(0.2)
        if pending:
            raise OracleError(f"not healthy after {timeout} s: {sorted(pending)}")

    def stop_anvil(self) -> None:
        self.anvil().stop()

    def restart_anvil(self) -> None:
        """Start anvil again on its port from its state file. A replay chain's clock goes on from its
        last block (anvil would jump a reloaded chain to the wall clock)."""
        state_file = Path(self.doc["state_file"])
        node = start_anvil(port=self.doc["anvil"]["port"], log_dir=self.root / "anvil", state_file=state_file,
                           timestamp=_last_block_time(state_file) if self.doc.get("start") else None)
        self.doc["anvil"] = node.to_json()
        self.save()

    def down(self) -> list[str]:
        stopped = []
        for r in self.roles.values():
            if r.alive():
                self.kill(r.name, signal.SIGTERM)
                stopped.append(r.name)
        a = self.anvil()
        if a.alive():
            a.stop()
            stopped.append("anvil")
        return stopped

    # -------------------------------------------------------------- markets
    def register_market(self, spec, *, password: str) -> str:
        """As a market creator: register on-chain with the creator's key, then hand the scheduler the spec."""
        from oracle.keystore import KeyStore
        from .transport import post

        from markets.spec import MarketSpec

        creator = KeyStore(self.root / "creator" / "keys").load("creator", password)
        dep = self.deployment()
        now = datetime.fromtimestamp(dep.chain.timestamp(), timezone.utc)
        MarketSpec.parse(spec.to_json(), now=now)  # refused once trading has closed by the chain's clock
        if not dep.is_registered(spec.market_id):
            dep.register_market(creator, **spec.onchain(), fee=max(self.fee, dep.court.parameters().min_fee))
        post(f"{self.doc['scheduler_url']}/v1/specs", json.loads(spec.canonical()))
        return spec.market_id

    @property
    def fee(self) -> int:
        """The resolution fee (wei) this devnet's creator pays per market."""
        return int(self.doc.get("fee_wei", FEE))

    @property
    def dispute_window(self) -> int:
        return int(self.doc.get("dispute_window", DISPUTE_WINDOW))

    def tick(self) -> int:
        """Mine one empty block: a quiet dev chain shows time passing (a dispute window ending) only in
        a new block's timestamp. Returns it."""
        return self.deployment().chain.advance_time(0)

    def markets(self) -> list[dict[str, Any]]:
        """Every market the scheduler tracks, with the dispute court's state (proposed -> final), when
        its window ends, the case and the fees; newest registration last."""
        from oracle.state import LocalState

        from .fees import finality

        path = self.roles["scheduler"].home / "state.sqlite" if "scheduler" in self.roles else None
        if path is None or not path.exists():
            return []
        dep = self.deployment()
        rows = []
        for m in LocalState(path).markets():
            spec = json.loads(m["spec_json"])
            rows.append({"market_id": m["market_id"], "question": spec["question"], "outcomes": spec["outcomes"],
                         "dispute_window": spec.get("dispute_window", 0), **finality(dep, m["market_id"])})
        return rows

    def scheduler_status(self) -> dict | None:
        try:
            return httpx.post(f"{self.doc['scheduler_url']}/v1/status", json={}, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    def deployment(self):
        from oracle.chain import Chain
        from oracle.deployment import Deployment

        return Deployment.load(Chain.rpc(self.rpc_url), self.root / "creator" / "deployments")

    # ------------------------------------------------------------ observing
    def resolutions(self, market_id: str) -> list[dict]:
        """Every `Resolved` event for a market (more than one would be a double settlement)."""
        return [e.to_json() for e in self.deployment().resolved_events(market_id)]

    def wait_settled(self, market_id: str, timeout: float = 120.0) -> float:
        """Seconds until the market is resolved on-chain; OracleError on timeout."""
        t0 = time.monotonic()
        dep = None
        while time.monotonic() - t0 < timeout:
            try:
                dep = dep or self.deployment()
                if dep.is_resolved(market_id):
                    return time.monotonic() - t0
            except Exception:
                dep = None  # the node is down: ask again
            time.sleep(0.25)
        raise OracleError(f"market {market_id} not settled within {timeout} s")

    def events(self, name: str) -> list[dict]:
        from .home import read_events

        return read_events(self.roles[name].home / "events.jsonl")

    # ----------------------------------------------------------------- time
    def now(self) -> int:
        """The oracle's time: the chain's latest block (unix seconds)."""
        return self.deployment().chain.timestamp()

    def advance_to(self, when: int) -> int:
        """Move the chain's clock on to `when` (unix seconds) if it is behind: time passes, rounds fall due."""
        chain = self.deployment().chain
        now = chain.timestamp()
        return chain.advance_time(when - now) if when > now else now

    def prover_models(self) -> dict:
        """The first prover's models: {"forecaster": id, "resolvers": {width: id}} (from its health)."""
        prover = next(r for r in self.roles.values() if r.role == "prover")
        doc = httpx.get(f"{prover.url}/v1/health", timeout=5).json()
        return {"forecaster": doc["forecaster"], "resolvers": doc["resolvers"]}

    def demo_market(self, at: str, value: float, *, password: str, forecast_from: str | None = None,
                    every_days: int = 2) -> str:
        """"Will BTC close above `value` on `at` (UTC)?" from the bundled providers, resolved by the
        provers' resolver; with `forecast_from` (a date before `at`) the reference forecaster also posts
        a forecast every `every_days`. Registered as the creator, handed to the scheduler; the chain's
        clock must be before `at` (tests, benchmarks, CLI)."""
        models = self.prover_models()
        # the set's threshold now: a slashed member leaves a smaller set, whose t the market must be able to meet
        quorum = min(self.doc["threshold"], self.deployment().threshold())
        spec = btc_above_spec(at, value, resolver=models["resolvers"]["1"], quorum=quorum,
                              forecaster=models["forecaster"] if forecast_from else None,
                              forecast_from=forecast_from, every_days=every_days,
                              dispute_window=self.dispute_window)
        return self.register_market(spec, password=password)

    def signed_outcome(self, market_id: str, validator: str = "validator-0") -> int | None:
        """The outcome `validator` signed for the market's final round (None if it has not)."""
        from .home import JsonRows

        rows = JsonRows(self.roles[validator].home / "votes.sqlite", "votes")
        for doc in rows.all():
            if doc["resolution"]["market_id"] == market_id and doc["resolution"]["final"]:
                return doc["resolution"]["outcome"]
        return None

    def wait_event(self, name: str, event: str, timeout: float = 30.0, **match: Any) -> dict:
        """The first `event` in `name`'s log whose fields include `match` (the chain can show a
        settlement before the submitter has logged it)."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events(name):
                if e.get("event") == event and all(e.get(k) == v for k, v in match.items()):
                    return e
            if time.monotonic() > deadline:
                raise OracleError(f"{name} logged no {event} {match} within {timeout} s")
            time.sleep(0.2)

    def reap(self, timeout: float = 10.0) -> None:
        """Collect the exit status of the processes this object started (stopped elsewhere, e.g. by
        `oracle devnet down`), so none is left a zombie."""
        for proc in self._procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()


def _last_block_time(state_file: Path) -> int | None:
    """The latest block's time in an anvil state file (None if there is none yet)."""
    try:
        blocks = json.loads(state_file.read_text()).get("blocks") or []
        return max(int(b["header"]["timestamp"], 16) for b in blocks) + 1
    except (OSError, ValueError, KeyError, TypeError):
        return None


def btc_above_spec(at: str, value: float, *, resolver: str, quorum: int, forecaster: str | None = None,
                   forecast_from: str | None = None, every_days: int = 2, dispute_window: int = 0,
                   hourly: bool = False):
    """A version-2 "BTC close above `value` on `at`?" market over the bundled providers that have the
    day (Coinbase's file ends in November 2020): trading closes when the day opens, it resolves when
    the day is over; a quorum's resolution stays disputable `dispute_window` seconds. With `hourly`, the
    forecaster is the hourly-volatility one (recipe trailing_returns_hourly_vol_v1 on Bitstamp's hourly
    bars, btc-bitstamp-1h)."""
    from datetime import timedelta

    from markets.demo import BTC_2019, BTC_2021, BTC_SOURCE, SOURCES, DemoMarket, demo_spec

    day = datetime.strptime(at, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    names = BTC_2019 if at < "2020-11-01" else BTC_2021
    forecast = None
    if forecast_from is not None:
        horizon = (day - datetime.strptime(forecast_from, "%Y-%m-%d").replace(tzinfo=timezone.utc)).days
        forecast = {"source": BTC_SOURCE, "every_days": every_days,
                    "features": {"recipe": "trailing_returns_hourly_vol_v1" if hourly else "trailing_returns_v1",
                                 "params": {"as_of": forecast_from, "horizon_days": horizon, "threshold_price": value}}}
        if hourly:
            forecast["hourly_source"] = SOURCES["btc-bitstamp-1h"]
    market = DemoMarket(
        f"Will BTC close above ${value:,} on {at} (UTC day)?", ("YES", "NO"),
        {"sources": [SOURCES[n] for n in names], "min_sources": 2, "tolerance": 0.01},
        {"kind": "above", "at": at, "value": value, "above": "YES", "below": "NO"},
        close_at=day.strftime("%Y-%m-%dT%H:%M:%SZ"),
        resolve_at=(day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), forecast=forecast)
    spec = demo_spec(market, lambda width: resolver, forecaster, quorum)
    if dispute_window:
        from markets.spec import MarketSpec

        spec = MarketSpec.parse({**spec.to_json(), "dispute_window": dispute_window})
    return spec
