"""The prover role: markets + data -> features -> one ezkl proof -> a signed bundle per market.

Markets that share a model and are due together go into one proof over the
batch dimension (the smallest compiled batch that fits; empty rows are zero
padding). Each market still gets its own bundle, naming its row.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import ezkl

from markets.evidence import gather
from oracle.bundle import ProofBundle
from oracle.canonical import keccak_hex
from oracle.errors import DataError, ProvingError
from oracle.signer import Signer

from .circuit import CompiledModel
from .device import torch_device

DEFAULT_PROVE_TIMEOUT_S = 300.0
NO_SNAPSHOT = "0x" + "00" * 32


def _ezkl(what: str, fn, *args):
    try:
        return fn(*args)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise ProvingError(f"{what} failed: {e}") from None


class ProveWorker:
    """A long-lived `python -m provers.isolated --serve` child that proves one job at a time: ezkl is
    imported once and the proving key stays in the page cache. A proof past its deadline kills the
    child (the next proof starts a new one), exactly like the one-shot child it replaces."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.started = 0  # children started (1 while no proof has failed or timed out)

    def prove(self, witness: Path, compiled: Path, pk: Path, proof: Path, srs: Path, timeout_s: float) -> dict:
        with self._lock:
            proc = self._child()
            job = {"witness": str(witness), "compiled": str(compiled), "pk": str(pk), "proof": str(proof),
                   "srs": str(srs)}
            try:
                proc.stdin.write(json.dumps(job) + "\n")
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
                line = proc.stdout.readline() if ready else None
            except (BrokenPipeError, OSError):
                line = ""
            if line is None:
                self._stop()
                raise ProvingError(f"prove exceeded {timeout_s:.0f} s and was killed")
            if not line:
                self._stop()
                raise ProvingError("prove failed: the prover worker exited")
            reply = json.loads(line)
            if not reply.get("ok"):
                raise ProvingError(f"prove failed: {reply.get('error')}")
            return reply

    def _child(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([sys.executable, "-m", "provers.isolated", "--serve"], text=True,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          cwd=Path(__file__).resolve().parent.parent)
            self.started += 1
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __del__(self):
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()


@dataclass(frozen=True)
class Job:
    """One market round's row in a proof."""

    market_id: str
    round: int
    features: list[float]
    data_snapshot: str = NO_SNAPSHOT


class EzklProver:
    """Proves with a compiled model; signs what it proves."""

    def __init__(self, circuit: CompiledModel, signer: Signer, *, timeout_s: float = DEFAULT_PROVE_TIMEOUT_S,
                 store=None, clock=None, worker: ProveWorker | None = None):
        """`store`, when given, receives each round's data snapshot (content-addressed). `clock()`: the
        oracle's time (the chain's, in a node), which decides whether evidence exists yet. `worker`: a
        long-lived prove process to use instead of one new process per proof."""
        self.circuit = circuit
        self.worker = worker
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.signer = signer
        self.timeout_s = timeout_s
        self.store = store

    @property
    def address(self) -> str:
        return self.signer.address

    def job(self, spec, data, round: int = 0) -> Job:
        """One round's row. `data`: a loader (source dict -> frame), or one frame for a forecast round.
        The final round reads the evidence from every source of the spec (as of `clock()`); a
        forecast round reads its features from the forecast's source."""
        rec = self.circuit.record
        r = spec.round(round)
        if r.model != rec.model_id:
            raise ProvingError(f"round {round} of market {spec.market_id} is answered by model {r.model}, this "
                               f"prover has {rec.model_id}")
        load = data if callable(data) else (lambda source: data)
        if r.final:
            evidence = gather(spec, load, self.clock())
            features, snapshot = evidence.features, evidence.snapshot()
        else:
            if self.clock().timestamp() < r.due_at:
                raise DataError(f"too early: forecast round {round} is due at {r.due_at} (its as_of day is not over)",
                                retry=True)
            features, snapshot, _ = spec.forecast.load_inputs(load, r.features)
        if len(features) != rec.n_inputs:
            raise ProvingError(f"round {round} gives {len(features)} inputs, model takes {rec.n_inputs}")
        if self.store is not None:
            self.store.put(snapshot)
        return Job(spec.market_id, round, features, keccak_hex(snapshot))

    def prove(self, spec, data, *, round: int = 0) -> ProofBundle:
        """One market round: build its inputs from `data` (a loader or a frame) and return its signed bundle."""
        return self.prove_jobs([self.job(spec, data, round)])[0]

    def prove_batch(self, items: Sequence[tuple], load, log=lambda m: None) -> list[ProofBundle]:
        """Several market rounds `(spec, round)` in as few proofs as the compiled batches allow.
        `log`: progress, one line per proof."""
        jobs = [self.job(spec, load, r) for spec, r in items]
        out: list[ProofBundle] = []
        biggest = max(self.circuit.record.batches)
        proofs = -(-len(jobs) // biggest)
        for n, i in enumerate(range(0, len(jobs), biggest)):
            chunk = jobs[i:i + biggest]
            log(f"proof {n + 1}/{proofs}: {len(chunk)} market round(s), {len(out)} of {len(jobs)} proven")
            out += self.prove_jobs(chunk)
        return out

    def prove_features(self, market_id: str, features: list[float], *, round: int = 0,
                       data_snapshot: str = NO_SNAPSHOT) -> ProofBundle:
        return self.prove_jobs([Job(market_id, round, features, data_snapshot)])[0]

    def prove_jobs(self, jobs: Sequence[Job]) -> list[ProofBundle]:
        rec = self.circuit.record
        batch = rec.batch_for(len(jobs))
        if len(jobs) > batch:
            raise ProvingError(f"{len(jobs)} markets do not fit the largest compiled batch ({batch})")
        circuit = rec.circuit(batch)
        rows = [list(j.features) for j in jobs] + [[0.0] * rec.n_inputs] * (batch - len(jobs))
        compiled, pk, srs = self.circuit.compiled(batch), self.circuit.pk(batch), self.circuit.srs(batch)
        with tempfile.TemporaryDirectory(prefix="oracle-prove-") as tmp:
            t = Path(tmp)
            (t / "input.json").write_text(json.dumps({"input_data": [[x for row in rows for x in row]]}))
            t0 = time.perf_counter()
            witness = _ezkl("witness", ezkl.gen_witness, str(t / "input.json"), str(compiled), str(t / "witness.json"))
            # mock first: a witness outside the calibrated range fails here fast instead of
            # hanging prove forever
            _ezkl("mock (witness outside the circuit's calibrated range?)", ezkl.mock, str(t / "witness.json"),
                  str(compiled))
            if self.worker is not None:
                rss = self.worker.prove(t / "witness.json", compiled, pk, t / "proof.json", srs,
                                        self.timeout_s).get("max_rss_mb")
            else:
                rss = self._prove_once(t / "witness.json", compiled, pk, t / "proof.json", srs)
            prove_s = time.perf_counter() - t0
            proof = json.loads((t / "proof.json").read_text())
        return self._bundles(jobs, batch, circuit, proof, witness, prove_s, rss)

    def _prove_once(self, witness: Path, compiled: Path, pk: Path, proof: Path, srs: Path) -> float | None:
        """One prove in a new child process; its peak RSS."""
        cmd = [sys.executable, "-m", "provers.isolated", str(witness), str(compiled), str(pk), str(proof), str(srs)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s,
                                  cwd=Path(__file__).resolve().parent.parent)
        except subprocess.TimeoutExpired:
            raise ProvingError(f"prove exceeded {self.timeout_s:.0f} s and was killed") from None
        if done.returncode != 0:
            raise ProvingError(f"prove failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        try:
            return json.loads(done.stdout.strip().splitlines()[-1])["max_rss_mb"]
        except (ValueError, IndexError, KeyError):
            return None

    def _bundles(self, jobs, batch, circuit, proof, witness, prove_s, rss) -> list[ProofBundle]:
        rec = self.circuit.record
        instances = tuple(tuple(r) for r in proof["instances"])
        preimage: tuple[str, ...] = ()
        if rec.input_visibility == "hashed":
            preimage = tuple(f for row in witness["inputs"] for f in row)
        bundles = []
        for i, job in enumerate(jobs):
            values = rec.row(list(instances[0]), list(preimage), batch, i)
            bundle = ProofBundle(
                market_id=job.market_id,
                round=job.round,
                model_id=rec.model_id,
                inputs=tuple(ezkl.felt_to_float(f, circuit.input_scale) for f in values.inputs),
                outputs=tuple(ezkl.felt_to_float(f, circuit.output_scale) for f in values.outputs),
                instances=instances,
                proof="0x" + bytes(proof["proof"]).hex(),
                prover=self.signer.address,
                data_snapshot=job.data_snapshot,
                batch_size=batch,
                batch_row=i,
                input_preimage=preimage,
                meta={"prove_s": float(f"{prove_s:.3f}"), "srs_kind": rec.srs_kind, "markets_in_proof": len(jobs),
                      "torch_device": torch_device(), "prove_rss_mb": rss},
            )
            bundles.append(bundle.signed_by(self.signer))
        return bundles
