"""Are the forecasts worth having? Out-of-sample scores of the reference forecaster and its baselines.
Prints JSON (and writes benchmarks/results/forecasts.json).

    .venv/bin/python -m benchmarks.forecasts [--quick] [--proofs 4] [--proven-every 3]

Held-out sets (every question asked from the set's start, whose outcome row is in the data):
  btc                     the reference (trained on BTC, Yahoo, outcomes before 2021) on BTC 2021-01..2022-02
  btc_binance             the reference on Binance BTC/USDT from 2022-03-02: a provider and a period never seen
  nasdaq100               the same design trained on the NASDAQ-100 (Stooq, outcomes 2005..2020), on 2021-01..2025-03
  btc_model_on_nasdaq100  cross-asset: the BTC reference on the index, 2021-01..2025-03
  nasdaq100_model_on_btc  cross-asset: the index model on BTC 2021-01..2022-02
  btc_hourly_vol          the same design on recipe trailing_returns_hourly_vol_v1 (volatility from Bitstamp's
                          hourly bars; recipe kept by the evidence gate on 2019-20 validation), on BTC
                          2021-01..2022-02; its "random_walk" baseline is the daily-closes walk as everywhere

Per set and horizon (1, 7, 30 days; thresholds k in 0.9, 0.95, 1, 1.05, 1.1 x today's close) and pooled:
Brier, log loss, accuracy, ECE (10 bins) of the model's float outputs, its proven outputs (the quantized
output of the compiled circuit: ezkl's witness, what a proof carries, read as validators read it), the
base rate (YES frequency per (h, k) from the set's own data with outcomes before its start) and the
log-normal random walk; and model - baseline differences on Brier and log loss with a 95 % block
bootstrap interval (blocks of 30 question dates: questions asked on nearby days share their outcome
path). Proven outputs (one ezkl witness per question, ~0.1-0.3 s each on 2 cores) are computed for
every n-th question date (3rd on btc, 6th elsewhere; the float model's scores on that same subset
are given beside them). A few held-out questions are proven and verified for real.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HORIZONS = (1, 7, 30)
RATIOS = (0.9, 0.95, 1.0, 1.05, 1.1)
ECE_GOAL = 0.03
FLOAT_VS_PROVEN_GOAL = 1e-3


def _round(x, n=5):
    if isinstance(x, float):
        return round(x, n)
    if isinstance(x, dict):
        return {k: _round(v, n) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v, n) for v in x]
    return x


def summarize(report: dict) -> dict:
    """Scores without the calibration tables' noise; the comparisons with their intervals and verdicts."""
    models = {name: {k: r[k] for k in ("brier", "log_loss", "accuracy", "ece", "n")}
              for name, r in report["models"].items()}
    comp = {}
    for base, per in report["comparisons"].get("model_float", {}).items():
        comp[base] = {m: {k: d[k] for k in ("difference", "low", "high", "verdict")} for m, d in per.items()}
    best = {m: min(("base_rate", "random_walk"), key=lambda b: report["models"][b][m]) for m in ("brier", "log_loss")}
    no_worse = {m: report["models"]["model_float"][m] <= report["models"][best[m]][m] for m in best}
    # "not shown worse": the interval of model - best baseline reaches 0 or below
    not_shown_worse = {m: comp[best[m]][m]["low"] <= 0 for m in best}
    return {"n": report["n"], "period": report["period"], "scores": models, "model_minus_baseline": comp,
            "best_baseline": best, "model_no_worse_than_best_baseline": no_worse,
            "model_not_shown_worse_than_best_baseline": not_shown_worse,
            "ece_goal_met": report["models"]["model_float"]["ece"] <= ECE_GOAL}


