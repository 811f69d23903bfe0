"""Backtest plots (matplotlib, no display needed): calibration, Brier over time, float vs proven."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def save_plots(report: dict, dates: Sequence[pd.Timestamp], outcomes: Sequence[int],
               predictions: dict[str, Sequence[float]], directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, r in report["models"].items():
        cal = r["calibration"]
        ax.plot([c["mean_predicted"] for c in cal], [c["observed"] for c in cal], "o-", label=name)
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration")
    ax.legend(fontsize=8)
    paths.append(out / "calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, p in predictions.items():
        se = pd.Series([(a - y) ** 2 for a, y in zip(p, outcomes)], index=pd.DatetimeIndex(dates))
        se.groupby(se.index.to_period("M")).mean().plot(ax=ax, label=name)
    ax.set(ylabel="Brier (monthly mean)", title="Brier score over time")
    ax.legend(fontsize=8)
    paths.append(out / "brier_over_time.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    if "model_float" in predictions and "model_proven" in predictions:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(predictions["model_float"], predictions["model_proven"], s=4)
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(xlabel="float model", ylabel="proven (quantized) output", title="Float vs proven")
        paths.append(out / "float_vs_proven.png")
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return paths


def reliability_grid(cells: dict[str, dict[str, dict]], path: str | Path, *, columns: int = 3) -> Path:
    """Reliability diagrams, one panel per cell (e.g. "btc h=7"): for each predictor, its calibration
    table's mean predicted vs observed frequency, and its ECE with interval in the legend.
    `cells[name][predictor]` = {"calibration": calibration_table rows, "ece": {"ece", "low", "high"}}."""
    names = list(cells)
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        for predictor, r in cells[name].items():
            cal, e = r["calibration"], r["ece"]
            ax.plot([c["mean_predicted"] for c in cal], [c["observed"] for c in cal], "o-", ms=3, lw=1,
                    label=f"{predictor} ECE {e['ece']:.3f} [{e['low']:.3f}, {e['high']:.3f}]")
        ax.set_title(name, fontsize=9)
        ax.set(xlim=(0, 1), ylim=(0, 1))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.supxlabel("predicted probability", fontsize=9)
    fig.supylabel("observed frequency", fontsize=9)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
