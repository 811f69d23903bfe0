"""Model predictions for backtests: the float torch model and the circuit's quantized outputs.

The quantized output is what a proof would carry: ezkl's witness for the
compiled circuit (no proof needed to know it), read exactly like validators do.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Sequence

import ezkl
import torch

from oracle.models import output_probability

from .circuit import CompiledModel


def float_probabilities(model: torch.nn.Module, features: Sequence[Sequence[float]]) -> list[float]:
    with torch.no_grad():
        return model(torch.tensor(features, dtype=torch.float32)).flatten().tolist()


def proven_probabilities(circuit: CompiledModel, features: Sequence[Sequence[float]]) -> list[float]:
    rec = circuit.record
    scale = rec.circuit(1).output_scale
    out = []
    with tempfile.TemporaryDirectory(prefix="oracle-eval-") as tmp:
        inp, wit = Path(tmp) / "input.json", Path(tmp) / "witness.json"
        for f in features:
            inp.write_text(json.dumps({"input_data": [list(f)]}))
            w = ezkl.gen_witness(str(inp), str(circuit.compiled(1)), str(wit))
            q = int(ezkl.felt_to_int(w["outputs"][0][0]))
            out.append(float(output_probability(q, scale, rec.output_transform)))
    return out
