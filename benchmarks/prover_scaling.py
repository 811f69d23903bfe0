"""How proving scales with CPU cores: proofs/s (and markets/s) of the reference forecaster, the same
forecaster batched 16 markets to a proof, and the resolver, with 1..W prover worker processes or Ray
actors, on this machine and on a lent machine with more cores.

Two steps, so that the second needs nothing but `ezkl` (no torch, no chain, no project install):

    python -m benchmarks.prover_scaling prepare DIR   # here: the cached circuits' compiled files,
                                                      # settings, vk, SRS and a real input row each
    python -m benchmarks.prover_scaling run DIR [--workers 1,2,4] [--proofs 16] [--out FILE]
                                                [--engine processes|ray] [--circuits a,b]

`run` re-creates the proving key from the carried SRS (`ezkl.setup`: the same SRS and circuit give
the same vk, which is checked), proves one row with `mock` first, then proves `--proofs` rows with
W worker processes (ezkl's prove holds the GIL: processes, as the product's prover does) for each W,
and verifies one proof against the carried vk. It prints JSON: per circuit, setup time, one proof's
time, and per W the wall time, proofs/s and markets/s. `--engine ray` runs the W workers as actors on
a local Ray cluster (the engine provers/fleet.py schedules on; it then needs `ray` too, nothing else).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CIRCUITS = ("forecaster", "forecaster-b16", "resolver")
BATCH = 16  # markets in one proof of the batched forecaster


def prepare(out: Path) -> dict:
    """Copy what proving needs from this machine's cache (compiling first if it is not cached)."""
    from markets.features import RECIPES
    from markets.feeds import load_source
    from oracle import config
    from oracle.store import ArtifactStore
    from provers.reference import BTC_SOURCE, reference_circuit
    from provers.resolvers import compile_resolver

    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="scaling-")) / "store")
    forecaster = reference_circuit(store, config.cache_dir(), batches=(1, BATCH))
    resolver = compile_resolver(store, config.cache_dir(), 1)
    closes = load_source(BTC_SOURCE)["Close"].to_numpy(dtype=float)
    recipe = RECIPES[forecaster.record.recipe]
    window = [float(c) for c in closes[-recipe.rows_needed:]]
    row = [float(x) for x in recipe.vector(window, 7, 1.0)]
    # 16 real questions (horizons 1..16 at the money) for the batched circuit, flattened as ezkl reads them
    batch_rows = [float(x) for h in range(1, BATCH + 1) for x in recipe.vector(window, h, 1.0)]
    rows = {"forecaster": row, "forecaster-b16": batch_rows,
            "resolver": [399_426.0, 400_000.0]}  # BTC $3,994.26 vs $4,000.00 in cents
    done = {}
    for name, circuit, batch in (("forecaster", forecaster, 1), ("forecaster-b16", forecaster, BATCH),
                                 ("resolver", resolver, 1)):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        src = circuit.directories[batch]
        for f in ("model.compiled", "settings.json", "vk.key"):
            shutil.copy(src / f, d / f)
        shutil.copy(circuit.srs(batch), d / "kzg.srs")
        (d / "input.json").write_text(json.dumps({"input_data": [rows[name]]}))
        (d / "markets_per_proof").write_text(str(batch))
        done[name] = {"model_id": circuit.model_id, "bytes": sum(p.stat().st_size for p in d.iterdir())}
    return done


def _prove(args: tuple[str, str, str, str, str]) -> float:
    import ezkl

    witness, compiled, pk, proof, srs = args
    t0 = time.perf_counter()
    ezkl.prove(witness, compiled, pk, proof, srs)
    return time.perf_counter() - t0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _RayProver:
    """A Ray actor that proves in its own process (ezkl loaded once), as provers/fleet.py's actors do."""

    def prove(self, args: tuple[str, str, str, str, str]) -> float:
        return _prove(args)


def _ray_rows(jobs_for, workers: list[int], proofs: int) -> list[dict]:
    """Proofs/s with W Ray actors on a local cluster (one warm-up proof per actor, not timed)."""
    import ray
    from ray.util import ActorPool

    actor = ray.remote(num_cpus=1)(_RayProver)
    rows = []
    for n in workers:
        actors = [actor.remote() for _ in range(n)]
        ray.get([a.prove.remote(j) for a, j in zip(actors, jobs_for(f"warm{n}", n))])
        t0 = time.perf_counter()
        per_proof = list(ActorPool(actors).map(lambda a, j: a.prove.remote(j), jobs_for(f"ray{n}", proofs)))
        wall = time.perf_counter() - t0
        for a in actors:
            ray.kill(a)
        rows.append({"workers": n, "engine": "ray", "proofs": proofs, "wall_s": round(wall, 3),
                     "proofs_per_s": round(proofs / wall, 3), "median_proof_s": round(statistics.median(per_proof), 3)})
    return rows


