"""Resolutions from evidence: every question of every shape the bundled data can answer, 2015-2022.

    .venv/bin/python -m benchmarks.resolutions [--limit N] [--anvil-markets 8] [--no-prove]

For each question (above/below at a day for BTC and the NASDAQ-100, BTC up/down weeks, range buckets,
touch up/down within a week, BTC vs NASDAQ-100 months) it reads the evidence from every provider the
way provers and validators do (`markets.evidence.gather`), proves it with the resolver circuit (in
batches of 64), verifies the proof, checks its inputs are the evidence and decides by the shape, as a
validator does. It compares that outcome with an independent pandas computation of "what the median
of the sources shows", and counts the questions whose providers, read alone, disagree on the outcome.
Then it replays every question with one source corrupted (off by 3 %) and one stale (frozen 12 bars, as
Coinbase was in March 2019), and with the target bar missing or partial (the source's last row), and
counts wrong resolutions. Finally, on anvil with 7 validators: time from the evidence existing (the
chain's clock passing the bar's end) to the resolution landing on-chain.

Prints JSON and writes benchmarks/results/resolutions.json.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAR_FUTURE = datetime(2030, 1, 1, tzinfo=timezone.utc)
BTC = ("btc-yahoo", "btc-bitstamp", "btc-coinbase", "btc-binance")
NDX = ("ndx-yahoo", "ndx-stooq")
PLACEHOLDER = "0x" + "11" * 32  # resolver ids are filled in per width once compiled


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _doc(question, outcomes, names, shape, close_at, resolve_at, *, tz="UTC", width=1) -> dict:
    """BTC: exchanges differ by ~0.3 %, 1 % apart is off. NASDAQ-100: two vendors of one official print
    agree to 0.00 % (SOURCE.md), so 0.1 % apart is off (a stale vendor is caught, not averaged in)."""
    from markets.demo import SOURCES

    return {"version": 2, "question": question, "outcomes": list(outcomes), "kind": "resolve",
            "observe": {"sources": [SOURCES[n] for n in names], "timezone": tz, "min_sources": 2,
                        "tolerance": 0.001 if names == NDX else 0.01,
                        **({"sessions": "exchange"} if names == NDX else {})},
            "shape": shape, "resolver": f"{width}", "close_at": _iso(close_at), "resolve_at": _iso(resolve_at),
            "quorum": 3}


def _day(d) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def questions(frames: dict, start: str = "2015-01-01", end: str = "2022-02-20") -> list[dict]:
    """Spec documents of every shape over [start, end]; values chosen from data a week before."""
    import pandas as pd

    from markets.demo import SOURCES

    y = frames["btc-yahoo"]["close"]
    ndx = frames["ndx-yahoo"]["close"]
    out = []
    for d in y.loc[start:end].index:
        prev = y.get(d - pd.Timedelta(days=7))
        if prev is None:
            continue
        value = int(round(prev, -2)) if prev >= 1000 else int(round(prev, -1))
        at = d.strftime("%Y-%m-%d")
        out.append(_doc(f"BTC above ${value:,} on {at}?", ("YES", "NO"), BTC,
                        {"kind": "above", "at": at, "value": value, "above": "YES", "below": "NO"},
                        _day(d), _day(d) + timedelta(days=1)))
        if d.day_of_week == 0:  # Monday: the week's up/down, touch up/down; range on its Sunday
            sun = d + pd.Timedelta(days=6)
            f, t = at, sun.strftime("%Y-%m-%d")
            out.append(_doc(f"BTC up or down, week of {f}?", ("Up", "Down"), BTC,
                            {"kind": "up_down", "from": f, "to": t, "up": "Up", "down": "Down"},
                            _day(d), _day(sun) + timedelta(days=1)))
            for direction, k in (("up", 1.05), ("down", 0.95)):
                level = int(round(prev * k, -1))
                out.append(_doc(f"BTC {'reaches' if direction == 'up' else 'dips to'} ${level:,} in the week of {f}?",
                                ("YES", "NO"), BTC, {"kind": "touch", "from": f, "to": t, "level": level,
                                                     "direction": direction, "yes": "YES", "no": "NO"},
                                _day(d), _day(d) + timedelta(days=1)))
            bounds = sorted({int(round(prev * k, -1)) for k in (0.95, 1.0, 1.05)})
            if len(bounds) == 3:
                out.append(_doc(f"BTC close on {t} in buckets {bounds}?",
                                ("low", "mid-low", "mid-high", "high"), BTC,
                                {"kind": "range", "at": t, "bounds": bounds}, _day(d),
                                _day(sun) + timedelta(days=1), width=3))
    ny = "America/New_York"
    for d in ndx.loc[start:end].index:
        back = ndx.loc[:d].iloc[-6:-5]
        if back.empty:
            continue
        value = int(round(float(back.iloc[0]), -1))
        at = d.strftime("%Y-%m-%d")
        close = datetime(d.year, d.month, d.day, 5, tzinfo=timezone.utc)  # NY midnight (EST; EDT is 04:00)
        out.append(_doc(f"NASDAQ-100 above {value:,} on {at}?", ("YES", "NO"), NDX,
                        {"kind": "above", "at": at, "value": value, "above": "YES", "below": "NO"},
                        close - timedelta(hours=1), close + timedelta(days=1), tz=ny))
    months = ndx.loc[start:end].groupby(ndx.loc[start:end].index.to_period("M"))
    for _, g in months:
        if len(g) < 10:
            continue
        f, t = g.index[0], g.index[-1]
        fs, ts = f.strftime("%Y-%m-%d"), t.strftime("%Y-%m-%d")
        out.append(_doc(f"BTC or NASDAQ-100, which gains more {fs}..{ts}?", ("BTC", "NDX"), BTC,
                        {"kind": "versus", "from": fs, "to": ts, "a": "BTC", "b": "NDX",
                         "other": {"sources": [SOURCES[n] for n in NDX], "timezone": ny, "sessions": "exchange"}},
                        _day(f), _day(t) + timedelta(days=2)))
    return out


# ------------------------------------------------------------- the independent reference ("what happened")
def _final(frame, bar, field):
    """The source's value of `field` at `bar` if it is final there (a later bar is published), else None."""
    if bar not in frame.index or frame.index[-1] <= bar or field not in frame.columns:
        return None
    return float(frame.at[bar, field])


