"""The reference model: the BTC 7-day threshold forecaster, trained and compiled on demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from markets.features import CLIP, RECIPES
from markets.feeds import bundled_path, load_source
from oracle.store import ArtifactStore

from .circuit import CompiledCircuit, compile_model
from .model import TrainingConfig, examples, load_or_train

BTC_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}
REFERENCE_NAME = "btc-threshold-mlp"
CALIBRATION_ROWS = 1024


def reference_circuit(store: ArtifactStore, cache: Path, *, log=lambda m: None) -> CompiledCircuit:
    cfg = TrainingConfig()
    frame = load_source(BTC_SOURCE)
    data = bundled_path("btc_usd_daily.csv").read_bytes()
    log("training the reference forecaster (cached after the first run)")
    model = load_or_train(frame, data, cfg, cache)
    X, _, _ = examples(frame, cfg)
    # every real feature vector the data can produce, thinned evenly
    idx = np.linspace(0, len(X) - 1, num=min(CALIBRATION_ROWS, len(X))).astype(int)
    # The circuit proves the logit; the sigmoid is applied exactly by whoever reads
    # the proof (oracle.models.output_probability). A sigmoid lookup table spanning
    # every logit the input box allows would need 2^19 rows instead of 2^15.
    return compile_model(
        model.body,
        name=REFERENCE_NAME,
        n_inputs=RECIPES[cfg.recipe].n_features,
        recipe=cfg.recipe,
        calibration=X[idx],
        input_bound=CLIP,
        output_transform="sigmoid",
        cache=cache,
        store=store,
        log=log,
    )
