"""Shared fixtures. The circuit compiles once per machine (disk cache) and once per
session (fixture); one real proof is made per session and reused by every test
that only needs *a* valid bundle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from network.local import LocalNetwork
from oracle.settlement import tx_hash_of

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ORACLE_CACHE", str(ROOT / ".oracle-cache"))


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
def circuit(store):
    from oracle import config
    from provers.reference import reference_circuit

    return reference_circuit(store, config.cache_dir())


@pytest.fixture(scope="session")
def prover(circuit):
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    return EzklProver(circuit, LocalSigner.create())


@pytest.fixture(scope="session")
def spec(circuit, frame):
    from markets.demo import DEMO_QUESTIONS, demo_spec

    return demo_spec(DEMO_QUESTIONS[0], frame, circuit.model_id, quorum=3)


@pytest.fixture(scope="session")
def bundle(prover, spec, frame):
    """One real proof for `spec`, shared by the session."""
    return prover.prove(spec, frame)


class Network(LocalNetwork):
    """The in-process local network (network/local.py), on a fresh embedded chain or on `chain`."""

    def __init__(self, store, n: int = 4, t: int = 3, chain=None):
        super().__init__(store, n=n, t=t, chain=chain)

    def settle(self, resolution, signatures) -> str:
        """Straight to the contract, no Settler in between: tests show what the chain refuses."""
        return tx_hash_of(self.dep.resolve(self.submitter, resolution, signatures))


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


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    """anvil from the pinned npm package, started and stopped by the tests."""
    from oracle.anvil import start_anvil

    node = start_anvil(log_dir=tmp_path_factory.mktemp("anvil-logs"))
    yield node
    node.stop()
    assert not node.alive()


@pytest.fixture
def node_home(tmp_path, monkeypatch, anvil, circuit):
    """A configured node home on the session anvil: keys, fresh contracts, node.json."""
    from typer.testing import CliRunner

    from cli import app

    home = tmp_path / "node-home"
    home.mkdir()
    monkeypatch.setenv("ORACLE_HOME", str(home))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", PASSWORD)
    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    result = CliRunner().invoke(app, ["node", "init", "--rpc-url", anvil.url, "--validators", "4",
                                      "--threshold", "3", "--pull-interval", "1"])
    assert result.exit_code == 0, result.output
    return home


def spec_doc(model_id: str, *, as_of: str = "2021-01-12", ratio: float | None = 1.05, price: float | None = None,
             resolve_in_s: int = 0, quorum: int = 3, **extra) -> dict:
    """A market spec dict on the bundled BTC data resolving `resolve_in_s` from now."""
    from datetime import datetime, timedelta, timezone

    params = {"as_of": as_of, "horizon_days": 7}
    params.update({"threshold_ratio": ratio} if price is None else {"threshold_price": price})
    resolve_at = datetime.now(timezone.utc) + timedelta(seconds=resolve_in_s)
    d = {
        "version": 1,
        "question": f"Will BTC close a week after {as_of} above the threshold?",
        "outcomes": ["YES", "NO"],
        "kind": "resolve",
        "source": {"kind": "csv", "uri": "bundled:btc_usd_daily.csv"},
        "features": {"recipe": "trailing_returns_v1", "params": params},
        "model": model_id,
        "rule": {"kind": "threshold", "threshold": 0.5, "above": "YES", "below": "NO"},
        "resolve_at": resolve_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quorum": quorum,
    }
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