def reference(spec, frames: dict) -> tuple[str | None, set[str]]:
    """(the outcome the sources show, the outcomes each source alone shows); pandas + floats, written
    apart from markets.evidence, with the spec's rules: the median of the sources, if at least
    `min_sources` are within `tolerance` of it and at least `min_sources` give its outcome alone."""
    import pandas as pd

    need, tol = spec.observe.min_sources, spec.observe.tolerance

    def med(series_sources, bar, field):
        """The median if at least `need` sources are within `tol` of it, else None."""
        vals = [v for s in series_sources if (v := _final(frames[s], bar, field)) is not None]
        if not vals:
            return None
        m = statistics.median(vals)
        return m if sum(abs(v - m) <= tol * m for v in vals) >= need else None

    shape, p = spec.shape, spec.shape.params
    names = [n for n in frames if frames[n].attrs.get("uri") in {s["uri"] for s in spec.observe.sources}]
    others = [n for n in frames if spec.other is not None and
              frames[n].attrs.get("uri") in {s["uri"] for s in spec.other.sources}]

    def judged(of_group) -> tuple[str | None, set[str]]:
        """The median's outcome held to the support rule, and each source's own."""
        m = of_group(names, 1 if len(names) == 1 else need)
        alone = [of_group([n], 1) for n in names]
        if m is not None and len(names) > 1 and sum(a == m for a in alone) < need:
            m = None
        return m, {a for a in alone if a is not None}

    if shape.kind in ("above", "range"):
        def of_group(group, k):
            nonlocal need
            saved, need = need, k
            try:
                x = med(group, p["_at"], "close")
            finally:
                need = saved
            if x is None:
                return None
            if shape.kind == "above":
                return p["above"] if x > p["value"] else p["below"]
            return spec.outcomes[bisect.bisect_right(p["bounds"], x)]
        return judged(of_group)
    if shape.kind == "up_down":
        def of_group(group, k):
            nonlocal need
            saved, need = need, k
            try:
                o, c = med(group, p["_from"], "open"), med(group, p["_to"], "close")
            finally:
                need = saved
            return None if o is None or c is None else (p["up"] if c >= o else p["down"])
        return judged(of_group)
    if shape.kind == "touch":
        up = p["direction"] == "up"

        def of_group(group, k):
            nonlocal need
            saved, need = need, k
            try:
                bar = p["_from"]
                while bar <= p["_to"]:
                    m = med(group, bar, "high" if up else "low")
                    if m is None:
                        return None  # a continuous series: a bar missing is missing evidence
                    if (m >= p["level"]) if up else (m <= p["level"]):
                        return p["yes"]
                    bar = bar + pd.Timedelta(days=1)
                return p["no"]
            finally:
                need = saved
        return judged(of_group)
    # versus: the median of each series (no per-source rule: two series)
    gains = []
    for group in (names, others):
        o, c = med(group, p["_from"], "open"), med(group, p["_to"], "close")
        if o is None or c is None:
            return None, set()
        gains.append(c / o - 1)
    if abs(gains[0] - gains[1]) < 1e-6:
        return "INVALID", set()
    return (p["a"] if gains[0] > gains[1] else p["b"]), set()


