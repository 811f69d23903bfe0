"""How small can a held-out set's ECE be? The ECE a perfectly calibrated forecaster would show on the
same question grid. Prints JSON (and writes benchmarks/results/ece_floor.json).

    .venv/bin/python -m benchmarks.ece_floor [--paths 1000]

Issue 17 asks for ECE <= 0.03 on every held-out set. Questions asked on nearby days share their outcome
path (a 30-day question asked today and tomorrow resolve on 29 common days), so a set of n questions holds
far fewer independent outcomes than n, and the ECE estimate is noisy even for a forecaster that is right.

For each held-out set of `benchmarks.forecasts` (its real trading calendar from its start to the end of
its data, h in 1, 7, 30, k in 0.9..1.1 x today's close): log prices are simulated as a log-normal walk
whose daily volatility on each day is the set's real trailing 30-day volatility that day (so the paths
are as calm and as wild as the real period), and each question is forecast by the walk's exact
probability given that day's future variance over the horizon: a forecaster calibrated by construction.
Its ECE (same 10 bins as `markets.evaluation.expected_calibration_error`) over `--paths` simulated
histories: median, 5th and 95th percentiles, and how often it is <= 0.03, per set and horizon, beside
what each model asking the same questions and the random walk measured on the real outcomes
(benchmarks/results/forecasts.json: the cross-asset and hourly sets share the btc and nasdaq100 grids).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HORIZONS = (1, 7, 30)
RATIOS = (0.9, 0.95, 1.0, 1.05, 1.1)
ECE_GOAL = 0.03
BINS = 10
VOL_DAYS = 30

# (set, source, column, start): the held-out sets of benchmarks.forecasts, by the data they ask about
SETS = (("btc", {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}, "Close", "2021-01-01"),
        ("btc_binance", {"kind": "csv", "uri": "bundled:btc_usdt_daily_binance.csv", "column": "close"}, "close",
         "2022-03-02"),
        ("nasdaq100", None, "Close", "2021-01-01"))
# the other held-out sets ask the same questions (same data, dates, horizons and thresholds) with another model
SAME_GRID = {"btc": ("btc", "nasdaq100_model_on_btc", "btc_hourly_vol"), "btc_binance": ("btc_binance",),
             "nasdaq100": ("nasdaq100", "btc_model_on_nasdaq100")}


def ece_batch(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> np.ndarray:
    """ECE of one probability vector `p` against many outcome rows `y` (paths x questions), the bins
    of `expected_calibration_error` (bin i holds p in [i/bins, (i+1)/bins), p = 1 in the last)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    n = len(p)
    out = np.zeros(y.shape[0])
    for b in range(bins):
        m = idx == b
        if not m.any():
            continue
        out += m.sum() / n * np.abs(p[m].mean() - y[:, m].mean(axis=1))
    return out


def simulate(closes: np.ndarray, start_index: int, horizons, ratios, paths: int, seed: int) -> dict:
    """Per horizon (and all pooled): the calibrated forecaster's ECE over `paths` simulated histories."""
    erf = np.vectorize(math.erf)

    def ndtr(x):
        return 0.5 * (1.0 + erf(np.asarray(x) / math.sqrt(2.0)))

    logs = np.log(closes)
    rets = np.diff(logs)
    # sigma[d]: the real trailing volatility known on day d (returns up to d), used as day d+1's true vol
    sigma = np.full(len(closes), np.nan)
    for d in range(VOL_DAYS, len(closes)):
        sigma[d] = rets[d - VOL_DAYS:d].std(ddof=1)
    day_var = np.zeros(len(closes))
    day_var[1:] = sigma[:-1] ** 2  # variance of the return from day d-1 to d
    rng = np.random.default_rng(seed)
    n_days = len(closes)
    first = max(start_index, VOL_DAYS + 1)
    sim = rng.standard_normal((paths, n_days)) * np.sqrt(np.nan_to_num(day_var)) - 0.5 * np.nan_to_num(day_var)
    sim[:, :first] = 0.0
    cum = np.cumsum(sim, axis=1)
    cum_var = np.cumsum(np.nan_to_num(day_var))
    per_h, pooled_p, pooled_y = {}, [], []
    for h in horizons:
        t = np.arange(first, n_days - h)
        v = cum_var[t + h] - cum_var[t]
        ps, ys = [], []
        for k in ratios:
            p = ndtr((-math.log(k) - 0.5 * v) / np.sqrt(v))
            y = (cum[:, t + h] - cum[:, t] > math.log(k)).astype(float)
            ps.append(p)
            ys.append(y)
        p, y = np.concatenate(ps), np.concatenate(ys, axis=1)
        per_h[str(h)] = summary(ece_batch(p, y), len(p), len(t), h)
        pooled_p.append(p)
        pooled_y.append(y)
    p, y = np.concatenate(pooled_p), np.concatenate(pooled_y, axis=1)
    per_h["all"] = summary(ece_batch(p, y), len(p), None, None)
    return per_h


