"""Compile a torch module into ezkl circuits: ONNX, settings, calibration, SRS, keys; one per batch size.

Artifacts are cached per (ONNX bytes, calibration set, run args, ezkl version):
a second run with the same model reuses them; a missing proving key is
rebuilt. The calibration rows and the box's extreme inputs are built only when a
circuit must be compiled: an index keyed by what determines them (the ONNX bytes,
the calibration's `key`, the input box) finds a cached circuit without them, so a
new process loads a cached model in a fraction of a second. The public part (vk, settings, SRS per circuit) is published to the
artifact store as one `ModelRecord`; proving keys never leave the prover.
"""

from __future__ import annotations

import inspect
import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import ezkl
import numpy as np
import torch

from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import ProvingError
from oracle.models import Circuit, ModelRecord, publish_model, trust_srs
from oracle.store import ArtifactStore

CIRCUIT_FORMAT = 2
ONNX_OPSET = 17  # ezkl's tract backend is tested on opsets 9..18
# 2^13: at most 6e-5 quantization error per input. ezkl's full scale search picks
# the same for these models and takes ~6x longer.
DEFAULT_SCALES = (13,)
# ezkl checks ranges by decomposing values in `base` over `legs` digits, against a table of `base`
# rows. Its default (2^14, 2: 28 bits) needs 2^15 rows for the table alone; (2^10, 3) covers 30 bits
# from a 2^10 table at the cost of a third digit per check. A compile keeps whichever layout needs the
# fewest rows for the batch size: the reference forecaster proves at 2^12 rows instead of 2^15 at
# batch 1, 2^14 at batch 4, and batch 16 keeps ezkl's default (benchmarks/results/proving.json).
# The quantization (scales) is unchanged: outputs are the same felts.
RANGE_CHECKS = ((1 << 14, 2), (1 << 10, 3))


@dataclass(frozen=True)
class Calibration:
    """Real input rows the circuit's scales are calibrated on, built (`build()`) only when a circuit
    is compiled. `key` names the rows: two calibrations with one key must build the same rows."""

    key: str
    build: Callable[[], np.ndarray]

    @classmethod
    def of(cls, rows) -> "Calibration":
        rows = np.asarray(rows, dtype=float)
        return cls(keccak_hex(rows.tobytes() + repr(rows.shape).encode()), lambda: rows)

    @classmethod
    def thinned(cls, examples: Callable[[], np.ndarray], n: int, *, inputs: bytes,
                code: Sequence[object] = ()) -> "Calibration":
        """`n` rows evenly spread over what `examples()` returns (the whole history, thinned), built on
        first use. Named by `inputs` (the data and configuration the examples come from) and the
        source files defining `code` (what builds them): editing either names new rows."""
        sources = b"".join(Path(inspect.getsourcefile(c if inspect.ismodule(c) or inspect.isclass(c) or
                                                      inspect.isroutine(c) else type(c))).read_bytes() for c in code)

        def build() -> np.ndarray:
            X = np.asarray(examples(), dtype=float)
            return X[np.linspace(0, len(X) - 1, num=min(n, len(X))).astype(int)]

        return cls(keccak_hex(inputs + sources + str(n).encode()), build)


class _Samples:
    """What a compile calibrates on and self-checks with (rows, extreme inputs): built once, on first use."""

    def __init__(self, key: str, build: Callable[[], tuple[np.ndarray, np.ndarray]]):
        self.key = key
        self._build = build
        self._value: tuple[np.ndarray, np.ndarray] | None = None
        self.built = False

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        if self._value is None:
            self._value = self._build()
            self.built = True
        return self._value


@dataclass(frozen=True)
class CompiledModel:
    """A model's circuits on the prover's disk (with proving keys) and its public record."""

    record: ModelRecord
    directories: dict[int, Path]
    srs_paths: dict[int, Path]

    @property
    def model_id(self) -> str:
        return self.record.model_id

    def compiled(self, batch: int = 1) -> Path:
        return self.directories[batch] / "model.compiled"

    def pk(self, batch: int = 1) -> Path:
        return self.directories[batch] / "pk.key"

    def srs(self, batch: int = 1) -> Path:
        return self.srs_paths[batch]


def export_onnx(module: torch.nn.Module, n_inputs: int, path: Path, batch: int = 1) -> bytes:
    module.eval()
    with warnings.catch_warnings():
        # the TorchScript exporter is deliberate: ezkl reads its plain ONNX graphs
        warnings.simplefilter("ignore", DeprecationWarning)
        # the residual body unpacks its 3 walk coefficients: a fixed size, traced correctly
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(module, torch.zeros(batch, n_inputs), str(path), input_names=["input"],
                          output_names=["output"], opset_version=ONNX_OPSET, dynamo=False)
    return path.read_bytes()