def honest_alone(spec, frames: dict, victim: str) -> set[str]:
    """The outcomes the sources other than `victim` show each on its own."""
    _, alone = reference(spec, {n: f for n, f in frames.items() if n != victim})
    return alone


# ----------------------------------------------------------------------- scenarios (hostile data)
def _corrupt(frame, kind: str, *, bar=None):
    f = frame.copy()
    cols = [c for c in ("open", "high", "low", "close") if c in f.columns]
    if kind == "off":
        f[cols] = f[cols] * 1.03
    elif kind == "stale":
        f[cols] = f[cols].shift(12).bfill()
    elif kind == "missing":
        f = f.drop(index=[bar], errors="ignore")
    elif kind == "partial":
        f = f.loc[:bar]
    return f


def run(args) -> dict:
    import ezkl

    from markets.evidence import EvidenceMissing, gather
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle import config
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.prover import EzklProver
    from provers.resolvers import compile_resolver
    from validators.checks import check_features, rule_decision
    from validators.verifier import ProofVerifier
    from markets.demo import SOURCES

    t0 = time.perf_counter()
    frames = {}
    for n in BTC + NDX:
        frames[n] = load_source(SOURCES[n])
        frames[n].attrs["uri"] = SOURCES[n]["uri"]
    by_uri = {SOURCES[n]["uri"]: n for n in frames}
    docs = questions(frames)
    if args.limit:
        docs = docs[:: max(1, len(docs) // args.limit)][: args.limit]
    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="bench-resolutions-")) / "store")
    resolvers = {w: compile_resolver(store, config.cache_dir(), w, batches=(1, 64)) for w in (1, 3)}
    specs = []
    for d in docs:
        d["resolver"] = resolvers[int(d["resolver"])].model_id
        specs.append(MarketSpec.parse(d))

    def loader(overrides: dict | None = None):
        def load(source):
            name = by_uri[source["uri"]]
            return (overrides or {}).get(name, frames[name])
        return load

    # 1. baseline: gather, prove in batches, verify, check inputs, decide; compare to the reference
    t_gather = time.perf_counter()
    jobs: dict[int, list] = {1: [], 3: []}
    missing_base = Counter()
    for i, spec in enumerate(specs):
        try:
            ev = gather(spec, loader(), FAR_FUTURE)
        except EvidenceMissing as e:
            missing_base["invalid" if e.invalid else "too early"] += 1
            continue
        jobs[spec.shape.n_constants].append((i, spec, ev))
    gather_s = time.perf_counter() - t_gather
    outcomes: dict[int, str] = {}
    prove_s = verify_s = 0.0
    proofs = 0
    signer = LocalSigner.create()
    for width, items in jobs.items():
        if not items:
            continue
        compiled = resolvers[width]
        prover = EzklProver(compiled, signer, clock=lambda: FAR_FUTURE)
        verifier = ProofVerifier(store)
        for k in range(0, len(items), 64):
            chunk = items[k:k + 64]
            from provers.prover import Job

            if args.no_prove:
                for i, spec, ev in chunk:
                    outcomes[i] = spec.shape.decide(ev.outputs).outcome_name
                continue
            t = time.perf_counter()
            bundles = prover.prove_jobs([Job(spec.market_id, 0, ev.features) for _, spec, ev in chunk])
            prove_s += time.perf_counter() - t
            proofs += 1
            t = time.perf_counter()
            for (i, spec, ev), b in zip(chunk, bundles):
                rec = compiled.record
                circuit = rec.circuit(b.batch_size)
                verifier.verify(b, circuit)  # once per batch proof (cached by proof)
                values = rec.row(list(b.instances[0]), [], b.batch_size, b.batch_row)
                check_features(ev.features, values.inputs, circuit.input_scale)
                outcomes[i] = rule_decision(spec, spec.round(0), rec, circuit, values.outputs).outcome_name
            verify_s += time.perf_counter() - t
    agree, disagree_rows, wrong, no_answer = 0, [], [], 0
    per_shape = Counter()
    for i, spec in enumerate(specs):
        expected, alone = reference(spec, frames)
        got = outcomes.get(i)
        per_shape[spec.shape.kind] += 1
        if expected is None:
            no_answer += 1  # too few sources agree (or have the bar): INVALID by the spec's rule
        if got == expected:
            agree += 1
        else:
            wrong.append({"question": spec.question, "resolved": got, "median_shows": expected})
        if len(alone) > 1:
            disagree_rows.append({"question": spec.question, "resolved": got, "sources_alone": sorted(alone)})
    answered = sum(per_shape.values())

    # 2. hostile data: one source off by 3 %, one stale, the target bar missing everywhere or partial
    hostile, bad = {}, []
    for kind in ("off", "stale", "missing", "partial"):
        t = time.perf_counter()
        counts = Counter()
        for i, spec in enumerate(specs):
            if i not in outcomes:
                continue
            names = [by_uri[s["uri"]] for s in spec.observe.sources]
            bar = spec.shape.last_bar()
            if kind in ("off", "stale"):
                victim = names[i % len(names)]
                overrides = {victim: _corrupt(frames[victim], kind)}
            else:
                overrides = {n: _corrupt(frames[n], kind, bar=bar) for n in names}
            try:
                ev = gather(spec, loader(overrides), FAR_FUTURE)
            except EvidenceMissing as e:
                counts["no vote (invalid after deadline)" if e.invalid else "no vote (too early)"] += 1
                continue
            got = spec.shape.decide(ev.outputs).outcome_name
            if kind in ("missing", "partial") and spec.shape.kind != "touch":
                counts["resolved anyway (WRONG: the target bar is gone)"] += 1
            elif got == outcomes[i]:
                counts["same outcome"] += 1
                if ev.deviants:
                    counts["corrupted source reported off the median"] += 1
            elif kind in ("off", "stale") and len(honest_alone(spec, frames, victim)) > 1:
                counts["different outcome, honest sources alone disagree (ambiguous)"] += 1
            else:
                counts["different outcome (WRONG)"] += 1
                bad.append({"scenario": kind, "question": spec.question, "victim": victim,
                            "resolved": got, "before": outcomes[i]})
        hostile[kind] = {"counts": dict(counts), "seconds": round(time.perf_counter() - t, 1)}
    hostile["wrong"] = bad[:50]

    latency = anvil_latency(args, store, resolvers[1]) if args.anvil_markets else None
    platforms = platform_mapping()
    return {
        "benchmark": "resolutions",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "questions": len(specs),
        "answered": answered,
        "per_shape": dict(per_shape),
        "not_answered_baseline": dict(missing_base),
        "outcome_equals_median_of_sources": {"agree": agree, "of": answered, "of_which_no_answer": no_answer,
                                             "share": round(agree / answered, 6) if answered else None,
                                             "mismatches": wrong[:50]},
        "providers_disagree": {"count": len(disagree_rows), "examples": disagree_rows[:40]},
        "hostile": hostile,
        "proving": {"proved": not args.no_prove, "proofs": proofs, "batch": 64, "prove_s": round(prove_s, 1),
                    "verify_and_decide_s": round(verify_s, 1), "gather_s": round(gather_s, 1)},
        "evidence_to_chain_anvil": latency,
        "platform_questions": platforms,
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "ezkl": ezkl.__version__,
    }


