"""A prover fleet on Ray: actors that each keep a compiled circuit and a long-lived prove worker
loaded, and prove batches of jobs; Ray schedules them over whatever cluster the driver joined (a
local one from `start_local`, or `ray.init(address=...)` on many machines).

The driver keeps what must stay with it: it gathers each round's evidence (`EzklProver.job`), and it
signs every bundle with its own key (actors sign with a throwaway key that never counts). An actor
receives only a loader for its circuit (run on its own machine, from that machine's cache) and jobs
(features); it returns proofs.

GPU-aware: when the cluster reports GPUs (Ray's own detection, or torch's on a local cluster) each
actor asks for its share of them, so Ray places provers on GPU nodes; otherwise actors ask for CPUs
only. (ezkl's PyPI wheel proves on the CPU; a GPU build of ezkl uses the GPU it is given.)
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable, Sequence

from oracle.bundle import ProofBundle
from oracle.errors import ProvingError
from oracle.signer import Signer

from .circuit import CompiledModel
from .prover import Job

RAY_VERSION = "2.60.0"  # pinned in pyproject's prover extra


def start_local(num_cpus: int, *, num_gpus: int | None = None, object_store_mb: int = 128) -> dict:
    """Start a local Ray cluster in this process (no dashboard, no usage reporting: nothing leaves
    the machine); its resources. `num_gpus` None: the GPUs torch sees here."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if num_gpus is None:
        num_gpus = local_gpus()
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=object_store_mb << 20, configure_logging=False)
    return ray.cluster_resources()


def local_gpus() -> int:
    """CUDA devices torch sees on this machine (0 without torch)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_share(workers: int) -> float:
    """The GPUs each of `workers` actors asks for: an even share of the cluster's, at most one each."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0.0)
    return min(1.0, gpus / workers) if gpus else 0.0


class _FleetProver:
    """One actor: a circuit loaded once, a prove worker kept alive between batches."""

    def __init__(self, load_circuit: Callable[[], CompiledModel], timeout_s: float):
        from oracle.signer import LocalSigner

        from .prover import EzklProver, ProveWorker

        self.circuit = load_circuit()
        self.worker = ProveWorker()
        # a throwaway key: the driver signs what it hands on
        self.prover = EzklProver(self.circuit, LocalSigner.create(), worker=self.worker, timeout_s=timeout_s)

    def model(self) -> tuple[str, tuple[int, ...]]:
        return self.circuit.model_id, tuple(self.circuit.record.batches)

    def prove(self, jobs: list[Job]) -> list[ProofBundle]:
        return self.prover.prove_jobs(jobs)

    def device(self) -> dict:
        import ray

        return {"gpu_ids": ray.get_gpu_ids(), "pid": os.getpid()}


class ProverFleet:
    """`workers` Ray actors proving with the circuit `load_circuit()` returns; bundles signed by `signer`."""

    def __init__(self, load_circuit: Callable[[], CompiledModel], signer: Signer, *, workers: int = 1,
                 cpus_per_worker: float = 1.0, num_gpus: float | None = None, timeout_s: float = 300.0):
        import ray

        if not ray.is_initialized():
            raise ProvingError("the prover fleet needs a Ray cluster: start_local(...) or ray.init(address=...)")
        if workers < 1:
            raise ProvingError(f"workers: {workers} is not a positive number of provers")
        self.signer = signer
        self.num_gpus = gpu_share(workers) if num_gpus is None else num_gpus
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=self.num_gpus)(_FleetProver)
        self.actors = [actor.remote(load_circuit, timeout_s) for _ in range(workers)]
        models = ray.get([a.model.remote() for a in self.actors])
        if len(set(models)) != 1:
            raise ProvingError(f"the fleet's actors loaded different circuits: {sorted(set(models))}")
        self.model_id, self.batches = models[0]

    def prove_jobs(self, jobs: Sequence[Job]) -> list[ProofBundle]:
        """Every job proven, in order: split into the largest compiled batch, spread over the actors
        (each takes the next chunk as soon as it is free)."""
        from ray.util import ActorPool

        biggest = max(self.batches)
        chunks = [list(jobs[i:i + biggest]) for i in range(0, len(jobs), biggest)]
        try:
            proven = list(ActorPool(self.actors).map(lambda actor, chunk: actor.prove.remote(chunk), chunks))
        except Exception as e:  # a RayTaskError wraps the actor's ProvingError
            cause = getattr(e, "cause", None) or e
            raise ProvingError(f"fleet prove failed: {cause}") from None
        out = []
        for chunk in proven:
            for b in chunk:
                if b.model_id != self.model_id:
                    raise ProvingError(f"an actor proved with {b.model_id}, the fleet's model is {self.model_id}")
                out.append(replace(b, prover=self.signer.address, prover_signature="").signed_by(self.signer))
        return out

    def devices(self) -> list[dict]:
        import ray

        return ray.get([a.device.remote() for a in self.actors])

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        self.actors = []