def extreme_inputs(module: torch.nn.Module, n_inputs: int, bound: float, *, steps: int = 200,
                   starts: int = 8, seed: int = 0) -> np.ndarray:
    """Inputs in the box [-bound, bound]^n that push the module's output to its extremes.

    Calibrating on these (plus the data) makes the circuit's ranges cover every
    witness the box allows: ezkl's prove hangs on a witness outside them.
    """
    g = torch.Generator().manual_seed(seed)
    found = []
    for sign in (1.0, -1.0):
        x = (torch.rand(starts, n_inputs, generator=g) * 2 - 1) * bound
        x.requires_grad_(True)
        opt = torch.optim.Adam([x], lr=0.1 * bound)
        for _ in range(steps):
            opt.zero_grad()
            (-sign * module(x).sum()).backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(-bound, bound)
        with torch.no_grad():
            best = x[int(torch.argmax(sign * module(x).flatten()))].detach().clone()
        found.append(best)
        found.append(torch.sign(best) * bound)  # the nearest corner: extreme for piecewise-linear nets
    return torch.stack(found).numpy()


# names the extremes search in the circuit index: editing it re-derives the extremes of every circuit
_SEARCH = keccak_hex(inspect.getsource(extreme_inputs).encode())


def _srs(cache: Path, logrows: int, public: Path | None = None) -> Path:
    """The SRS for a circuit: a given public ceremony file, or a local dev SRS per logrows
    (generated once, shared by every circuit in the cache; `gen_srs` is random per run)."""
    if public is not None:
        if not public.exists():
            raise ProvingError(f"SRS file {public} does not exist")
        return public
    path = cache / "srs" / f"dev-k{logrows}.srs"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{np.random.randint(1 << 30)}.tmp")
        ezkl.gen_srs(str(tmp), logrows)
        tmp.replace(path)
    return path