def run_circuit(d: Path, workers: list[int], proofs: int, engine: str = "processes") -> dict:
    import ezkl

    compiled, settings, srs = str(d / "model.compiled"), str(d / "settings.json"), str(d / "kzg.srs")
    tmp = Path(tempfile.mkdtemp(prefix="scaling-run-"))
    pk, vk = str(tmp / "pk.key"), str(tmp / "vk.key")
    t0 = time.perf_counter()
    ezkl.setup(compiled, vk, pk, srs)
    setup_s = time.perf_counter() - t0
    same_vk = _sha(Path(vk)) == _sha(d / "vk.key")
    witness = str(tmp / "witness.json")
    w = ezkl.gen_witness(str(d / "input.json"), compiled, witness)
    if hasattr(w, "__await__"):  # some ezkl calls return awaitables
        import asyncio

        asyncio.run(w)
    ezkl.mock(witness, compiled)
    single = [_prove((witness, compiled, pk, str(tmp / f"single{i}.json"), srs)) for i in range(3)]
    verified = bool(ezkl.verify(str(tmp / "single0.json"), settings, str(d / "vk.key"), srs))
    markets = int((d / "markets_per_proof").read_text()) if (d / "markets_per_proof").exists() else 1
    rows = []
    if engine == "ray":
        rows = _ray_rows(lambda tag, k: [(witness, compiled, pk, str(tmp / f"{tag}-{i}.json"), srs) for i in range(k)],
                         workers, proofs)
    for n in workers if engine == "processes" else ():
        jobs = [(witness, compiled, pk, str(tmp / f"w{n}-{i}.json"), srs) for i in range(proofs)]
        t0 = time.perf_counter()
        # spawn, not fork: a child forked after ezkl started its thread pool deadlocks
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
            per_proof = list(pool.map(_prove, jobs))
        wall = time.perf_counter() - t0
        rows.append({"workers": n, "engine": "processes", "proofs": proofs, "wall_s": round(wall, 3),
                     "proofs_per_s": round(proofs / wall, 3),
                     "median_proof_s": round(statistics.median(per_proof), 3)})
    settings_doc = json.loads(Path(settings).read_text())
    shutil.rmtree(tmp, ignore_errors=True)
    for r in rows:
        r["markets_per_s"] = round(r["proofs_per_s"] * markets, 3)
    return {"logrows": settings_doc["run_args"]["logrows"], "markets_per_proof": markets, "setup_s": round(setup_s, 3),
            "vk_matches_the_carried_vk": same_vk, "verified_against_carried_vk": verified,
            "single_proof_s": round(statistics.median(single), 3), "by_workers": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["prepare", "run"])
    ap.add_argument("dir")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--proofs", type=int, default=8)
    ap.add_argument("--label", default=None, help="Name of the machine in the output (default: cores).")
    ap.add_argument("--out", default=None)
    ap.add_argument("--engine", choices=["processes", "ray"], default="processes",
                    help="Worker processes from a process pool, or actors on a local Ray cluster (needs ray).")
    ap.add_argument("--circuits", default=",".join(CIRCUITS))
    args = ap.parse_args()
    d = Path(args.dir)
    if args.step == "prepare":
        print(json.dumps({"prepared": prepare(d)}, indent=2))
        return
    import ezkl

    workers = [int(w) for w in args.workers.split(",")]
    doc = {"benchmark": "prover_scaling", "machine": args.label or f"{os.cpu_count()} cores",
           "cpu_count": os.cpu_count(), "python": platform.python_version(), "ezkl": ezkl.__version__,
           "engine": args.engine}
    if args.engine == "ray":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=128 << 20, configure_logging=False)
        doc["ray"] = ray.__version__
    names = [c for c in args.circuits.split(",") if (d / c).is_dir()]
    doc["circuits"] = {name: run_circuit(d / name, workers, args.proofs, args.engine) for name in names}
    text = json.dumps(doc, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
