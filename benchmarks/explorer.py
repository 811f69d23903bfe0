"""How fast the explorer answers, over a real JSON-RPC node (anvil) as `oracle explorer` runs.

    .venv/bin/python -m benchmarks.explorer [--markets 10] [--repeat 5]

`--markets` version-2 "BTC close above X on 2019-03-23?" markets (the bundled providers) are
registered on anvil at the replay start, staked by two bettors and settled by real rounds (the
resolver's proof, four validators, a quorum of three). The explorer then serves them from a thread;
each request is timed `--repeat` times. A market page's first request runs `oracle verify`'s checks
(ezkl verify, re-hashing vk/settings/SRS, re-reading the sources) and is kept by transaction: the
cold and warm times are reported apart.

Prints JSON (and writes benchmarks/results/explorer.json): the median seconds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPLAY_START = 1552176000  # 2019-03-10T00:00:00Z: before the markets' day
GOALS = {"status_s": 0.05, "market_page_warm_s": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import httpx

    from markets.feeds import load_source
    from network.devnet import btc_above_spec
    from network.explorer import ExplorerData, ExplorerServer
    from network.local import LocalNetwork
    from oracle import config
    from oracle.anvil import start_anvil
    from oracle.bundle import publish_bundle
    from oracle.chain import Chain
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.prover import EzklProver
    from provers.resolvers import compile_resolver

    tmp = Path(tempfile.mkdtemp(prefix="explorer-bench-"))
    os.environ["ORACLE_HOME"] = str(tmp)
    store = ArtifactStore(tmp / "store")
    resolver = compile_resolver(store, config.cache_dir(), 1)
    node = start_anvil(log_dir=tmp / "anvil", timestamp=REPLAY_START)
    try:
        chain = Chain.rpc(node.url)
        net = LocalNetwork(store, n=4, t=3, chain=chain)
        specs = [btc_above_spec("2019-03-23", 3900 + 25 * i, resolver=resolver.model_id, quorum=3)
                 for i in range(args.markets)]
        for s in specs:
            store.put(s.canonical())
            net.register(s)
            net.dep.deposit(net.alice, s.market_id, 0, 10**18)
            net.dep.deposit(net.bob, s.market_id, 1, 10**18)
        net.advance_to(max(s.resolve_at_unix for s in specs))
        prover = EzklProver(resolver, LocalSigner.create(), store=store, clock=net.validators[0].clock)
        t0 = time.perf_counter()
        for s in specs:
            bundle = prover.prove(s, load_source)
            publish_bundle(store, bundle)
            report = net.run_round(s, load_source, prover, bundle=bundle)
            assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
        settle_s = time.perf_counter() - t0

        data = ExplorerData(net.dep, store, load_data=lambda source: load_source(source, chain=chain))
        with ExplorerServer(data) as server, httpx.Client(base_url=server.url, timeout=120) as client:
            def timed(path: str) -> float:
                t = time.perf_counter()
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:200])
                return time.perf_counter() - t

            first = specs[0].market_id
            cold_page = timed(f"/market/{first}")  # verification and evidence computed here, then kept
            runs = {
                "status_s": lambda: timed("/api/status"),
                "markets_api_s": lambda: timed("/api/markets"),
                "index_page_s": lambda: timed("/"),
                "market_api_s": lambda: timed(f"/api/markets/{first}"),
                "market_page_warm_s": lambda: timed(f"/market/{first}"),
                "validators_api_s": lambda: timed("/api/validators"),
                "model_api_s": lambda: timed(f"/api/models/{resolver.model_id}"),
            }
            medians = {k: round(statistics.median(fn() for _ in range(args.repeat)), 4) for k, fn in runs.items()}
            verdict = client.get(f"/api/markets/{first}/verification").json()
            assert verdict["ok"] is True, verdict
    finally:
        node.stop()

    result = {
        "benchmark": "explorer", "chain": "anvil", "markets": args.markets, "repeat": args.repeat,
        "settle_all_s": round(settle_s, 2), "market_page_cold_s": round(cold_page, 4), **medians,
        "goals": GOALS, "meets_goals": all(medians[k] <= v for k, v in GOALS.items()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results" / "explorer.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