def _ezkl(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except BaseException as e:  # PanicException is a BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise ProvingError(f"ezkl {what} failed: {e}") from None


def _indexed(index: Path, circuits: Path) -> Path | None:
    """The cached circuit an index entry names, if it is complete."""
    try:
        found = index.read_text().strip()
    except OSError:
        return None
    if not found or "/" in found or found.startswith("."):
        return None
    directory = circuits / found
    return directory if (directory / "meta.json").exists() else None


def _compile_one(module, *, name: str, batch: int, n_inputs: int, samples: _Samples, run_args: dict,
                 scales: Sequence[int], cache: Path, log, srs_file: Path | None = None,
                 prove_check: bool = False, range_checks: Sequence[tuple[int, int]] = ()) -> tuple[Path, dict]:
    circuits = cache / "circuits"
    circuits.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=circuits))
    try:
        onnx_bytes = export_onnx(module, n_inputs, staging / "model.onnx", batch)
        settings = canonical_json({"run_args": run_args, "scales": list(scales), "ezkl": ezkl.__version__,
                                   "format": CIRCUIT_FORMAT,
                                   "srs": keccak_hex(srs_file.read_bytes()) if srs_file else "dev",
                                   **({"range_checks": [list(r) for r in range_checks]} if range_checks else {})})
        # what determines the rows, not the rows: a cached circuit is found without building them
        quick = keccak_hex(onnx_bytes + samples.key.encode() + settings)[2:18]
        index = circuits / "index" / f"{name}-b{batch}-{quick}"
        directory = _indexed(index, circuits)
        if directory is None:
            rows, extremes = samples.get()
            key = keccak_hex(onnx_bytes + rows.tobytes() + settings)[2:18]
            directory = circuits / f"{name}-b{batch}-{key}"
        if not (directory / "meta.json").exists():
            log(f"compiling {name} for batch {batch}")
            padded = rows if len(rows) % batch == 0 else np.concatenate([rows, rows[: batch - len(rows) % batch]])
            (staging / "calibration.json").write_text(json.dumps({"input_data": [padded.flatten().tolist()]}))
            m, s = str(staging / "model.onnx"), str(staging / "settings.json")
            # each range-check layout (base, legs) tried; the one needing the fewest rows is kept
            tried = []
            for i, (base, legs) in enumerate(range_checks or [(None, None)]):
                ra = ezkl.PyRunArgs()
                for k, v in {**run_args, **({"decomp_base": base, "decomp_legs": legs} if base else {})}.items():
                    setattr(ra, k, v)
                path = str(staging / f"settings-{i}.json")
                _ezkl("gen_settings", ezkl.gen_settings, m, path, py_run_args=ra)
                if scales:  # no scales: the run args fix them (integer circuits)
                    _ezkl("calibrate_settings", ezkl.calibrate_settings, str(staging / "calibration.json"), m, path,
                          "resources", scales=list(scales))
                tried.append((json.loads(Path(path).read_text())["run_args"]["logrows"], i, path))
            logrows, i, path = min(tried)
            if range_checks:
                log(f"{name} batch {batch}: range checks in base {range_checks[i][0]} x {range_checks[i][1]} legs "
                    f"(logrows {', '.join(str(t[0]) for t in tried)} for {list(range_checks)})")
            Path(path).replace(s)
            for _, _, other in tried:
                Path(other).unlink(missing_ok=True)
            _ezkl("compile_circuit", ezkl.compile_circuit, m, str(staging / "model.compiled"), s)
            srs = _srs(cache, logrows, srs_file)
            log(f"setup {name} batch {batch}: logrows {logrows}")
            _ezkl("setup", ezkl.setup, str(staging / "model.compiled"), str(staging / "vk.key"),
                  str(staging / "pk.key"), str(srs))
            params_hash = _self_check(staging, extremes, batch, n_inputs, srs if prove_check else None)
            (staging / "calibration.json").unlink()
            meta = {"logrows": logrows, "srs": str(srs if srs_file else srs.relative_to(cache)),
                    "params_hash": params_hash}
            (staging / "meta.json").write_text(json.dumps(meta))
            try:
                staging.rename(directory)
            except OSError:  # another process finished the same circuit first: use theirs
                pass
        if _indexed(index, circuits) != directory:
            index.parent.mkdir(exist_ok=True)
            tmp = index.with_name(f".{index.name}.{np.random.randint(1 << 30)}.tmp")
            tmp.write_text(directory.name)
            tmp.replace(index)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    meta = json.loads((directory / "meta.json").read_text())
    srs = cache / meta["srs"]
    if not srs.exists():
        raise ProvingError(f"SRS {srs} behind cached circuit {directory.name} is gone: clear {cache}")
    if not (directory / "pk.key").exists():
        log("proving key missing: running setup again")
        _ezkl("setup", ezkl.setup, str(directory / "model.compiled"), str(directory / "vk.key"),
              str(directory / "pk.key"), str(srs))
    return directory, {**meta, "srs_path": srs}


def compile_model(
    module: torch.nn.Module,
    *,
    name: str,
    family: str,
    n_inputs: int,
    recipe: str,
    calibration: "np.ndarray | Calibration",
    input_bound: float,
    cache: Path,
    store: ArtifactStore,
    batches: Sequence[int] = (1,),
    input_visibility: str = "public",
    param_visibility: str = "fixed",
    output_transform: str = "identity",
    scales: Sequence[int] = DEFAULT_SCALES,
    srs_file: Path | None = None,
    run_args: dict | None = None,
    range_checks: Sequence[tuple[int, int]] = RANGE_CHECKS,
    log=lambda msg: None,
) -> CompiledModel:
    """Compile (or load from cache) one circuit per batch size and publish the model's record.

    `calibration`: real input rows (or a `Calibration` that builds them only if a circuit is compiled).
    The circuit is calibrated on them, on 256 random points of the box [-input_bound, input_bound]^n
    and on the box's extreme inputs for this module, and must pass mock on those extremes (and prove and
    verify the first). `range_checks`: the (base, legs) layouts to choose from, per batch size."""
    if input_visibility not in ("public", "hashed"):
        raise ProvingError(f"input visibility {input_visibility!r}: use 'public' or 'hashed'")
    if param_visibility not in ("fixed", "hashed"):
        raise ProvingError(f"parameter visibility {param_visibility!r}: use 'fixed' or 'hashed'")
    if input_visibility == "hashed" and param_visibility == "hashed":
        raise ProvingError("hashed inputs with hashed parameters together are not supported yet")
    if not isinstance(calibration, Calibration):
        calibration = Calibration.of(calibration)

    def build() -> tuple[np.ndarray, np.ndarray]:
        extremes = extreme_inputs(module, n_inputs, input_bound)
        box = np.random.default_rng(0).uniform(-input_bound, input_bound, size=(256, n_inputs))
        rows = np.concatenate([np.asarray(calibration.build(), dtype=float), box, extremes]).astype(np.float32)
        return rows, extremes

    # the extremes are the module's (its ONNX bytes are in the circuit's index key) in this box
    samples = _Samples(keccak_hex(canonical_json({"calibration": calibration.key, "input_bound": input_bound,
                                                  "box": 256, "search": _SEARCH})),
                       build)
    # `run_args`: more of ezkl's run arguments (e.g. decomp_base, decomp_legs: the range-check table)
    run_args = {**(run_args or {}), "input_visibility": input_visibility, "output_visibility": "public",
                "param_visibility": param_visibility}
    return _compile_and_publish(
        module, name=name, family=family, n_inputs=n_inputs, recipe=recipe, samples=samples,
        run_args=run_args, scales=scales, cache=cache, store=store, batches=batches, srs_file=srs_file, log=log,
        output_transform=output_transform, prove_check=True,
        range_checks=() if "decomp_base" in run_args else range_checks)