def run_set(name, frame, start, model, circuit, *, proven_every: int, horizons, ratios, reliability: dict,
            recipe: str = "trailing_returns_v1", hourly=None):
    from markets.evaluation import bootstrap_ece, evaluate, random_walk_probability
    from provers.evaluate import backtest, proven_probabilities

    out = {"start": start, "horizons": {}}
    for h in (*horizons, "all"):
        hs = horizons if h == "all" else (h,)
        report, qs, preds, rates = backtest(frame, model, None, start=start, horizons=hs, ratios=ratios,
                                            recipe=recipe, hourly=hourly)
        row = summarize(report)
        ys, dates = [q.outcome for q in qs], [q.date for q in qs]
        series = {"model_float": preds["model_float"], "random_walk": [random_walk_probability(q) for q in qs],
                  "base_rate": [rates.get((q.horizon, q.ratio), 0.5) for q in qs]}
        # ECE with a 95 % block-bootstrap interval (the same 30-day blocks as the differences)
        row["ece_interval"] = {k: {m: e[m] for m in ("ece", "low", "high")}
                               for k, e in ((k, bootstrap_ece(p, ys, dates)) for k, p in series.items())}
        if h != "all":
            reliability[f"{name} h={h}"] = {
                k: {"calibration": report["models"][k]["calibration"], "ece": row["ece_interval"][k]}
                for k in ("model_float", "random_walk")}
        if circuit is not None and h != "all":
            dates = sorted({q.date for q in qs})[::proven_every]
            keep = set(dates)
            idx = [i for i, q in enumerate(qs) if q.date in keep]
            sub = [qs[i] for i in idx]
            t = time.perf_counter()
            proven = proven_probabilities(circuit, [q.features for q in sub])
            witness_s = time.perf_counter() - t
            sub_report = evaluate(sub, {"model_float": [preds["model_float"][i] for i in idx],
                                        "model_proven": proven}, rates=rates)
            row["proven_subset"] = {
                "every_nth_date": proven_every, "n": len(sub),
                "scores": {k: {m: sub_report["models"][k][m] for m in ("brier", "log_loss", "accuracy", "ece")}
                           for k in ("model_float", "model_proven")},
                "brier_float_minus_proven": sub_report["models"]["model_float"]["brier"]
                - sub_report["models"]["model_proven"]["brier"],
                "max_abs_probability_difference": max(abs(a - b) for a, b in zip(
                    [preds["model_float"][i] for i in idx], proven)),
                "witness_s_per_question": witness_s / max(len(sub), 1),
            }
        out["horizons"][str(h)] = row
        print(json.dumps({"set": name, "horizon": h, "n": row["n"],
                          "brier": {k: round(v["brier"], 4) for k, v in row["scores"].items()},
                          "ece_model": round(row["scores"]["model_float"]["ece"], 4)}), file=sys.stderr)
    return out


def real_proofs(circuit, store, qs_features: list[list[float]]) -> dict:
    """Prove and verify a few held-out questions with the real circuit; the proven probability must
    equal the witness read (what validators sign)."""
    from oracle.models import output_probability
    from oracle.signer import LocalSigner
    from provers.evaluate import proven_probabilities
    from provers.prover import EzklProver
    from validators.verifier import ProofVerifier

    prover = EzklProver(circuit, LocalSigner.create(), store=store)
    verifier = ProofVerifier(store, remember=0)
    rec = circuit.record
    rows = []
    for f in qs_features:
        t = time.perf_counter()
        bundle = prover.prove_features("0x" + "ab" * 32, f)
        prove_s = time.perf_counter() - t
        verifier.verify(bundle, rec.circuit(1))
        import ezkl

        q = int(ezkl.felt_to_int(bundle.instances[0][-1]))
        p = float(output_probability(q, rec.circuit(1).output_scale, rec.output_transform))
        rows.append({"proven_probability": p, "witness_probability": proven_probabilities(circuit, [f])[0],
                     "verified": True, "prove_s": round(prove_s, 3)})
    return {"proofs": len(rows), "all_verified": all(r["verified"] for r in rows),
            "proof_equals_witness": all(abs(r["proven_probability"] - r["witness_probability"]) < 1e-12
                                        for r in rows), "rows": rows}