def anvil_latency(args, store, resolver) -> dict:
    """anvil, 7 validators, t = 5: markets registered before their day; the chain's clock is moved to
    the bar's end (the evidence exists), then prove, review, settle; wall time until the receipt."""
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from network.local import LocalNetwork
    from oracle.anvil import start_anvil
    from oracle.chain import Chain
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    node = start_anvil(log_dir=Path(tempfile.mkdtemp()), timestamp=int(start.timestamp()))
    try:
        net = LocalNetwork(store, n=7, t=5, chain=Chain.rpc(node.url), load_data=load_source)
        clock = lambda: datetime.fromtimestamp(net.chain.timestamp(), timezone.utc)  # noqa: E731
        prover = EzklProver(resolver, LocalSigner.create(), clock=clock)
        times = []
        for k in range(args.anvil_markets):
            day = start + timedelta(days=10 + 3 * k)
            at = day.strftime("%Y-%m-%d")
            doc = _doc(f"BTC above $30,000 on {at}?", ("YES", "NO"), BTC,
                       {"kind": "above", "at": at, "value": 30000, "above": "YES", "below": "NO"},
                       day, day + timedelta(days=1))
            spec = MarketSpec.parse({**doc, "resolver": resolver.model_id, "quorum": 5})
            net.register(spec)
            net.advance_to(int((day + timedelta(days=1)).timestamp()))  # the bar is over: evidence exists
            t = time.perf_counter()
            report = net.run_round(spec, load_source, prover)
            assert report.submission is not None and report.submission.settlement.on_chain
            times.append(time.perf_counter() - t)
        return {"markets": len(times), "validators": 7, "threshold": 5, "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2), "goal_median_s": 10.0}
    finally:
        node.stop()


def platform_mapping() -> dict:
    """The importers on the fixtured sample of real platform questions (tests/data, origins in its
    SOURCE.md): mapped vs skipped, per reason. Served through httpx's transport, as the node reads them."""
    import re

    import httpx

    from markets.questions import default_assets
    from markets.sources import ManifoldSource, PolymarketSource

    data = ROOT / "tests" / "data"
    docs = {"/gamma/events": json.loads((data / "polymarket_events.json").read_text()),
            "/manifold/v0/markets": json.loads((data / "manifold_markets.json").read_text())}

    def handler(request: httpx.Request) -> httpx.Response:
        body = docs.get(request.url.path)
        if body is None:
            return httpx.Response(404, json={"error": "not found"})
        offset = int(request.url.params.get("offset", 0) or 0)
        return httpx.Response(200, json=body if offset == 0 or not isinstance(body, list) else [])

    client = httpx.Client(transport=httpx.MockTransport(handler))
    out = {}
    for name, cls, now in (("polymarket", PolymarketSource, datetime(2025, 2, 27, tzinfo=timezone.utc)),
                           ("manifold", ManifoldSource, datetime(2024, 12, 20, tzinfo=timezone.utc))):
        base = "http://platform/gamma" if name == "polymarket" else "http://platform/manifold"
        result = cls(base, resolver_of=lambda w: "0x" + f"{w:02x}" * 32, quorum=3, assets=default_assets(),
                     now=now, client=client).pull()
        reasons = Counter(re.sub(r"\$?\d[\d,.:TZ-]*", "#", x.reason)[:90] for x in result.skipped)
        shapes = Counter(d.spec.shape.kind for d in result.found)
        total = len(result.found) + len(result.skipped)
        out[name] = {"questions": total, "mapped": len(result.found), "skipped": len(result.skipped),
                     "mapped_share": round(len(result.found) / total, 3) if total else None,
                     "mapped_by_shape": dict(shapes), "skipped_by_reason": dict(reasons)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="at most N questions, spread over the period")
    ap.add_argument("--anvil-markets", type=int, default=8)
    ap.add_argument("--no-prove", action="store_true", help="decide from the evidence without proving")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "resolutions.json"))
    args = ap.parse_args()
    result = run(args)
    if not args.limit:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
