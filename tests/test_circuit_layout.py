"""A compile keeps the range-check layout that needs the fewest rows, and the circuit it keeps still
passes mock on the box's extremes and proves and verifies (the compile's self-check)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from provers.circuit import compile_model

pytestmark = pytest.mark.slow


def test_the_layout_with_fewest_rows_is_kept(tmp_path, store):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).eval()
    rows = np.random.default_rng(1).uniform(-1, 1, size=(32, 3))
    logs: list[str] = []
    compiled = compile_model(module, name="tiny", family="mlp", n_inputs=3, recipe="test", input_bound=1.0,
                             calibration=rows, cache=tmp_path, store=store, log=logs.append)
    settings = json.loads((compiled.directories[1] / "settings.json").read_text())["run_args"]
    # ezkl's default (2^14, 2 legs) needs 2^15 rows for its table; 2^10 over 3 legs fits 2^11
    assert (settings["decomp_base"], settings["decomp_legs"]) == (1 << 10, 3)
    assert settings["logrows"] == compiled.record.circuit(1).logrows <= 12
    assert any("range checks in base 1024 x 3 legs" in m for m in logs)
    assert not list(compiled.directories[1].glob("settings-*.json"))

    only_default = compile_model(module, name="tiny", family="mlp", n_inputs=3, recipe="test", input_bound=1.0,
                                 calibration=rows, cache=tmp_path, store=store, range_checks=((1 << 14, 2),))
    assert only_default.record.circuit(1).logrows == 15
    assert only_default.model_id != compiled.model_id
