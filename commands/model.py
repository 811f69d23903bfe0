"""`oracle model ...`: registered models and their public artifacts; compiling new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from oracle import config
from oracle.errors import NotFound

from .home import store
from .render import JsonOption, emit, handles_errors, out, progress, srs_label

app = typer.Typer(no_args_is_help=True, help="Registered models and their public artifacts.")


@app.command("list")
@handles_errors
def list_(as_json: bool = JsonOption) -> None:
    """Models this home knows: those whose public artifacts (vk, settings, SRS) are in its store, and,
    with a node configured, those its chain knows (verifiers in ModelRegistry, resolvers and
    forecasters markets were registered with)."""
    from oracle.models import list_models

    rows = {r.model_id: {**r.to_json(), "known_from": ["store"]} for r in list_models(store())}
    for model_id, where in _chain_models():
        row = rows.setdefault(model_id, {"model_id": model_id, "name": None, "family": None, "circuits": [],
                                         "n_inputs": None, "input_visibility": None, "srs_kind": None,
                                         "known_from": []})
        if where not in row["known_from"]:
            row["known_from"].append(where)
    emit(list(rows.values()), as_json, _render_list)


def _chain_models() -> list[tuple[str, str]]:
    """(model id, where the chain names it) for this node's deployment; none without a node."""
    from network.node.config import NodeConfig
    from oracle.chain import Chain
    from oracle.deployment import Deployment

    try:
        cfg = NodeConfig.load()
    except NotFound:
        return []
    dep = Deployment.load(Chain.rpc(cfg.rpc_url), config.home() / "deployments")
    found = [("0x" + bytes(log["args"]["modelId"]).hex(), "chain: ModelRegistry verifier")
             for log in dep.chain.logs(dep.models.events.ModelRegistered(), from_block=dep.from_block)]
    for log in dep.chain.logs(dep.registry.events.MarketRegistered(), from_block=dep.from_block):
        found.append(("0x" + bytes(log["args"]["modelId"]).hex(), "chain: market resolver"))
        forecaster = "0x" + bytes(log["args"]["forecasterId"]).hex()
        if int(forecaster, 16):
            found.append((forecaster, "chain: market forecaster"))
    return found


