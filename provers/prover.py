"""The prover role: market + data -> features -> ezkl proof -> signed proof bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ezkl
import pandas as pd

from markets.features import snapshot_bytes
from oracle.bundle import ProofBundle
from oracle.canonical import keccak_hex
from oracle.errors import ProvingError
from oracle.signer import Signer

from .circuit import CompiledCircuit

DEFAULT_PROVE_TIMEOUT_S = 300.0


def _ezkl_call(what: str, fn, *args):
    try:
        return fn(*args)
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise ProvingError(f"{what} failed: {e}") from None


class EzklProver:
    """Proves one market at a time with a compiled circuit; signs what it proves."""

    def __init__(self, circuit: CompiledCircuit, signer: Signer, *, timeout_s: float = DEFAULT_PROVE_TIMEOUT_S,
                 store=None):
        """`store`, when given, receives each round's data snapshot (content-addressed)."""
        self.circuit = circuit
        self.signer = signer
        self.timeout_s = timeout_s
        self.store = store

    @property
    def address(self) -> str:
        return self.signer.address

    def prove(self, spec, frame: pd.DataFrame, *, round: int = 0) -> ProofBundle:
        """Build the market's features from `frame` and return a signed proof bundle."""
        rec = self.circuit.record
        if spec.model != rec.model_id:
            raise ProvingError(f"market {spec.market_id} names model {spec.model}, this prover has {rec.model_id}")
        fs = spec.round(round).features
        features = fs.compute(frame)
        if len(features) != rec.n_inputs:
            raise ProvingError(f"recipe gave {len(features)} features, model takes {rec.n_inputs}")
        snapshot = snapshot_bytes(fs.window(frame), fs.column)
        if self.store is not None:
            self.store.put(snapshot)
        return self.prove_features(spec.market_id, features, round=round, data_snapshot=keccak_hex(snapshot))

    def prove_features(self, market_id: str, features: list[float], *, round: int = 0,
                       data_snapshot: str = "0x" + "00" * 32) -> ProofBundle:
        c = self.circuit
        with tempfile.TemporaryDirectory(prefix="oracle-prove-") as tmp:
            t = Path(tmp)
            (t / "input.json").write_text(json.dumps({"input_data": [features]}))
            t0 = time.perf_counter()
            _ezkl_call("witness", ezkl.gen_witness, str(t / "input.json"), str(c.compiled), str(t / "witness.json"))
            # mock first: a witness outside the calibrated lookup range fails here fast
            # instead of hanging prove forever
            _ezkl_call("mock (witness outside the circuit's calibrated range?)", ezkl.mock,
                       str(t / "witness.json"), str(c.compiled))
            cmd = [sys.executable, "-m", "provers.isolated", str(t / "witness.json"), str(c.compiled),
                   str(c.pk), str(t / "proof.json"), str(c.srs_path)]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s,
                                      cwd=Path(__file__).resolve().parent.parent)
            except subprocess.TimeoutExpired:
                raise ProvingError(f"prove exceeded {self.timeout_s:.0f} s and was killed") from None
            if done.returncode != 0:
                raise ProvingError(f"prove failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
            prove_s = time.perf_counter() - t0
            proof = json.loads((t / "proof.json").read_text())
        inst = proof["instances"]
        n = c.record.n_inputs
        bundle = ProofBundle(
            market_id=market_id,
            round=round,
            model_id=c.record.model_id,
            inputs=tuple(ezkl.felt_to_float(f, c.record.input_scale) for f in inst[0][:n]),
            outputs=tuple(ezkl.felt_to_float(f, c.record.output_scale) for f in inst[0][n:]),
            instances=tuple(tuple(row) for row in inst),
            proof="0x" + bytes(proof["proof"]).hex(),
            prover=self.signer.address,
            data_snapshot=data_snapshot,
            meta={"prove_s": round_s(prove_s), "srs_kind": c.record.srs_kind},
        )
        return bundle.signed_by(self.signer)


def round_s(x: float) -> float:
    return float(f"{x:.3f}")