def _compile_and_publish(module, *, name: str, family: str, n_inputs: int, recipe: str,
                         samples: "np.ndarray | _Samples", run_args: dict, scales: Sequence[int], cache: Path,
                         store: ArtifactStore, batches: Sequence[int], srs_file: Path | None, log,
                         output_transform: str, extremes: np.ndarray | None = None,
                         prove_check: bool = False, range_checks: Sequence[tuple[int, int]] = ()) -> CompiledModel:
    """One circuit per batch size, then the model's public record into the store. `samples`: the
    calibration rows with `extremes` (the inputs the self-check mocks), or a `_Samples` building both."""
    if not isinstance(samples, _Samples):
        rows, checked = np.asarray(samples), np.asarray(extremes)
        samples = _Samples(keccak_hex(rows.tobytes() + checked.tobytes()), lambda: (rows, checked))
    input_visibility, param_visibility = run_args["input_visibility"], run_args["param_visibility"]
    directories, srs_paths, circuits = {}, {}, []
    n_outputs = None
    for batch in sorted(set(batches)):
        directory, meta = _compile_one(module, name=name, batch=batch, n_inputs=n_inputs, samples=samples,
                                       run_args=run_args, scales=scales, cache=cache, log=log,
                                       srs_file=srs_file, prove_check=prove_check, range_checks=range_checks)
        settings = json.loads((directory / "settings.json").read_text())
        n_outputs = int(np.prod(settings["model_instance_shapes"][-1])) // batch
        directories[batch], srs_paths[batch] = directory, meta["srs_path"]
        circuits.append(Circuit(
            batch=batch, vk=store.put_file(directory / "vk.key"),
            settings=store.put_file(directory / "settings.json"), srs=store.put_file(meta["srs_path"]),
            logrows=meta["logrows"], input_scale=settings["model_input_scales"][0],
            output_scale=settings["model_output_scales"][0], params_hash=meta.get("params_hash"),
        ))
    record = ModelRecord.create(
        name=name, family=family, circuits=tuple(circuits), srs_kind="public" if srs_file else "dev",
        n_inputs=n_inputs, n_outputs=n_outputs, input_visibility=input_visibility,
        param_visibility=param_visibility, output_transform=output_transform, recipe=recipe,
    )
    # this machine made (or was handed by its operator) the SRS it set up with: roles sharing this
    # store trust it; a peer's record never adds to the trusted set
    for srs in {c.srs for c in circuits}:
        trust_srs(store, [srs], source=f"compiled-{srs}")
    publish_model(store, record)
    return CompiledModel(record, directories, srs_paths)


