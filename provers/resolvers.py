"""Resolvers: the registered programs that turn post-event evidence into an outcome.

A resolver is a tiny integer circuit: inputs [x, c1..cm] (ticks, see `markets.evidence`), outputs
x - ci. Every question shape reduces to it: above (x = the close, c = the value), up/down (the close
and the open), range (the close and the bucket bounds), touch (the extreme and the level), versus (the
two gains in ppm). The circuit runs at scale 0 (each felt is the integer itself), so the comparison is
exact: no quantization can move an outcome. It is proven and verified like any model, through the
same record, store, verifier and settlement path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from markets.evidence import MAX_BOUNDS, MAX_TICKS, RECIPE
from oracle.store import ArtifactStore

from .circuit import CompiledModel, _compile_and_publish

# 2^11 rows, and ezkl's range checks decomposed in base 2^10 over 3 legs (|x| < 2^30 covers the
# ±2^25 differences): the 2^10-entry table fits one column. ezkl's default base 2^14 splits its
# table over 9 columns at 2^11 rows and the Solidity verifier grows to 34 kB, over the 24,576 B
# contract limit; 2^15 rows would fit it but prove 4x slower with a 16x proving key. At 2^10 rows
# ezkl 23 passes mock yet makes proofs its verifier refuses (the compile self-check catches that).
LOGROWS = 11
DECOMP_BASE, DECOMP_LEGS = 1 << 10, 3


class Compare(torch.nn.Module):
    """[x, c1..cm] -> [x - c1, ..., x - cm]."""

    def __init__(self, m: int):
        super().__init__()
        self.m = m

    def forward(self, x):
        return x[:, :1] - x[:, 1:]


def resolver_name(m: int) -> str:
    return f"evidence-compare-{m}"


def compile_resolver(store: ArtifactStore, cache: Path, m: int = 1, *, batches: Sequence[int] = (1,),
                     srs_file: Path | None = None, log=lambda msg: None) -> CompiledModel:
    """Compile (or load from cache) the resolver over m comparisons and publish its record."""
    if not 1 <= m <= MAX_BOUNDS:
        raise ValueError(f"a resolver compares against 1..{MAX_BOUNDS} constants, not {m}")
    n = m + 1
    top = float(MAX_TICKS)
    extremes = np.array([[top] + [-top] * m, [-top] + [top] * m, [top] * n, [0.0] * n], dtype=np.float32)
    run_args = {"input_visibility": "public", "output_visibility": "public", "param_visibility": "fixed",
                "input_scale": 0, "param_scale": 0, "logrows": LOGROWS, "decomp_base": DECOMP_BASE,
                "decomp_legs": DECOMP_LEGS}
    return _compile_and_publish(
        Compare(m), name=resolver_name(m), family="resolver", n_inputs=n, recipe=RECIPE, samples=extremes,
        extremes=extremes, run_args=run_args, scales=(), cache=cache, store=store, batches=batches,
        srs_file=srs_file, log=log, output_transform="identity", prove_check=True)