def summary(e: np.ndarray, n: int, dates: int | None, h: int | None) -> dict:
    out = {"questions": n, "ece_median": round(float(np.median(e)), 4),
           "ece_p05": round(float(np.percentile(e, 5)), 4), "ece_p95": round(float(np.percentile(e, 95)), 4),
           "share_le_goal": round(float((e <= ECE_GOAL).mean()), 3)}
    if dates is not None:
        out["question_dates"] = dates
        out["non_overlapping_horizons"] = round(dates / h, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ece_floor.json"))
    args = ap.parse_args()

    import pandas as pd

    from markets.feeds import load_source
    from provers.reference import NDX_SOURCE

    t0 = time.perf_counter()
    measured = {}
    fpath = ROOT / "benchmarks" / "results" / "forecasts.json"
    if fpath.exists():
        sets = json.loads(fpath.read_text()).get("sets", {})
        measured = {name: {h: {"model": row["scores"]["model_float"]["ece"], "random_walk": row["scores"]["random_walk"]["ece"]}
                           for h, row in s["horizons"].items()} for name, s in sets.items()}
    doc = {"benchmark": "ece_floor", "goal": ECE_GOAL, "paths": args.paths, "horizons": list(HORIZONS),
           "ratios": list(RATIOS), "bins": BINS,
           "how": "log-normal paths with each day's real trailing 30-day volatility; forecasts: the walk's exact "
                  "probability given the simulated process (calibrated by construction); ECE over the set's "
                  "real question grid", "sets": {}}
    for name, source, column, start in SETS:
        frame = load_source(source or NDX_SOURCE)
        closes = frame[column].to_numpy(dtype=float)
        start_index = int(np.searchsorted(frame.index, pd.Timestamp(start)))
        rows = simulate(closes, start_index, HORIZONS, RATIOS, args.paths, args.seed)
        for h, row in rows.items():
            row["measured_on_real_outcomes"] = {other: measured[other][h] for other in SAME_GRID[name]
                                                if h in measured.get(other, {})}
        doc["sets"][name] = {"period": [str(frame.index[start_index].date()), str(frame.index[-1].date())],
                             "horizons": rows}
    cells = [(s, h, r) for s, v in doc["sets"].items() for h, r in v["horizons"].items()]
    doc["reading"] = {
        "cells_where_a_calibrated_forecaster_usually_misses_the_goal": [
            f"{s} h={h}: median {r['ece_median']}, <= {ECE_GOAL} in {r['share_le_goal']:.0%} of histories"
            for s, h, r in cells if r["share_le_goal"] < 0.5],
        "meaning": "where a forecaster that is right by construction shows ECE above the goal in most simulated "
                   "histories, a measured ECE above the goal there says little about the model: the set holds "
                   "too few independent outcomes at that horizon to measure calibration to 0.03"}
    doc["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count()}
    doc["elapsed_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(doc, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