def _self_check(directory: Path, extremes: np.ndarray, batch: int, n_inputs: int,
                srs: Path | None = None) -> str | None:
    """Witness + mock on the extreme inputs: a calibration that misses them fails here, not in prove.
    With `srs`, the first extreme is also proven and verified: ezkl 23 can pass mock yet make a proof
    its own verifier refuses (seen with integer circuits at 2^10 rows).

    Returns the Poseidon commitment to the parameters when they are hashed.
    """
    params_hash = None
    for i, x in enumerate(extremes):
        inp, wit = directory / f"check-{i}.json", directory / f"check-{i}.wit.json"
        rows = np.tile(np.asarray(x, dtype=float), (batch, 1))
        inp.write_text(json.dumps({"input_data": [rows.flatten().tolist()]}))
        try:
            w = _ezkl("witness on an extreme input", ezkl.gen_witness, str(inp), str(directory / "model.compiled"),
                      str(wit))
            _ezkl("mock on an extreme input (calibration misses part of the domain)", ezkl.mock, str(wit),
                  str(directory / "model.compiled"))
            pp = w.get("processed_params")
            if pp:
                params_hash = pp["poseidon_hash"][0]
            if srs is not None and i == 0:
                proof = directory / "check.proof.json"
                _ezkl("prove on an extreme input", ezkl.prove, str(wit), str(directory / "model.compiled"),
                      str(directory / "pk.key"), str(proof), str(srs))
                _ezkl("verify of the self-check proof (ezkl made a proof its verifier refuses)", ezkl.verify,
                      str(proof), str(directory / "settings.json"), str(directory / "vk.key"), str(srs))
                proof.unlink(missing_ok=True)
        finally:
            inp.unlink(missing_ok=True)
            wit.unlink(missing_ok=True)
    return params_hash


def onnx_input_width(path: Path) -> int:
    import onnx

    graph = onnx.load(str(path)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].dim_value:
        raise ProvingError(f"{path.name}: expected one input of shape [batch, features]")
    return dims[1].dim_value


def _loadable_modules() -> list[type]:
    """The classes a saved module may be built from: torch's own layers and this project's model
    families. Anything else in a pickle is refused: unpickling a user's file must never run code."""
    import inspect

    from . import families

    torch_layers = [c for _, c in inspect.getmembers(torch.nn.modules, inspect.isclass)
                    if issubclass(c, torch.nn.Module)]
    ours = [c for _, c in inspect.getmembers(families, inspect.isclass)
            if issubclass(c, torch.nn.Module) and c.__module__ == families.__name__]
    return torch_layers + ours


def load_module(path: Path) -> torch.nn.Module:
    """A torch module saved whole (`torch.save(module, path)`) or an ONNX graph wrapped for export.

    A `.pt` file is loaded with torch's weights-only unpickler, allowing only torch's layers and our
    model families: a pickle that names any other callable is refused, never executed."""
    if path.suffix == ".onnx":
        return OnnxModule(path)
    try:
        with torch.serialization.safe_globals(_loadable_modules()):
            module = torch.load(path, weights_only=True)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ProvingError(f"{path.name}: not a saved torch module made of torch layers or this project's "
                           f"model families (export other models to ONNX): {reason}") from None
    if not isinstance(module, torch.nn.Module):
        raise ProvingError(f"{path.name}: holds a {type(module).__name__}, not a torch.nn.Module")
    return module.eval()


class OnnxModule(torch.nn.Module):
    """An ONNX model made exportable and differentiable by converting it back to torch (onnx2torch-free:
    only Gemm/MatMul/Add/Relu graphs, which is what a plain MLP export contains)."""

    def __init__(self, path: Path):
        super().__init__()
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        weights = {t.name: torch.tensor(numpy_helper.to_array(t)) for t in model.graph.initializer}
        self.steps: list[tuple[str, list[str], str, dict]] = []
        for node in model.graph.node:
            if node.op_type not in ("Gemm", "MatMul", "Add", "Relu", "Sigmoid"):
                raise ProvingError(f"{path.name}: ONNX op {node.op_type} is not supported for direct compile; "
                                   "save the torch module instead")
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            self.steps.append((node.op_type, list(node.input), node.output[0], attrs))
        self.params = torch.nn.ParameterDict(
            {f"w{i}": torch.nn.Parameter(w, requires_grad=False) for i, w in enumerate(weights.values())})
        self.names = {name: f"w{i}" for i, name in enumerate(weights)}
        self.input_name = model.graph.input[0].name
        self.output_name = model.graph.output[0].name

    def forward(self, x):
        env = {self.input_name: x}
        get = lambda n: env[n] if n in env else self.params[self.names[n]]  # noqa: E731
        for op, ins, out, attrs in self.steps:
            if op == "Gemm":
                a, b = get(ins[0]), get(ins[1])
                b = b.t() if attrs.get("transB") else b
                y = a @ b
                env[out] = y + get(ins[2]) if len(ins) > 2 else y
            elif op == "MatMul":
                env[out] = get(ins[0]) @ get(ins[1])
            elif op == "Add":
                env[out] = get(ins[0]) + get(ins[1])
            elif op == "Relu":
                env[out] = torch.relu(get(ins[0]))
            else:
                env[out] = torch.sigmoid(get(ins[0]))
        return env[self.output_name]
