# Regenerates the notebooks (unexecuted): .venv/bin/python notebooks/build_notebooks.py (from the repo root)
import nbformat as nbf
from nbformat.v4 import new_notebook, new_markdown_cell as md, new_code_cell as code

def save(name, cells):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbf.write(nb, f"notebooks/{name}")

save("01_quickstart.ipynb", [
md("""# Quickstart: one market, resolved from what happened

"Will BTC close above $4,000 on March 23, 2019?" is registered on a replay chain that starts on
2019-03-10, before the event. While trading is open the reference model posts a proven forecast; once
the day is over, the outcome comes from the **evidence**: four providers' closes, their median, a
provider more than 1 % off the median reported and not counted. A resolver circuit proves the
comparison, four validators recompute the evidence from every source and sign, `QuorumOracle`
settles. Everything here is real: the data, the proofs, the signatures, the contracts."""),
code("""import os, sys
sys.path.insert(0, os.path.abspath(".."))  # run from a clone without installing
from datetime import datetime, timezone
from oracle import config
from oracle.store import ArtifactStore
from markets.demo import DEMO_MARKETS, REPLAY_START, demo_spec
from markets.feeds import load_source
from provers.reference import reference_circuit
from provers.resolvers import compile_resolver

store = ArtifactStore(config.home() / "store")
resolver = compile_resolver(store, config.cache_dir(), 1)    # x - c over integer ticks, compiled once
forecaster = reference_circuit(store, config.cache_dir())     # trained + compiled once, then cached
market = DEMO_MARKETS[0]
spec = demo_spec(market, lambda width: resolver.model_id, forecaster.model_id, quorum=3)
print(spec.question)
print("sources:", [s["uri"] for s in spec.observe.sources])
print("trading closes", spec.close_at, "- resolvable from", spec.resolve_at)"""),
md("## The chain starts before the event: register, bet"),
code("""from network.local import LocalNetwork

net = LocalNetwork(store, n=4, t=3, load_data=load_source, start=int(REPLAY_START.timestamp()))
market_id = net.register(spec)
net.dep.deposit(net.alice, market_id, 0, 10**18)      # YES
net.dep.deposit(net.bob, market_id, 1, 2 * 10**18)    # NO
chain_now = lambda: datetime.fromtimestamp(net.chain.timestamp(), timezone.utc)
print("registered at", chain_now(), "market", market_id)"""),
md("## While trading is open: a proven forecast (it never settles the market)"),
code("""from oracle.signer import LocalSigner
from provers.prover import EzklProver

signer = LocalSigner.create()
forecast_prover = EzklProver(forecaster, signer, clock=chain_now)
first = spec.round(0)
net.advance_to(first.due_at)
report = net.run_round(spec, load_source, forecast_prover, round=first.index)
print(f"forecast as of {first.features.as_of.date()}: P(YES) = {net.dep.forecast_of(market_id, 0) / 1e6:.3f}",
      f"({report.signed} validators signed)")
assert not net.dep.is_resolved(market_id)"""),
md("## After the day: the evidence from four providers"),
code("""from markets.evidence import gather

final = spec.round(spec.final_round)
net.advance_to(final.due_at)
evidence = gather(spec, load_source, chain_now())
(obs,) = evidence.observations
for source, value in obs.readings.items():
    print(f"{source:45} {value}{'   <- off the median, not counted' if source in obs.deviants else ''}")
print("median", obs.median, "-> resolver inputs (ticks)", evidence.inputs)"""),
md("## Prove the comparison, validate, settle"),
code("""resolver_prover = EzklProver(resolver, signer, clock=chain_now)
report = net.run_round(spec, load_source, resolver_prover, round=final.index)
print(f"proved in {report.prove_s:.1f} s; {report.signed} of {len(net.validators)} validators signed")
print("checks:", report.reviews[0].checks)
print("tx", report.submission.tx_hash)"""),
md("## Read the result from the chain"),
code("""onchain = net.dep.resolution_of(market_id).resolution
print("outcome:", spec.outcomes[onchain.outcome])
print("what the evidence says:", spec.shape.decide(evidence.outputs).outcome_name)
yahoo_alone = max(v for v in obs.readings.values())
print(f"Yahoo alone ({yahoo_alone}) would have said YES; the median says NO")
assert spec.outcomes[onchain.outcome] == "NO" == spec.shape.decide(evidence.outputs).outcome_name
payout, _ = net.dep.redeem(net.bob, market_id)
print("the NO bettor redeems", payout / 1e18, "ETH")"""),
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
