"""Model predictions for backtests: the float torch model and the circuit's quantized outputs.

The quantized output is what a proof would carry: ezkl's witness for the
compiled circuit (no proof needed to know it), read exactly like validators do.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Sequence

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


# ------------------------------------------------------------------ backtest
def backtest(frame, model, circuit: CompiledModel | None, *, start: str, end: str | None = None, horizons=(7,),
             ratios=(0.95, 1.0, 1.05), recipe: str = "trailing_returns_v1", column: str = "Close", hourly=None):
    """Score `model` (and the circuit's outputs, when given) on every question in [start, end] against
    the base rate (from outcomes known before `start`) and the random walk. `hourly`: the hourly bars
    a recipe that reads them takes its volatility from. (report, questions, predictions, base rates)."""
    from markets.evaluation import assert_no_lookahead, assert_trained_before, base_rates, evaluate, questions
    from markets.features import RECIPES, hourly_window
    from oracle.errors import FieldError

    qs = questions(frame, start=start, end=end, horizons=horizons, ratios=ratios, recipe=recipe, column=column,
                   hourly=hourly)
    if not qs:
        bars = "" if hourly is None else f" (the hourly bars run {hourly.index[0]:%Y-%m-%d %H:%M}.." \
            f"{hourly.index[-1]:%Y-%m-%d %H:%M}; each question needs the 720 before it)"
        raise FieldError("start", f"no question in [{start}, {end or 'end of data'}] fits inside the data{bars}")
    impl = RECIPES[recipe]

    def closes_of(cut, i, h, k, hourly_cut=None):
        closes = [float(c) for c in cut[column].iloc[i - impl.rows_needed + 1 : i + 1]]
        if not impl.hourly_rows_needed:
            return impl.vector(closes, h, k)
        t = cut.index[i] + _day()
        bars = hourly_window(hourly_cut, t, impl.hourly_rows_needed)["close"]
        return impl.vector(closes, h, k, hourly=bars, forecast_time=t)

    assert_no_lookahead(frame, qs, closes_of, hourly=hourly if impl.hourly_rows_needed else None)
    # the base rate: every question with its outcome before `start`, whatever the model's recipe reads
    history = questions(frame, start=str(frame.index[0].date()), end=str((pd_timestamp(start) - _day()).date()),
                        horizons=horizons, ratios=ratios, column=column)
    # the baseline's rate may only use outcomes known before `start`
    history = [q for q in history if q.known_at < pd_timestamp(start)]
    assert_trained_before([q.known_at for q in history], start, what="base-rate outcome")
    X = [q.features for q in qs]
    preds = {"model_float": float_probabilities(model, X)}
    if circuit is not None:
        preds["model_proven"] = proven_probabilities(circuit, X)
    rates = base_rates(history)
    return evaluate(qs, preds, rates=rates), qs, preds, rates


def evaluate_reference(data: str, *, start: str, end: str | None = None, horizons=(7,),
                       ratios=(0.95, 1.0, 1.05), proven: bool = True, plot_dir: str | None = None,
                       store=None, log=lambda m: None, model: str = "reference",
                       hourly_data: str = "bundled:btc_usd_hourly_bitstamp.csv") -> dict[str, Any]:
    """Backtest a reference model on any daily OHLC CSV: float and proven outputs vs two baselines.
    `model`: "reference" (recipe trailing_returns_v1) or "hourly" (the same design on recipe
    trailing_returns_hourly_vol_v1, its volatility from `hourly_data`'s hourly bars, a CSV with a
    `close` column). `log`: progress (training or loading, compiling, scoring)."""
    from markets.feeds import bundled_path, load_source, resolve_uri
    from oracle import config
    from oracle.errors import FieldError
    from oracle.store import ArtifactStore

    from markets.evaluation import bootstrap_ece, record_evaluation

    from .model import fit_report, load_or_train
    from .reference import (BTC_SOURCE, HOURLY_NAME, HOURLY_SOURCE, REFERENCE_NAME, config_for, hourly_circuit,
                            hourly_config, reference_circuit)

    if model not in ("reference", "hourly"):
        raise FieldError("model", f"must be 'reference' or 'hourly', got {model!r}")
    frame = load_source({"kind": "csv", "uri": data})
    daily_data = bundled_path("btc_usd_daily.csv").read_bytes()
    store = store or ArtifactStore(config.home() / "store")
    hourly = None
    if model == "hourly":
        cfg = hourly_config()
        hourly = load_source({**HOURLY_SOURCE, "uri": hourly_data})
        training_data = daily_data + bundled_path("btc_usd_hourly_bitstamp.csv").read_bytes()
        trained_on, name = f"bundled:btc_usd_daily.csv + {HOURLY_SOURCE['uri']}", HOURLY_NAME
    else:
        cfg = config_for("mlp")
        training_data, trained_on, name = daily_data, "bundled:btc_usd_daily.csv", REFERENCE_NAME
    # any asset: markets move together, so a period the model learned from is not held out anywhere
    if pd_timestamp(start) < pd_timestamp(cfg.test_start):
        same = resolve_uri(data).read_bytes() == daily_data
        raise FieldError("start", f"the {model} model learned from outcomes up to {cfg.train_end}"
                         f"{' on this data' if same else ' (BTC; markets move together)'}: "
                         f"evaluate from {cfg.test_start} (held-out period)")
    train_hourly = load_source(HOURLY_SOURCE) if model == "hourly" else None
    net = load_or_train(load_source(BTC_SOURCE), training_data, cfg, config.cache_dir(), log=log, hourly=train_hourly)
    compile_ = hourly_circuit if model == "hourly" else reference_circuit
    circuit = compile_(store, config.cache_dir(), log=log) if proven else None
    log("scoring every held-out question (float" + (" and proven outputs)" if proven else ")"))
    report, qs, preds, _ = backtest(frame, net, circuit, start=start, end=end, horizons=horizons, ratios=ratios,
                                    recipe=cfg.recipe, hourly=hourly)
    report["data"] = data
    if hourly is not None:
        report["hourly_data"] = hourly_data
    report["model"] = {"name": name, "recipe": cfg.recipe, "trained_on": trained_on, "outcomes_before": cfg.test_start}
    report["horizons"], report["ratios"] = list(horizons), list(ratios)
    if proven:
        report["brier_float_minus_proven"] = (report["models"]["model_float"]["brier"]
                                              - report["models"]["model_proven"]["brier"])
    fit = fit_report(cfg, training_data, config.cache_dir())
    selection = fit.get("chosen")
    report["selection"] = selection
    gate = [gate_sentence(fit.get("recipe_gate"))] if model == "hourly" else []
    ys, dates = [q.outcome for q in qs], [q.date for q in qs]
    report["ece_interval"] = {name: bootstrap_ece(p, ys, dates) for name, p in preds.items()}
    per_horizon = []
    if len(set(horizons)) > 1:  # the pooled verdicts can hide a horizon where the model is worse
        from markets.evaluation import compare, random_walk_probability

        for h in sorted(set(horizons)):
            idx = [i for i, q in enumerate(qs) if q.horizon == h]
            sub = [qs[i] for i in idx]
            comp = compare(sub, {"model_float": [preds["model_float"][i] for i in idx]},
                           {"random_walk": [random_walk_probability(q) for q in sub]})
            per_horizon += [f"h = {h}: {d['verdict']}" for d in comp["model_float"]["random_walk"].values()]
    report["verdicts"] = [selection_sentence(selection)] + gate + report["verdicts"] + per_horizon + [
        ece_sentence(name, e) for name, e in report["ece_interval"].items()]
    if circuit is not None:
        report["model"]["model_id"] = circuit.model_id
        record_evaluation(store, circuit.model_id, report)
    if plot_dir:
        from markets.plots import save_plots

        report["plots"] = [str(p) for p in save_plots(report, [q.date for q in qs], [q.outcome for q in qs],
                                                      preds, plot_dir)]
    return report


ECE_GOAL = 0.03


def gate_sentence(gate: dict | None) -> str:
    """What the recipe gate made of a recipe that reads another source (the hourly bars), in words."""
    if not gate:
        return "recipe gate: no record on this node (the model was trained elsewhere)"
    d = gate["minus_daily_walk_log_loss"]["pooled"]
    kept = "kept" if gate.get("kept") else "refused (a forecaster on it is not shipped)"
    return (f"recipe gate: {gate['recipe']} {kept} on validation (questions asked from {gate['asked'][0]}, "
            f"outcomes before {gate['asked'][1]}): its walk minus {gate['against']}'s walk, log loss pooled "
            f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]")


def selection_sentence(chosen: dict | None) -> str:
    """What model selection on validation made of the forecaster, in words."""
    if not chosen:
        return "model selection: no record on this node (the model was trained elsewhere)"
    if chosen.get("random_walk_only"):
        return ("model selection: no correction or calibration map beat the random walk on validation (pooled, "
                "without being worse at some horizon), so the model is the random walk itself")
    parts = []
    if chosen.get("spread"):
        parts.append(f"a volatility spread w = {chosen['spread']:.2f} (fatter tails than the log-normal's)")
    if chosen.get("penalty"):
        size = f"hidden {chosen['hidden']}, " if chosen.get("hidden") else ""
        parts.append(f"a correction ({size}penalty {chosen['penalty']:g})")
    if chosen.get("calibration") != "identity":
        parts.append(f"a {chosen['calibration']} map (a = {chosen['a']:.3f}, b = {chosen['b']:+.3f})")
    return (f"model selection: the random walk plus {' and '.join(parts)}, kept because on validation it beat "
            "the walk pooled and was worse at no horizon")


def ece_sentence(name: str, e: dict[str, float]) -> str:
    met = "meets" if e["ece"] <= ECE_GOAL else "misses"
    return (f"{name} expected calibration error {e['ece']:.3f}, {e['level']:.0%} interval [{e['low']:.3f}, "
            f"{e['high']:.3f}]: the estimate {met} the goal <= {ECE_GOAL}")


def pd_timestamp(s: str):
    import pandas as pd

    from oracle.errors import FieldError

    try:
        return pd.Timestamp(s)
    except (ValueError, TypeError):
        raise FieldError("start", f"not a date: {s!r}") from None


def _day():
    import pandas as pd

    return pd.Timedelta(days=1)
