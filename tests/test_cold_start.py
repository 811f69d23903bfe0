"""A cached circuit loads without rebuilding what only a compile needs (the calibration rows from the
whole history, the box's extreme inputs): a new process gets its model in a fraction of a second.
The range guarantee is the compile's: a circuit is still self-checked with mock on the extremes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from provers import circuit as circuit_mod
from provers.circuit import Calibration, compile_model


def _refuse(*args, **kwargs):
    raise AssertionError("a cached circuit rebuilt what only a compile needs")


def test_cached_reference_circuit_builds_no_calibration_rows(forecaster, store, monkeypatch):
    from oracle import config
    from provers import reference

    real = Calibration.thinned.__func__

    def refusing(cls, *args, **kwargs):  # the same name for the rows, but building them fails
        return Calibration(real(cls, *args, **kwargs).key, _refuse)

    monkeypatch.setattr(Calibration, "thinned", classmethod(refusing))
    monkeypatch.setattr(circuit_mod, "extreme_inputs", _refuse)
    again = reference.reference_circuit(store, config.cache_dir())
    assert again.model_id == forecaster.model_id
    assert again.directories == forecaster.directories


class _Counted:
    def __init__(self, rows):
        self.rows, self.calls = rows, 0

    def __call__(self):
        self.calls += 1
        return self.rows


def _tiny():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).eval()


def test_calibration_is_built_only_when_a_circuit_compiles(tmp_path, store):
    module = _tiny()
    rows = np.random.default_rng(1).uniform(-1, 1, size=(32, 3))
    cache = tmp_path / "cache"

    def compile_with(build, key="tiny-v1"):
        return compile_model(module, name="tiny", family="mlp", n_inputs=3, recipe="test", input_bound=1.0,
                             calibration=Calibration(key, build), cache=cache, store=store)

    first = _Counted(rows)
    compiled = compile_with(first)
    assert first.calls == 1  # a compile calibrates on the rows
    cached = _Counted(rows)
    assert compile_with(cached).model_id == compiled.model_id
    assert cached.calls == 0  # the index finds the circuit without them

    # other rows under another name miss the index, are built, and calibrate a circuit of their own
    other = _Counted(rows * 0.5)
    compile_with(other, key="tiny-v2")
    assert other.calls == 1


def test_a_broken_index_entry_is_not_followed(tmp_path, store):
    module = _tiny()
    rows = np.random.default_rng(1).uniform(-1, 1, size=(32, 3))
    cache = tmp_path / "cache"
    make = lambda build: compile_model(module, name="tiny", family="mlp", n_inputs=3, recipe="test",  # noqa: E731
                                       input_bound=1.0, calibration=Calibration("k", build), cache=cache,
                                       store=store)
    compiled = make(_Counted(rows))
    (entry,) = (cache / "circuits" / "index").iterdir()
    entry.write_text("../../elsewhere")
    again = _Counted(rows)
    assert make(again).model_id == compiled.model_id  # the full key still finds the same circuit
    assert again.calls == 1
    assert entry.read_text() == compiled.directories[1].name  # and the entry is repaired


def test_thinned_calibration_is_named_by_its_inputs_and_code():
    X = np.arange(40.0).reshape(20, 2)
    a = Calibration.thinned(lambda: X, 5, inputs=b"data", code=(Calibration,))
    assert a.build().shape == (5, 2) and a.build()[0, 0] == 0 and a.build()[-1, 0] == 38
    assert Calibration.thinned(lambda: X, 5, inputs=b"data", code=(Calibration,)).key == a.key
    assert Calibration.thinned(lambda: X, 5, inputs=b"other", code=(Calibration,)).key != a.key
    assert Calibration.thinned(lambda: X, 6, inputs=b"data", code=(Calibration,)).key != a.key
    assert Calibration.thinned(lambda: X, 5, inputs=b"data", code=(pytest.approx,)).key != a.key