def hourly_volatility_check(btc, *, start: str = "2019-01-01", before: str = "2021-01-01") -> dict:
    """A candidate feature, judged on validation years only (questions asked from `start` with outcomes
    before `before`; the test period is not read): the walk's volatility from Bitstamp's hourly candles
    (realised, trailing 30 UTC days ending on the question's day) instead of 30 daily closes. Log loss
    of the walk with it minus the walk as shipped, per horizon and pooled, with the usual intervals."""
    import math

    import numpy as np
    import pandas as pd

    from markets.evaluation import assert_trained_before, bootstrap_difference, questions, random_walk_probability
    from markets.feeds import bundled_path

    hourly = pd.read_csv(bundled_path("btc_usd_hourly_bitstamp.csv"), parse_dates=["Date"]).set_index("Date")
    r = np.log(hourly["close"].sort_index()).diff().dropna()
    realised = np.sqrt((r ** 2).groupby(r.index.normalize()).sum().rolling(30).mean())
    qs = [q for q in questions(btc, start=start, end=str((pd.Timestamp(before) - pd.Timedelta(days=1)).date()),
                               horizons=HORIZONS, ratios=RATIOS) if q.known_at < pd.Timestamp(before)]
    assert_trained_before([q.known_at for q in qs], before, what="validation outcome")

    def walk(q, vol):
        s = vol * math.sqrt(q.horizon)
        return 0.5 * (1 + math.erf((-math.log(q.ratio) - 0.5 * s * s) / s / math.sqrt(2)))

    qs = [q for q in qs if q.date in realised.index and realised[q.date] > 0]
    p = [walk(q, float(realised[q.date])) for q in qs]
    base = [random_walk_probability(q) for q in qs]
    out = {"validation": [start, before], "n": len(qs), "source": "bundled:btc_usd_hourly_bitstamp.csv",
           "minus_daily_walk_log_loss": {}}
    for h in (*HORIZONS, "all"):
        m = [i for i, q in enumerate(qs) if h == "all" or q.horizon == h]
        d = bootstrap_difference([p[i] for i in m], [base[i] for i in m], [qs[i].outcome for i in m],
                                 [qs[i].date for i in m], metric="log_loss")
        out["minus_daily_walk_log_loss"][str(h)] = {k: d[k] for k in ("difference", "low", "high")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the btc set only, h = 7, no index circuit")
    ap.add_argument("--proofs", type=int, default=4, help="held-out questions proven and verified for real")
    ap.add_argument("--proven-every", type=int, default=3,
                    help="witness every n-th question date (2n on the sets other than btc)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "forecasts.json"))
    args = ap.parse_args()

    import numpy as np

    from markets.feeds import load_source
    from oracle import config
    from oracle.store import ArtifactStore
    from provers.model import fit_report
    from provers.reference import (BTC_SOURCE, HOURLY_SOURCE, NDX_FROM, NDX_SOURCE, config_for, hourly_circuit,
                                   hourly_config, hourly_fit, hourly_model, index_circuit, index_model,
                                   reference_circuit, trained)
    from markets.feeds import bundled_path

    cache = config.cache_dir()
    store = ArtifactStore(Path(os.environ.get("ORACLE_HOME", ROOT / ".oracle-bench")) / "store")
    t0 = time.perf_counter()
    btc = load_source(BTC_SOURCE)
    binance = load_source({"kind": "csv", "uri": "bundled:btc_usdt_daily_binance.csv", "column": "close"})
    ndx = load_source(NDX_SOURCE)
    ref, ref_circuit = trained("mlp", cache), reference_circuit(store, cache)
    cfg = config_for("mlp")
    horizons = (7,) if args.quick else HORIZONS
    ndx_model = None if args.quick else index_model(cache)
    ndx_circuit = None if args.quick else index_circuit(store, cache)
    hourly_frame = load_source(HOURLY_SOURCE)
    hv_model, hv_circuit = hourly_model(cache), hourly_circuit(store, cache)
    sets = [("btc", btc, "2021-01-01", ref, ref_circuit, "Close")]
    if not args.quick:
        sets += [("btc_binance", binance, "2022-03-02", ref, ref_circuit, "close"),
                 ("nasdaq100", ndx, "2021-01-01", ndx_model, ndx_circuit, "Close"),
                 ("btc_model_on_nasdaq100", ndx, "2021-01-01", ref, ref_circuit, "Close"),
                 ("nasdaq100_model_on_btc", btc, "2021-01-01", ndx_model, ndx_circuit, "Close")]
    results, reliability = {}, {}
    for name, frame, start, model, circuit, column in sets:
        frame = frame.rename(columns={column: "Close"}) if column != "Close" else frame
        every = args.proven_every if name == "btc" else 2 * args.proven_every
        results[name] = run_set(name, frame, start, model, circuit, proven_every=every,
                                horizons=horizons, ratios=RATIOS, reliability=reliability)
    # the hourly-volatility recipe on the BTC held-out period, every horizon even with --quick
    results["btc_hourly_vol"] = run_set("btc_hourly_vol", btc, "2021-01-01", hv_model, hv_circuit,
                                        proven_every=args.proven_every, horizons=HORIZONS, ratios=RATIOS,
                                        reliability=reliability, recipe=hourly_config().recipe, hourly=hourly_frame)
    plot = None
    if not args.quick:
        from markets.plots import reliability_grid

        plot = str(reliability_grid(reliability, Path(args.out).with_name("forecasts_reliability.png"))
                   .relative_to(ROOT))
    hourly = hourly_volatility_check(btc) if not args.quick else None
    # a few real proofs of held-out BTC questions (2021), verified as a validator does
    from markets.evaluation import questions

    qs = questions(btc, start="2021-01-01", horizons=(7,), ratios=RATIOS)
    pick = np.linspace(0, len(qs) - 1, num=args.proofs).astype(int)
    proofs = real_proofs(ref_circuit, store, [list(qs[i].features) for i in pick]) if args.proofs else {}

    goals = {}
    for name, r in results.items():
        for h, row in r["horizons"].items():
            goals[f"{name}/h={h}"] = {
                "ece_interval_reaches_0.03": row["ece_interval"]["model_float"]["low"] <= ECE_GOAL,
                "no_worse_brier": row["model_no_worse_than_best_baseline"]["brier"],
                "no_worse_log_loss": row["model_no_worse_than_best_baseline"]["log_loss"],
                "not_shown_worse_brier": row["model_not_shown_worse_than_best_baseline"]["brier"],
                "not_shown_worse_log_loss": row["model_not_shown_worse_than_best_baseline"]["log_loss"],
                "ece_le_0.03": row["ece_goal_met"],
                **({"float_vs_proven_le_1e-3": abs(row["proven_subset"]["brier_float_minus_proven"])
                    <= FLOAT_VS_PROVEN_GOAL} if "proven_subset" in row else {}),
            }
    doc = {
        "benchmark": "forecasts",
        "model": {"reference": ref_circuit.model_id, "index_model": ndx_circuit.model_id if ndx_circuit else None,
                  "design": "random-walk logit (an odd quintic in its z-score; with a volatility spread fitted "
                            "on the train block among 0 and 0.13) + residual MLP correction "
                            "(zero-initialised, penalised, its size chosen on validation) + monotone "
                            "calibration map, all in the circuit; "
                            "a correction or map is kept only if better than the walk on validation pooled "
                            "and at no horizon shown worse, else the model is the walk itself",
                  "splits": {"train_outcomes_before": cfg.validation_start,
                             "calibration_fit": [cfg.validation_start, cfg.calibration_end],
                             "selection": [cfg.calibration_end, cfg.test_start], "test_from": cfg.test_start,
                             "index_model_data_from": NDX_FROM},
                  "reference_fit": fit_report(cfg, bundled_path("btc_usd_daily.csv").read_bytes(), cache),
                  "hourly_vol_model": hv_circuit.model_id, "hourly_vol_source": HOURLY_SOURCE,
                  "hourly_vol_fit": {k: hourly_fit(cache).get(k) for k in ("recipe_gate", "chosen")},
                  "index_fit": fit_report(cfg, bundled_path("nasdaq100_daily_stooq.csv").read_bytes()
                                          + NDX_FROM.encode(), cache) if not args.quick else None},
        "ratios": list(RATIOS), "horizons": list(horizons),
        "interval": "95 % block bootstrap over question dates (30-day blocks, 2000 resamples)",
        "sets": results, "reliability_plot": plot, "candidate_feature_hourly_volatility": hourly, "real_proofs": proofs, "goals": goals,
        "all_goals_met": all(all(g.values()) for g in goals.values()),
        "goals_met": {k: sum(g[k] for g in goals.values() if k in g) for k in
                      ("no_worse_brier", "no_worse_log_loss", "not_shown_worse_brier", "not_shown_worse_log_loss",
                       "ece_le_0.03", "ece_interval_reaches_0.03", "float_vs_proven_le_1e-3")} | {"of": len(goals)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    doc = _round(doc)
    text = json.dumps(doc, indent=2)
    print(text)
    if not args.quick:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
