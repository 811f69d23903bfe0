"""Compile a torch module into an ezkl circuit: ONNX, settings, calibration, SRS, keys.

Artifacts are cached per (ONNX bytes, calibration set, run args, ezkl version):
a second run with the same model reuses them; a missing proving key is rebuilt.
The public part (vk, settings, SRS) is published to the artifact store as a
`ModelRecord`; the proving key never leaves the prover's cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import ezkl
import numpy as np
import torch

from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import ProvingError
from oracle.models import ModelRecord, model_id_of, publish_model
from oracle.store import ArtifactStore

CIRCUIT_FORMAT = 1
ONNX_OPSET = 17  # ezkl's tract backend is tested on opsets 9..18


@dataclass(frozen=True)
class CompiledCircuit:
    directory: Path
    record: ModelRecord
    srs_path: Path

    @property
    def model_id(self) -> str:
        return self.record.model_id

    @property
    def compiled(self) -> Path:
        return self.directory / "model.compiled"

    @property
    def settings(self) -> Path:
        return self.directory / "settings.json"

    @property
    def vk(self) -> Path:
        return self.directory / "vk.key"

    @property
    def pk(self) -> Path:
        return self.directory / "pk.key"


def export_onnx(module: torch.nn.Module, n_inputs: int, path: Path) -> bytes:
    module.eval()
    dummy = torch.zeros(1, n_inputs)
    with warnings.catch_warnings():
        # the TorchScript exporter is deliberate: ezkl reads its plain ONNX graphs
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, dummy, str(path), input_names=["input"], output_names=["output"],
            opset_version=ONNX_OPSET, dynamo=False,
        )
    return path.read_bytes()


def extreme_inputs(module: torch.nn.Module, n_inputs: int, bound: float, *, steps: int = 200,
                   starts: int = 8, seed: int = 0) -> np.ndarray:
    """Inputs in the box [-bound, bound]^n that push the module's output to its extremes.

    Calibrating on these (plus the data) makes the circuit's ranges cover every
    witness the box allows: ezkl's prove hangs on a witness outside them.
    """
    score = module
    g = torch.Generator().manual_seed(seed)
    found = []
    for sign in (1.0, -1.0):
        x = (torch.rand(starts, n_inputs, generator=g) * 2 - 1) * bound
        x.requires_grad_(True)
        opt = torch.optim.Adam([x], lr=0.1 * bound)
        for _ in range(steps):
            opt.zero_grad()
            (-sign * score(x).sum()).backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(-bound, bound)
        with torch.no_grad():
            vals = score(x).flatten()
            found.append(x[int(torch.argmax(sign * vals))].detach().clone())
            # corners of the box nearest to the optimum are extreme for piecewise-linear nets
            found.append(torch.sign(x[int(torch.argmax(sign * vals))]) * bound)
    return torch.stack(found).numpy()


def _srs(cache: Path, logrows: int) -> Path:
    """A local dev SRS per logrows, generated once and shared by every circuit in the cache."""
    path = cache / "srs" / f"dev-k{logrows}.srs"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        ezkl.gen_srs(str(tmp), logrows)
        tmp.replace(path)
    return path


def compile_model(
    module: torch.nn.Module,
    *,
    name: str,
    n_inputs: int,
    recipe: str,
    calibration: np.ndarray,
    input_bound: float,
    cache: Path,
    store: ArtifactStore,
    input_visibility: str = "public",
    output_transform: str = "identity",
    log=lambda msg: None,
) -> CompiledCircuit:
    """Compile (or load from cache) and publish the model's public artifacts."""
    circuits = cache / "circuits"
    circuits.mkdir(parents=True, exist_ok=True)
    # per-process staging dir: two provers compiling at once never share files
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=circuits))
    onnx_bytes = export_onnx(module, n_inputs, staging / "model.onnx")

    extremes = extreme_inputs(module, n_inputs, input_bound)
    rng = np.random.default_rng(0)
    box = rng.uniform(-input_bound, input_bound, size=(256, n_inputs))
    samples = np.concatenate([np.asarray(calibration, dtype=float), box, extremes]).astype(np.float32)
    run_args = {
        "input_visibility": input_visibility,
        "output_visibility": "public",
        "param_visibility": "fixed",
    }
    key = keccak_hex(
        onnx_bytes + samples.tobytes()
        + canonical_json({"run_args": run_args, "ezkl": ezkl.__version__, "format": CIRCUIT_FORMAT,
                          "output_transform": output_transform})
    )[2:18]
    directory = circuits / f"{name}-{key}"
    marker = directory / "record.json"

    if not marker.exists():
        log(f"compiling circuit {name} ({len(samples)} calibration samples)")
        (staging / "calibration.json").write_text(json.dumps({"input_data": [samples.flatten().tolist()]}))
        ra = ezkl.PyRunArgs()
        ra.input_visibility = input_visibility
        ra.output_visibility = "public"
        ra.param_visibility = "fixed"
        m, s = str(staging / "model.onnx"), str(staging / "settings.json")
        ezkl.gen_settings(m, s, py_run_args=ra)
        ezkl.calibrate_settings(str(staging / "calibration.json"), m, s, "resources")
        ezkl.compile_circuit(m, str(staging / "model.compiled"), s)
        settings = json.loads((staging / "settings.json").read_text())
        logrows = settings["run_args"]["logrows"]
        srs = _srs(cache, logrows)
        log(f"setup: logrows {logrows}")
        ezkl.setup(str(staging / "model.compiled"), str(staging / "vk.key"), str(staging / "pk.key"), str(srs))
        _self_check(staging, extremes)
        (staging / "calibration.json").unlink()
        meta = {"logrows": logrows, "srs": str(srs.relative_to(cache))}
        (staging / "record.json").write_text(json.dumps(meta))
        try:
            staging.rename(directory)
        except OSError:  # another process finished the same circuit first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    else:
        shutil.rmtree(staging, ignore_errors=True)

    meta = json.loads(marker.read_text())
    settings = json.loads((directory / "settings.json").read_text())
    srs = cache / meta["srs"]
    if not srs.exists():
        raise ProvingError(f"SRS {srs} behind cached circuit {directory.name} is gone: clear the cache")
    if not (directory / "pk.key").exists():
        log("proving key missing: running setup again")
        ezkl.setup(str(directory / "model.compiled"), str(directory / "vk.key"), str(directory / "pk.key"), str(srs))

    vk_id = store.put_file(directory / "vk.key")
    settings_id = store.put_file(directory / "settings.json")
    srs_id = store.put_file(srs)
    record = ModelRecord(
        model_id=model_id_of(vk_id, settings_id),
        name=name,
        vk=vk_id,
        settings=settings_id,
        srs=srs_id,
        srs_kind="dev",
        logrows=settings["run_args"]["logrows"],
        n_inputs=n_inputs,
        n_outputs=int(np.prod(settings["model_instance_shapes"][-1])),
        input_scale=settings["model_input_scales"][0],
        output_scale=settings["model_output_scales"][0],
        input_visibility=input_visibility,
        output_transform=output_transform,
        recipe=recipe,
    )
    publish_model(store, record)
    return CompiledCircuit(directory, record, srs)


def _self_check(directory: Path, extremes: Sequence[np.ndarray]) -> None:
    """Witness + mock on the extreme inputs: a calibration that misses them fails here, not in prove."""
    for i, x in enumerate(extremes):
        inp = directory / f"check-{i}.json"
        wit = directory / f"check-{i}.wit.json"
        inp.write_text(json.dumps({"input_data": [np.asarray(x, dtype=float).tolist()]}))
        try:
            ezkl.gen_witness(str(inp), str(directory / "model.compiled"), str(wit))
            ezkl.mock(str(wit), str(directory / "model.compiled"))
        except BaseException as e:  # PanicException is a BaseException
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise ProvingError(f"calibrated circuit fails on an extreme input of its domain: {e}") from None
        finally:
            inp.unlink(missing_ok=True)
            wit.unlink(missing_ok=True)