def _render_list(records: list[dict[str, Any]]) -> None:
    if not records:
        out.print("No models yet. `oracle model resolvers` compiles this node's resolvers (the `resolver` a "
                  "market spec names); `oracle market new` does it for you.", highlight=False)
        return
    table = Table(title="Models")
    for col in ("model id", "name", "family", "batches", "inputs", "SRS", "known from"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(r["model_id"], r["name"] or "-", r["family"] or "-",
                      ",".join(str(c["batch"]) for c in r["circuits"]) or "-",
                      f"{r['n_inputs']} ({r['input_visibility']})" if r["n_inputs"] is not None else "-",
                      srs_label(r["srs_kind"]) if r["srs_kind"] else "-", ", ".join(r["known_from"]))
    out.print(table)


@app.command("resolvers")
@handles_errors
def resolvers(
    width: list[int] = typer.Option([1], "--width", help="Comparisons: 1 for above, up_down, touch and versus "
                                    "markets; k for a range market with k bounds (repeat)."),
    as_json: bool = JsonOption,
) -> None:
    """This node's resolver model ids, the `resolver` a market spec names (compiled on first use with
    the node's batch sizes, then cached)."""
    from markets.evidence import MAX_BOUNDS
    from network.node import NodeConfig
    from provers.resolvers import compile_resolver

    if any(not 1 <= w <= MAX_BOUNDS for w in width):
        raise typer.BadParameter(f"widths are 1..{MAX_BOUNDS}", param_hint="--width")
    try:
        batches = tuple(NodeConfig.load().batches)
    except NotFound:  # no node here yet: what `oracle node init` configures by default
        batches = (1,)
    rows = []
    for w in sorted(set(width)):
        with progress(f"resolver over {w} comparison(s): compile, keys (once, then cached)", quiet=as_json) as log:
            compiled = compile_resolver(store(), config.cache_dir(), w, batches=batches, log=log)
        rows.append({"width": w, "model_id": compiled.model_id, "name": compiled.record.name,
                     "shapes": "above, up_down, touch, versus" if w == 1 else f"range with {w} bounds",
                     "batches": list(batches)})
    emit(rows, as_json, _render_resolvers)


def _render_resolvers(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Resolvers (a spec's `resolver`)")
    for col in ("resolver model id", "comparisons", "for shapes"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["model_id"], str(r["width"]), r["shapes"])
    out.print(table)


@app.command("compile")
@handles_errors
def compile_(
    source: str = typer.Argument(..., help="A family (mlp, conv1d, trees), hourly (the mlp reference on the "
                                 "hourly-volatility recipe, trailing_returns_hourly_vol_v1), a saved torch module "
                                 "(.pt) or an ONNX file."),
    batch: list[int] = typer.Option([1], "--batch", help="Batch size(s) to compile (repeat)."),
    inputs: str = typer.Option("public", help="Input visibility: public | hashed (Poseidon commitment)."),
    params: str = typer.Option("fixed", help="Parameter visibility: fixed | hashed (weights stay private)."),
    name: Optional[str] = typer.Option(None, help="Model name (files)."),
    transform: str = typer.Option("sigmoid", help="What the output means: sigmoid (logit) | identity."),
    srs: Optional[str] = typer.Option(None, "--srs", help="A public SRS file (default: local dev SRS)."),
    as_json: bool = JsonOption,
) -> None:
    """Compile a model into ezkl circuits; publish vk, settings and SRS; keep proving keys locally."""
    from oracle.models import OUTPUT_TRANSFORMS

    if transform not in OUTPUT_TRANSFORMS:
        raise typer.BadParameter(f"must be one of {OUTPUT_TRANSFORMS}", param_hint="--transform")
    if any(b < 1 or b > 256 for b in batch):
        raise typer.BadParameter("batch sizes are 1..256", param_hint="--batch")
    with progress(f"model {source}: train, compile, proving keys", quiet=as_json) as log:
        compiled = _compile(source, batch, inputs, params, name, transform, srs, log)
    emit(compiled.record.to_json(), as_json, _render_compiled)


def _compile(source: str, batch: list[int], inputs: str, params: str, name: Optional[str], transform: str,
             srs: Optional[str], log):
    if source == "hourly":
        from provers.reference import hourly_circuit

        if (inputs, params) != ("public", "fixed"):
            raise typer.BadParameter("the hourly forecaster is compiled with public inputs and fixed parameters",
                                     param_hint="--inputs/--params")
        compiled = hourly_circuit(store(), config.cache_dir(), batches=tuple(batch), log=log)
    elif source in ("mlp", "conv1d", "trees"):
        from provers.reference import reference_circuit

        compiled = reference_circuit(store(), config.cache_dir(), family=source, batches=tuple(batch),
                                     input_visibility=inputs, param_visibility=params, log=log)
    else:
        import numpy as np

        from markets.features import CLIP
        from provers.circuit import compile_model, load_module, onnx_input_width

        path = Path(source)
        if not path.exists():
            raise NotFound(f"{source} is neither a model family nor a file")
        module = load_module(path)
        n = onnx_input_width(path) if path.suffix == ".onnx" else int(next(module.parameters()).shape[-1])
        compiled = compile_model(module, name=name or path.stem, family="custom", n_inputs=n,
                                 recipe="trailing_returns_v1", calibration=np.zeros((1, n)), input_bound=CLIP,
                                 cache=config.cache_dir(), store=store(), batches=tuple(batch),
                                 input_visibility=inputs, param_visibility=params, output_transform=transform,
                                 srs_file=Path(srs) if srs else None, log=log)
    return compiled


def _render_compiled(record: dict[str, Any]) -> None:
    out.print(f"{record['name']}: model id {record['model_id']} (batches "
              f"{[c['batch'] for c in record['circuits']]}, SRS: {srs_label(record['srs_kind'])})", highlight=False)


@app.command("show")
@handles_errors
def show(model_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """One model: its public artifacts and its reputation (Brier over its scored forecasts)."""
    from oracle.models import load_model
    from oracle.state import LocalState

    record = load_model(store(), model_id.lower()).to_json()
    state_path = config.home() / "state.sqlite"
    rep = LocalState(state_path).reputation(record["model_id"]) if state_path.exists() else \
        {"markets": 0, "forecasts": 0, "brier": None, "log_loss": None, "accuracy": None}
    from markets.evaluation import latest_evaluation

    emit({**record, "reputation": rep, "evaluation": latest_evaluation(store(), record["model_id"])}, as_json,
         _render_model)


def _render_model(doc: dict[str, Any]) -> None:
    rep = doc["reputation"]
    for k, v in doc.items():
        if k in ("reputation", "circuits", "evaluation"):
            continue
        shown = srs_label(v) if k == "srs_kind" else ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        out.print(f"[bold]{k}[/bold]: {shown}", highlight=False)
    circuits = Table(title="Circuits")
    for col in ("batch", "logrows", "vk", "settings", "SRS"):
        circuits.add_column(col, overflow="fold")
    for c in doc.get("circuits", []):
        circuits.add_row(str(c["batch"]), str(c.get("logrows", "-")), c["vk"], c["settings"], c["srs"])
    out.print(circuits)
    if rep["forecasts"]:
        out.print(f"[bold]reputation[/bold]: Brier {rep['brier']:.4f}, log loss {rep['log_loss']:.4f}, "
                  f"accuracy {rep['accuracy']:.3f} over {rep['forecasts']} forecast(s) in {rep['markets']} market(s)")
    else:
        out.print("[bold]reputation[/bold]: no resolved forecasts yet")
    ev = doc.get("evaluation")
    if ev:  # the latest `oracle evaluate` of this model: the same Brier and log loss (markets.scoring)
        m = ev["scores"].get("model_proven") or ev["scores"]["model_float"]
        out.print(f"[bold]held-out backtest[/bold] ({ev['data']}, {ev['period'][0]} .. {ev['period'][1]}, "
                  f"{ev['n']} questions): Brier {m['brier']:.4f}, log loss {m['log_loss']:.4f}, ECE {m['ece']:.3f}",
                  highlight=False)
        for line in ev["verdicts"]:
            out.print(f"  {line}", highlight=False)
    else:
        out.print("[bold]held-out backtest[/bold]: none on this node yet (`oracle evaluate`)")


@app.command("trust-srs")
@handles_errors
def trust_srs_(
    srs: list[str] = typer.Argument(..., help="SRS file hash(es) (0x + 64 hex) this operator accepts proofs under."),
    as_json: bool = JsonOption,
) -> None:
    """Trust SRS hashes for this home's proof checks (`verify`, in-process validators). A peer's
    model record can name an SRS but never make it trusted: only its operator does, here or in a
    role's `trusted_srs`."""
    from oracle.models import trust_srs, trusted_srs

    s = store()
    trust_srs(s, sorted({h.lower() for h in srs} | _operator_trusted(s)), source="operator")
    emit({"trusted_srs": sorted(trusted_srs(s))}, as_json,
         lambda d: out.print("trusted SRS: " + ", ".join(d["trusted_srs"]), highlight=False))


def _operator_trusted(s) -> set[str]:
    """The hashes this command trusted before (one source's set is replaced as a whole)."""
    from oracle.models import TRUSTED_SRS

    try:
        return set(s.get_json(s.ref(TRUSTED_SRS, "operator"))["trusted_srs"])
    except NotFound:
        return set()
