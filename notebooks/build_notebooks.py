# Regenerates the notebooks (unexecuted): .venv/bin/python notebooks/build_notebooks.py (from the repo root)
import nbformat as nbf
from nbformat.v4 import new_notebook, new_markdown_cell as md, new_code_cell as code

def save(name, cells):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbf.write(nb, f"notebooks/{name}")

save("01_quickstart.ipynb", [
md("""# Quickstart: one AI-resolved market, end to end

Register a market on the embedded chain, prove the reference model's answer with ezkl,
have four validators check and sign it, settle on `QuorumOracle`, and read the result
back from the chain. Everything here is real: the proof, the signatures, the contracts."""),
code("""import os, sys
sys.path.insert(0, os.path.abspath(".."))  # run from a clone without installing
from oracle import config
from oracle.store import ArtifactStore
from markets.demo import BTC_SOURCE, DemoQuestion, demo_spec, actual_outcome
from markets.feeds import load_source
from provers.reference import reference_circuit

store = ArtifactStore(config.home() / "store")
circuit = reference_circuit(store, config.cache_dir())   # trained + compiled once, then cached
frame = load_source(BTC_SOURCE)                          # real BTC-USD daily closes
print("model", circuit.model_id, "logrows", circuit.record.circuit(1).logrows, "SRS:", circuit.record.srs_kind)"""),
md("## A market: will BTC close a week after 2021-01-12 above 95% of that day's close?"),
code("""spec = demo_spec(DemoQuestion("2021-01-12", 0.95), frame, circuit.model_id, quorum=3)
print(spec.question)
print("market id", spec.market_id)"""),
md("## The chain: contracts deployed, four validators with their own keys, t = 3"),
code("""from network.local import LocalNetwork
from oracle.signer import LocalSigner
from provers.prover import EzklProver

net = LocalNetwork(store, n=4, t=3, load_data=load_source)   # embedded chain, contracts, keys, aggregator
dep = net.dep
market_id = net.register(spec)
print("QuorumOracle", dep.addresses["QuorumOracle"], "validators", net.members)"""),
md("## Prove, validate, settle"),
code("""prover = EzklProver(circuit, LocalSigner.create())
report = net.run_round(spec, frame, prover)
print(f"proved in {report.prove_s:.1f} s; {report.signed} of {len(net.validators)} validators signed")
print("checks:", report.reviews[0].checks)
print("tx", report.submission.tx_hash)"""),
md("## Read the result from the chain"),
code("""onchain = dep.resolution_of(market_id).resolution
print("outcome:", spec.outcomes[onchain.outcome], "probability:", onchain.probability_ppm / 1e6)
print("what actually happened:", actual_outcome(spec, frame))
assert onchain.outcome == report.submission.resolution.outcome"""),
])

save("02_forecast_quality.ipynb", [
md("""# Forecast quality: is the intelligence any good?

A backtest of the reference model on its held-out period (2021-01 .. 2022-02) with no
look-ahead, against two baselines (the historical base rate, and a log-normal random
walk with trailing volatility), plus the same scores for the **proven** (quantized)
outputs: what validators actually see."""),
code("""import os, sys
sys.path.insert(0, os.path.abspath(".."))
%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
from provers.evaluate import evaluate_reference

report = evaluate_reference("bundled:btc_usd_daily.csv", start="2021-06-01", end="2021-12-31",
                            horizons=(7,), ratios=(0.95, 1.0, 1.05), proven=True)
pd.DataFrame({k: {m: v[m] for m in ("brier", "log_loss", "accuracy", "n")} for k, v in report["models"].items()}).T"""),
code("""print(f"Brier float - proven = {report['brier_float_minus_proven']:+.2e}  (goal: |diff| <= 1e-3)")
assert abs(report["brier_float_minus_proven"]) <= 1e-3"""),
md("## Calibration curve"),
code("""fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], "k--", lw=1)
for name, r in report["models"].items():
    cal = r["calibration"]
    ax.plot([c["mean_predicted"] for c in cal], [c["observed"] for c in cal], "o-", label=name)
ax.set(xlabel="predicted", ylabel="observed", title="Calibration"); ax.legend(); plt.show()"""),
md("## Brier over time, and float vs proven outputs"),
code("""from markets.evaluation import questions
from markets.feeds import load_source
from markets.demo import BTC_SOURCE
import tempfile
from markets.plots import save_plots

frame = load_source(BTC_SOURCE)
with tempfile.TemporaryDirectory() as d:
    rep = evaluate_reference("bundled:btc_usd_daily.csv", start="2021-06-01", end="2021-12-31",
                             proven=True, plot_dir=d)
    print([os.path.basename(p) for p in rep["plots"]])
    assert len(rep["plots"]) == 3"""),
])

save("03_cost_of_verification.ipynb", [
md("""# The cost of verification

The product's promise is an asymmetry: proving is expensive and done once, by whoever has
the hardware; verifying is cheap and done by everyone. These numbers come from
`benchmarks/proving.py` (its JSON is committed in `benchmarks/results/proving.json`; re-run
the benchmark to refresh it on your machine)."""),
code("""import json, os
%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

path = os.path.join("..", "benchmarks", "results", "proving.json")
bench = json.load(open(path))
df = pd.DataFrame(bench["rows"])
df[["family", "batch", "logrows", "prove_s", "verify_ms_median", "torch_infer_ms_median",
    "prove_s_per_market", "verify_ms_per_market", "pk_bytes", "proof_bytes"]]"""),
md("## Prove vs verify vs plain inference, per market (log scale)"),
code("""fig, ax = plt.subplots(figsize=(8, 4))
labels = [f"{r.family}\\nbatch {r.batch}" for r in df.itertuples()]
x = range(len(df))
ax.bar([i - 0.27 for i in x], df.prove_s_per_market * 1000, width=0.27, label="prove (ms / market)")
ax.bar(x, df.verify_ms_per_market, width=0.27, label="verify (ms / market)")
ax.bar([i + 0.27 for i in x], df.torch_infer_ms_median / df.batch, width=0.27, label="torch inference (ms / market)")
ax.set_yscale("log"); ax.set_xticks(list(x)); ax.set_xticklabels(labels, fontsize=8)
ax.set_ylabel("milliseconds"); ax.legend(fontsize=8); ax.set_title("Cost per market")
plt.show()"""),
md("## How batching changes the per-market cost"),
code("""fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for fam, g in df.groupby("family"):
    axes[0].plot(g.batch, g.prove_s_per_market, "o-", label=fam)
    axes[1].plot(g.batch, g.verify_ms_per_market, "o-", label=fam)
axes[0].set(xscale="log", xlabel="batch", ylabel="prove s / market")
axes[1].set(xscale="log", yscale="log", xlabel="batch", ylabel="verify ms / market")
axes[0].legend(); plt.tight_layout(); plt.show()
print("goals:", json.dumps(bench["goals"], indent=1))
print("validator process peak RSS (no torch):", round(bench["validator"]["validator_rss_mb"]), "MB")"""),
])
