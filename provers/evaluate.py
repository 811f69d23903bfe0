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
def evaluate_reference(data: str, *, start: str, end: str | None = None, horizons=(7,),
                       ratios=(0.95, 1.0, 1.05), proven: bool = True, plot_dir: str | None = None,
                       store=None) -> dict[str, Any]:
    """Backtest the reference model on any daily OHLC CSV: float and proven outputs vs two baselines."""
    from markets.evaluation import assert_no_lookahead, base_rates, evaluate, questions
    from markets.features import RECIPES
    from markets.feeds import bundled_path, load_source, resolve_uri
    from oracle import config
    from oracle.errors import FieldError
    from oracle.store import ArtifactStore

    from .model import TrainingConfig, load_or_train
    from .reference import BTC_SOURCE, reference_circuit

    frame = load_source({"kind": "csv", "uri": data})
    cfg = TrainingConfig()
    training_data = bundled_path("btc_usd_daily.csv").read_bytes()
    if resolve_uri(data).read_bytes() == training_data and pd_timestamp(start) <= pd_timestamp(cfg.train_end):
        raise FieldError("start", f"the reference model trained on this data up to {cfg.train_end}: "
                         f"evaluate after it (held-out period)")
    qs = questions(frame, start=start, end=end, horizons=horizons, ratios=ratios)
    if not qs:
        raise FieldError("start", f"no question in [{start}, {end or 'end of data'}] fits inside the data")
    impl = RECIPES[cfg.recipe]
    closes_of = lambda cut, i, h, k: impl.vector(  # noqa: E731
        [float(c) for c in cut["Close"].iloc[i - impl.rows_needed + 1 : i + 1]], h, k)
    assert_no_lookahead(frame, qs, closes_of)
    history = questions(frame, start=str(frame.index[0].date()), end=str((pd_timestamp(start) - _day()).date()),
                        horizons=horizons, ratios=ratios)
    # the baseline's rate may only use outcomes known before `start`
    history = [q for q in history if q.date + _day() * q.horizon < pd_timestamp(start)]
    model = load_or_train(load_source(BTC_SOURCE), training_data, cfg, config.cache_dir())
    X = [q.features for q in qs]
    preds = {"model_float": float_probabilities(model, X)}
    if proven:
        circuit = reference_circuit(store or ArtifactStore(config.home() / "store"), config.cache_dir())
        preds["model_proven"] = proven_probabilities(circuit, X)
    report = evaluate(qs, preds, rates=base_rates(history))
    report["data"] = data
    report["horizons"], report["ratios"] = list(horizons), list(ratios)
    if proven:
        report["brier_float_minus_proven"] = (report["models"]["model_float"]["brier"]
                                              - report["models"]["model_proven"]["brier"])
    if plot_dir:
        from markets.plots import save_plots

        report["plots"] = [str(p) for p in save_plots(report, [q.date for q in qs], [q.outcome for q in qs],
                                                      preds, plot_dir)]
    return report


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
