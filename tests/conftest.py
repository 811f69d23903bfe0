"""Shared fixtures. The circuit compiles once per machine (disk cache) and once per
session (fixture); one real proof is made per session and reused by every test
that only needs *a* valid bundle."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from network.local import LocalNetwork
from oracle.settlement import tx_hash_of

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ORACLE_CACHE", str(ROOT / ".oracle-cache"))


def wait_until(predicate, timeout: float, what: str, *, log: Path | None = None, interval: float = 0.2):
    """Poll `predicate` until it returns something true (returned), else AssertionError naming `what`
    (with the tail of `log`, a process's log file, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what} ({timeout:g} s)\n{tail}")


@pytest.fixture(scope="session", autouse=True)
def _oracle_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("oracle-home")
    os.environ["ORACLE_HOME"] = str(home)
    yield home


@pytest.fixture(scope="session")
def store(_oracle_home):
    from oracle.store import ArtifactStore

    return ArtifactStore(_oracle_home / "store")


@pytest.fixture(scope="session")
def frame():
    from markets.demo import BTC_SOURCE
    from markets.feeds import load_source

    return load_source(BTC_SOURCE)


@pytest.fixture(scope="session")
def load():
    """The loader every role uses: a source dict -> its validated frame."""
    from markets.feeds import load_source

    return load_source


@pytest.fixture(scope="session")
def circuit(store):
    """The resolver over one comparison: the model that settles binary markets from evidence."""
    from oracle import config
    from provers.resolvers import compile_resolver

    return compile_resolver(store, config.cache_dir(), 1)


@pytest.fixture(scope="session")
def forecaster(store):
    """The reference BTC forecaster (the model forecast rounds prove)."""
    from oracle import config
    from provers.reference import reference_circuit

    return reference_circuit(store, config.cache_dir())


@pytest.fixture(scope="session")
def hourly_forecaster(store):
    """The reference design on the hourly-volatility recipe (trailing_returns_hourly_vol_v1: the volatility
    from Bitstamp's hourly bars), compiled at batch 1 (logrows 12, as the daily reference)."""
    from oracle import config
    from provers.reference import hourly_circuit

    return hourly_circuit(store, config.cache_dir())


@pytest.fixture(scope="session")
def prover(circuit):
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    return EzklProver(circuit, LocalSigner.create())


@pytest.fixture(scope="session")
def forecast_prover(forecaster):
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    return EzklProver(forecaster, LocalSigner.create())


@pytest.fixture(scope="session")
def spec(circuit):
    """"Will BTC close above $4,000 on 2019-03-23?" from four providers (resolves NO: the median
    3,994.25 outvotes Yahoo's 4,035.8)."""
    from markets.spec import MarketSpec

    return MarketSpec.parse(spec_doc(circuit.model_id))


@pytest.fixture(scope="session")
def bundle(prover, spec, load):
    """One real proof for `spec`, shared by the session."""
    return prover.prove(spec, load)


class Network(LocalNetwork):
    """The in-process local network (network/local.py), on a fresh embedded replay chain starting at
    REPLAY_START (before every test market's event), or on `chain`."""

    def __init__(self, store, n: int = 4, t: int = 3, chain=None):
        super().__init__(store, n=n, t=t, chain=chain, start=None if chain else REPLAY_START)

    def register(self, spec, *, advance: bool = True) -> str:
        """Register (as the creator) and, with `advance`, let time pass to the market's resolve time."""
        market_id = super().register(spec)
        if advance:
            self.advance_to(spec.resolve_at_unix)
        return market_id

    def settle(self, resolution, signatures) -> str:
        """Straight to the contract, no Settler in between: tests show what the chain refuses."""
        return tx_hash_of(self.dep.resolve(self.submitter, resolution, signatures))


@contextlib.contextmanager
def replay_network(kind: str, store, log_dir):
    """A Network on a fresh embedded replay chain, or on an anvil started here (genesis REPLAY_START)
    and stopped after: for module-scoped networks (conftest's anvil fixture is per test)."""
    if kind == "embedded":
        yield Network(store)
        return
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    node = start_anvil(log_dir=log_dir, timestamp=REPLAY_START)
    try:
        yield Network(store, chain=Chain.rpc(node.url))
    finally:
        node.stop()


@pytest.fixture
def network(store):
    return Network(store)


@pytest.fixture(params=["embedded", "anvil"])
def chain_network(request, store):
    """The same chain-level suite on py-evm in-process and on a real anvil node (web3.py style)."""
    from oracle.chain import Chain

    if request.param == "embedded":
        return Network(store)
    node = request.getfixturevalue("anvil")
    return Network(store, chain=Chain.rpc(node.url))


@pytest.fixture
def make_network(store):
    return lambda n=4, t=3: Network(store, n, t)


# ------------------------------------------------------------------ real node (anvil)
PASSWORD = "test-password"


@pytest.fixture
def anvil(tmp_path_factory):
    """anvil from the pinned npm package, started (genesis at REPLAY_START: the test markets' events
    are ahead of it) and stopped per test: a chain's clock only moves forward."""
    from oracle.anvil import start_anvil

    node = start_anvil(log_dir=tmp_path_factory.mktemp("anvil-logs"), timestamp=REPLAY_START)
    yield node
    node.stop()
    assert not node.alive()


@pytest.fixture
def make_node_home(tmp_path, monkeypatch, anvil, circuit):
    """`make_node_home(*extra)`: a configured node home on this test's anvil (keys, fresh contracts,
    node.json), `oracle node init` given `extra` arguments too."""
    from typer.testing import CliRunner

    from cli import app

    def make(*extra: str):
        home = tmp_path / "node-home"
        home.mkdir()
        monkeypatch.setenv("ORACLE_HOME", str(home))
        monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", PASSWORD)
        monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
        result = CliRunner().invoke(app, ["node", "init", "--rpc-url", anvil.url, "--validators", "4",
                                          "--threshold", "3", "--pull-interval", "1", *extra])
        assert result.exit_code == 0, result.output
        return home

    return make


@pytest.fixture
def node_home(make_node_home):
    return make_node_home()


REPLAY_START = 1552176000  # 2019-03-10T00:00:00Z: test chains start before every test market's event
BTC_2019 = ("btc-yahoo", "btc-bitstamp", "btc-coinbase", "btc-binance")


def day_after(ts: int, days: int = 1) -> str:
    """The UTC day `days` after the day holding unix time `ts`, as YYYY-MM-DD."""
    from datetime import datetime, timedelta, timezone

    return (datetime.fromtimestamp(ts, timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%d")


def spec_doc(resolver: str, *, at: str = "2019-03-23", value: float = 4000, quorum: int = 3,
             sources=BTC_2019, resolve_delay_s: int = 0, **extra) -> dict:
    """A version-2 "BTC close above `value` on `at` (UTC)?" market on the bundled providers' data:
    trading closes when the day opens, resolvable once it is over (+ `resolve_delay_s`)."""
    from datetime import datetime, timedelta, timezone

    from markets.demo import SOURCES

    day = datetime.strptime(at, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    d = {
        "version": 2,
        "question": f"Will BTC close above ${value:,} on {at} (UTC)?",
        "outcomes": ["YES", "NO"],
        "kind": "resolve",
        "observe": {"sources": [SOURCES[n] for n in sources], "min_sources": min(2, len(sources)),
                    "tolerance": 0.01},
        "shape": {"kind": "above", "at": at, "value": value, "above": "YES", "below": "NO"},
        "resolver": resolver,
        "close_at": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resolve_at": (day + timedelta(days=1, seconds=resolve_delay_s)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quorum": quorum,
    }
    d.update(extra)
    return d


def forecast_doc(resolver: str, forecaster: str, *, as_of: str = "2019-03-17", at: str = "2019-03-23",
                 value: float = 4000, every_days: int = 2, hourly: bool = False, **extra) -> dict:
    """`spec_doc` as a forecast market: the reference forecaster's probability every `every_days`; with
    `hourly`, recipe trailing_returns_hourly_vol_v1 on Bitstamp's hourly bars (btc-bitstamp-1h)."""
    from datetime import datetime

    from markets.demo import BTC_SOURCE, SOURCES

    horizon = (datetime.strptime(at, "%Y-%m-%d") - datetime.strptime(as_of, "%Y-%m-%d")).days
    d = spec_doc(resolver, at=at, value=value, kind="forecast", forecast={
        "model": forecaster, "source": BTC_SOURCE, "every_days": every_days,
        "features": {"recipe": "trailing_returns_hourly_vol_v1" if hourly else "trailing_returns_v1",
                     "params": {"as_of": as_of, "horizon_days": horizon, "threshold_price": value}}})
    if hourly:
        d["forecast"]["hourly_source"] = SOURCES["btc-bitstamp-1h"]
    d.update(extra)
    return d


# ------------------------------------------------------------------ local HTTP (never the internet)
class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (never the internet) serving `handler`, a
    BaseHTTPRequestHandler class, until the `with` block ends."""

    def __init__(self, handler):
        import threading
        from http.server import ThreadingHTTPServer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class RawServer(LoopbackServer):
    """Answers GET path (query ignored) -> (status, raw bytes) from `routes` (mutable)."""

    content_type = "application/octet-stream"
    not_found: tuple = (404, b'{"error": "not found"}')

    @staticmethod
    def encode(body) -> bytes:
        return body

    def __init__(self, routes: dict):
        from http.server import BaseHTTPRequestHandler

        self.routes = routes
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler):
                status, body = routes.get(handler.path.split("?")[0], server.not_found)
                data = server.encode(body)
                handler.send_response(status)
                handler.send_header("Content-Type", server.content_type)
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)

            def log_message(handler, *args):
                pass

        super().__init__(Handler)


class JsonServer(RawServer):
    """Answers GET path -> (status, JSON body) from `routes` (mutable)."""

    content_type = "application/json"
    not_found = (404, {"error": "not found"})

    @staticmethod
    def encode(body) -> bytes:
        import json

        return json.dumps(body).encode()
