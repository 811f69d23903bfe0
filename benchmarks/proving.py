"""Proving vs verification cost per model family and batch size. Prints JSON (and writes
benchmarks/results/proving.json).

    .venv/bin/python -m benchmarks.proving [--quick] [--families mlp,conv1d,trees] [--batches 1,4,16]

Per (family, batch): logrows, setup time, prove time, verify time (median of >= 10),
proof / vk / pk sizes, peak RSS of the prove process, torch float inference time for
the same batch, and the per-market prove and verify cost. Plus the validator's peak
RSS for one verification in a process without torch. Goals are reported as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"verify_ms_per_proof": 20.0, "verify_ms_per_market_batched": 1.0, "validator_rss_mb": 200.0}


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def forecast_spec(forecaster: str):
    """The demo's forecast market (BTC above $4,000 on 2019-03-23) with `forecaster` posting its
    rounds: what a model family proves is a forecast round."""
    from markets.demo import DEMO_MARKETS, demo_spec

    return demo_spec(DEMO_MARKETS[0], lambda width: "0x" + "11" * 32, forecaster, quorum=1)


def bench_family(family: str, batches: list[int], store, cache, frame, verify_reps: int) -> list[dict]:
    import ezkl
    import torch

    from oracle.signer import LocalSigner
    from provers.prover import EzklProver, Job
    from provers.reference import reference_circuit, trained
    from validators.verifier import ProofVerifier

    compiled = reference_circuit(store, cache, family=family, batches=tuple(batches))
    model = trained(family, cache).eval()
    prover = EzklProver(compiled, LocalSigner.create())
    spec = forecast_spec(compiled.model_id)
    features = prover.job(spec, frame, 0).features
    rows = []
    for batch in batches:
        circuit = compiled.record.circuit(batch)
        with tempfile.TemporaryDirectory() as tmp:  # setup again, timed (the cached keys stay untouched)
            t = time.perf_counter()
            ezkl.setup(str(compiled.compiled(batch)), f"{tmp}/vk", f"{tmp}/pk", str(compiled.srs(batch)))
            setup_s = time.perf_counter() - t
        jobs = [Job(spec.market_id, 0, features) for _ in range(batch)]
        t = time.perf_counter()
        bundles = prover.prove_jobs(jobs)
        prove_s = time.perf_counter() - t
        verifier = ProofVerifier(store, remember=0)
        verify = _timed(lambda: verifier.verify(bundles[0], circuit), verify_reps)
        x = torch.tensor([features] * batch)
        with torch.no_grad():
            infer = _timed(lambda: model(x), 200)
        v_ms = statistics.median(verify) * 1000
        rows.append({
            "family": family, "batch": batch, "logrows": circuit.logrows,
            "setup_s": round(setup_s, 3), "prove_s": round(prove_s, 3),
            "verify_ms_median": round(v_ms, 3), "verify_reps": verify_reps,
            "proof_bytes": len(bundles[0].proof_bytes),
            "vk_bytes": store.path(circuit.vk).stat().st_size,
            "pk_bytes": compiled.pk(batch).stat().st_size,
            "prove_peak_rss_mb": bundles[0].meta.get("prove_rss_mb"),
            "torch_infer_ms_median": round(statistics.median(infer) * 1000, 4),
            "prove_s_per_market": round(prove_s / batch, 3),
            "verify_ms_per_market": round(v_ms / batch, 3),
            "prove_over_verify": round(prove_s * 1000 / v_ms, 1),
            "prove_over_inference": round(prove_s * 1000 / (statistics.median(infer) * 1000), 1),
            "device": bundles[0].meta.get("torch_device"),
        })
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


VALIDATOR_RSS = """
import json, sys
sys.meta_path.insert(0, type('Block', (), {'find_spec': staticmethod(
    lambda name, path=None, target=None: (_ for _ in ()).throw(ImportError(name))
    if name.split('.')[0] in ('torch', 'provers') else None)})())
from oracle.store import ArtifactStore
from oracle.bundle import ProofBundle
from oracle.models import load_model
from validators.verifier import ProofVerifier
store = ArtifactStore(sys.argv[1]); bundle = ProofBundle.from_json(json.load(open(sys.argv[2])))
record = load_model(store, bundle.model_id)
ProofVerifier(store).verify(bundle, record.circuit(bundle.batch_size))
hwm = [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]
print(json.dumps({"validator_rss_mb": hwm,
                  "torch_loaded": "torch" in sys.modules}))
"""


def validator_rss(store, bundle) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "b.json").write_text(json.dumps(bundle.to_json()))
        done = subprocess.run([sys.executable, "-c", VALIDATOR_RSS, str(store.root), f"{tmp}/b.json"],
                              capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="mlp,conv1d,trees")
    ap.add_argument("--batches", default="1,4,16")
    ap.add_argument("--verify-reps", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="mlp only, batches 1 and 4")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "proving.json"))
    args = ap.parse_args()
    families = ["mlp"] if args.quick else args.families.split(",")
    batches = [1, 4] if args.quick else [int(b) for b in args.batches.split(",")]

    from markets.demo import BTC_SOURCE
    from markets.feeds import load_source
    from oracle import config
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    store, cache, frame = ArtifactStore(home / "store"), config.cache_dir(), load_source(BTC_SOURCE)
    rows = []
    for family in families:
        rows += bench_family(family, batches, store, cache, frame, args.verify_reps)
    ref = reference_circuit(store, cache)
    spec = forecast_spec(ref.model_id)
    rss = validator_rss(store, EzklProver(ref, LocalSigner.create()).prove(spec, frame, round=0))
    best_batched = min((r["verify_ms_per_market"] for r in rows if r["batch"] > 1), default=None)
    single = [r["verify_ms_median"] for r in rows if r["batch"] == 1]
    result = {
        "benchmark": "proving",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "srs": "dev (local gen_srs)",
        "rows": rows,
        "validator": rss,
        "goals": {
            "verify_ms_per_proof": {"goal": GOALS["verify_ms_per_proof"], "measured": max(single) if single else None,
                                    "ratio": round(max(single) / GOALS["verify_ms_per_proof"], 2) if single else None},
            "verify_ms_per_market_batched": {"goal": GOALS["verify_ms_per_market_batched"], "measured": best_batched,
                                             "ratio": round(best_batched / GOALS["verify_ms_per_market_batched"], 2)
                                             if best_batched else None},
            "validator_rss_mb": {"goal": GOALS["validator_rss_mb"], "measured": round(rss["validator_rss_mb"], 1),
                                 "ratio": round(rss["validator_rss_mb"] / GOALS["validator_rss_mb"], 2)},
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
