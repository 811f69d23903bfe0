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
