"""Faults and adversaries against a real devnet (every role its own process, anvil). Prints JSON
and writes benchmarks/results/faults.json.

    .venv/bin/python -m benchmarks.faults [--validators 7 --threshold 5]

Each fault is injected while a fresh market's round is in flight; recovery time is from the end
of the fault (restart) to the round's settlement on-chain. At the end every market is checked:
lost (never settled), settled twice (more than one `Resolved` event), or wrong (outcome differs
from what an honest validator signed). Goals: 0, 0, 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "faults-benchmark"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--validators", type=int, default=7)
    ap.add_argument("--threshold", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "faults.json"))
    args = ap.parse_args()
    os.environ.setdefault("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    from oracle import config
    from network.devnet import Devnet
    from tests.adversaries import set_adversary
    from oracle.store import ArtifactStore
    from provers.reference import reference_circuit

    reference_circuit(ArtifactStore(Path(tempfile.mkdtemp()) / "store"), config.cache_dir())  # warm the cache
    n, t = args.validators, args.threshold
    f = (n - 1) // 3
    net = Devnet.up(Path(tempfile.mkdtemp(prefix="faults-")), validators=n, threshold=t, provers=2, aggregators=2,
                    password=PASSWORD, overrides={"scheduler": {"prove_timeout_s": 20, "settle_wait_s": 15}})
    day = iter(range(1, 400))
    markets: list[str] = []
    faults: Counter = Counter()
    recovery: list[dict] = []

    def market(ratio: float = 0.95) -> str:
        d = next(day)
        m = net.demo_market(f"2021-{1 + d // 28:02d}-{1 + d % 28:02d}", ratio, password=PASSWORD)
        markets.append(m)
        return m

    def record(kind: str, m: str, t_end: float, t_fault: float | None = None, **extra) -> None:
        """recovery_s: from the fault's end (restart) to settlement; settled_after_fault_s: from its start."""
        net.wait_settled(m, timeout=240)
        now = time.time()
        recovery.append({"fault": kind, "market": m[:12], "recovery_s": round(now - t_end, 2),
                         "settled_after_fault_s": round(now - (t_fault or t_end), 2), **extra})
        faults[kind] += 1

    try:
        for _ in range(2):  # baseline
            m = market()
            record("none", m, time.time())
        for role in ("scheduler", "prover-0", "validator-1", "aggregator-0"):
            m = market()
            time.sleep(1.0)
            t_fault = time.time()
            net.kill(role, signal.SIGKILL)
            time.sleep(2.0)
            net.start(role)
            net.wait_healthy([role])
            record(f"sigkill:{role.split('-')[0]}", m, time.time(), t_fault)
        m = market()
        t_fault = time.time()
        net.stop_anvil()
        time.sleep(6)
        net.restart_anvil()
        record("rpc_down_6s", m, time.time(), t_fault)
        down = [f"validator-{i}" for i in range(n - t + 1)]  # one more than the slack: below t
        for v in down[:-1]:
            net.kill(v)
        m = market()
        record(f"validators_down_{len(down) - 1}_of_{n}", m, time.time())
        net.kill(down[-1])
        m = market()
        t_fault = time.time()
        time.sleep(20)  # waits: not enough validators
        waited = not net.deployment().is_resolved(m)
        for v in down:
            net.start(v)
        net.wait_healthy(down)
        record(f"quorum_unreachable_{len(down)}_down", m, time.time(), t_fault, waited_while_down=waited)
        byz = [f"validator-{n - 1 - i}" for i in range(f)]
        for v in byz:
            set_adversary(net, v, "equivocate")
        m = market()
        record(f"equivocating_{f}_of_{n}", m, time.time())
        for v in byz:
            set_adversary(net, v, None)
        set_adversary(net, "prover-0", "other_inputs")
        m = market()
        record("prover_other_inputs", m, time.time())
        set_adversary(net, "prover-0", "hang")
        m = market()
        record("prover_never_answers", m, time.time())
        set_adversary(net, "prover-0", None)

        time.sleep(2)
        lost = [m for m in markets if not net.deployment().is_resolved(m)]
        double = [m for m in markets if len(net.resolutions(m)) > 1]
        honest = [f"validator-{i}" for i in range(n) if f"validator-{i}" not in byz]

        def truth(m: str) -> int | None:
            # what the honest members signed (a member that was down for the round signed nothing)
            seen = Counter(o for v in honest if (o := net.signed_outcome(m, v)) is not None)
            return seen.most_common(1)[0][0] if seen else None

        wrong = [m for m in markets if net.resolutions(m) and net.resolutions(m)[0]["outcome"] != truth(m)]
        evidence = sum(len((net.roles[a].home / "evidence.jsonl").read_text().splitlines())
                       for a in ("aggregator-0", "aggregator-1") if (net.roles[a].home / "evidence.jsonl").exists())
        result = {
            "benchmark": "faults",
            "setup": {"validators": n, "threshold": t, "provers": 2, "aggregators": 2, "chain": "anvil",
                      "processes": len(net.roles) + 1},
            "rounds_run": len(markets),
            "faults_injected": dict(faults),
            "markets_lost": len(lost),
            "double_settlements": len(double),
            "wrong_resolutions": len(wrong),
            "equivocation_evidence_records": evidence,
            "recovery": recovery,
            "goals": {"markets_lost": 0, "double_settlements": 0, "wrong_resolutions": 0},
        }
    finally:
        net.down()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
