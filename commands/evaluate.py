"""`oracle evaluate`: a no-look-ahead backtest of the reference or the hourly-volatility model
(`provers.evaluate.evaluate_reference`)."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from oracle.errors import NotFound

from .home import store
from .render import JsonOption, emit, handles_errors, out, progress


@handles_errors
def evaluate(
    model: str = typer.Argument("reference", help="'reference' (recipe trailing_returns_v1), 'hourly' (the same "
                                "design with the volatility from hourly bars, recipe trailing_returns_hourly_vol_v1), "
                                "or either one's model id."),
    data: str = typer.Option("bundled:btc_usd_daily.csv", "--data", help="Daily OHLC CSV (Date, ..., Close)."),
    hourly_data: str = typer.Option("bundled:btc_usd_hourly_bitstamp.csv", "--hourly-data",
                                    help="With the hourly model: hourly bars CSV (a 'close' column), the market's "
                                    "forecast.hourly_source."),
    start: str = typer.Option("2021-01-01", help="First question date (held-out period)."),
    end: Optional[str] = typer.Option(None, help="Last question date."),
    horizon: list[int] = typer.Option([7], "--horizon", help="Horizon(s) in days."),
    ratio: list[float] = typer.Option([0.95, 1.0, 1.05], "--ratio", help="Threshold ratio(s) k."),
    proven: bool = typer.Option(True, help="Also score the circuit's quantized outputs."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Directory for PNG plots."),
    as_json: bool = JsonOption,
) -> None:
    """Backtest a model with no look-ahead: Brier, log loss, accuracy, calibration, vs two baselines,
    with the verdict against each (block-bootstrap 95 % interval over question dates)."""
    from provers.evaluate import evaluate_reference

    from markets.features import HourlyVolatility

    if model not in ("reference", "hourly") and not model.startswith("0x"):
        raise NotFound(f"unknown model {model!r}: 'reference' or 'hourly' can be backtested from this node")
    if model.startswith("0x"):
        from oracle.models import load_model

        record = load_model(store(), model.lower())
        if not record.name.startswith("btc-threshold-mlp"):
            raise NotFound(f"model {model} has no float weights on this node to backtest")
        model = "hourly" if record.recipe == HourlyVolatility.name else "reference"
    with progress("evaluate", quiet=as_json) as log:
        report = evaluate_reference(data, start=start, end=end, horizons=tuple(horizon), ratios=tuple(ratio),
                                    proven=proven, plot_dir=plot, log=log, model=model, hourly_data=hourly_data)
    emit(report, as_json, lambda r: _render(r, proven))


def _render(report: dict[str, Any], proven: bool) -> None:
    table = Table(title=f"Backtest of {report['model']['name']} ({report['model']['recipe']}) {report['period'][0]} .. "
                        f"{report['period'][1]} ({report['n']} questions)")
    for col in ("predictor", "Brier", "log loss", "accuracy", "ECE"):
        table.add_column(col)
    for name, r in report["models"].items():
        table.add_row(name, f"{r['brier']:.4f}", f"{r['log_loss']:.4f}", f"{r['accuracy']:.3f}", f"{r['ece']:.3f}")
    out.print(table)
    for line in report.get("verdicts", []):
        out.print(line, highlight=False)
    if "brier_float_minus_proven" in report:
        out.print(f"Brier float - proven: {report['brier_float_minus_proven']:+.2e} (goal |.| <= 1e-3)")
    cal = Table(title="Calibration (proven model)" if proven else "Calibration (float model)")
    for col in ("bin", "n", "mean predicted", "observed"):
        cal.add_column(col)
    for c in report["models"]["model_proven" if proven else "model_float"]["calibration"]:
        cal.add_row(c["bin"], str(c["n"]), f"{c['mean_predicted']:.3f}", f"{c['observed']:.3f}")
    out.print(cal)
    for p in report.get("plots", []):
        out.print(f"plot: {p}", highlight=False)
