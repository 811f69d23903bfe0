"""Composition root for a node: wires markets, provers and validators onto the core.

`cli.py` parses and renders; this module builds the roles from a node's
configuration (`$ORACLE_HOME/node.json`, keys from encrypted keystores) and
holds the scheduler's job functions (`node:pull_job`, `node:dispatch_job`),
which APScheduler's persistent store refers to by name.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from oracle import config
from oracle.errors import DataError, FieldError, NotFound, OracleError

log = logging.getLogger("oracle.node")
RETRY_DELAY_S = 30


@dataclass
class NodeConfig:
    rpc_url: str
    validators: list[str]  # keystore names
    threshold: int
    prover: str = "prover"
    submitter: str = "submitter"
    creator: str = "creator"
    quorum: int = 0  # default quorum for imported markets (0: the oracle's t)
    pull_interval_s: float = 5.0
    batches: list[int] = field(default_factory=lambda: [1])  # compiled batch sizes; due rounds share proofs
    sources: dict[str, Any] = field(default_factory=dict)  # local_dir, polymarket, manifold, registry
    version: int = 1

    @staticmethod
    def path(home: Path | None = None) -> Path:
        return (home or config.home()) / "node.json"

    def save(self, home: Path | None = None) -> Path:
        p = self.path(home)
        p.write_text(json.dumps(asdict(self), indent=2))
        return p

    @classmethod
    def load(cls, home: Path | None = None) -> "NodeConfig":
        p = cls.path(home)
        if not p.exists():
            raise NotFound(f"no node configuration at {p}: run `oracle node init`")
        d = json.loads(p.read_text())
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise FieldError(sorted(unknown)[0], "unknown field", where=str(p))
        return cls(**d)


def _password() -> str:
    from oracle.keystore import PASSWORD_ENV, password_from_env

    pw = password_from_env()
    if pw is None:
        raise FieldError("password", f"set {PASSWORD_ENV} (or use the interactive CLI prompt)")
    return pw


class Node:
    """Every role of one operator in one process: pull sources, prove, validate, aggregate, settle."""

    def __init__(self, home: Path | None = None, *, password: str | None = None,
                 on_log: Callable[[str], None] = lambda m: None):
        from markets.feeds import load_source
        from oracle.chain import Chain
        from oracle.deployment import Deployment
        from oracle.keystore import KeyStore
        from oracle.state import LocalState
        from oracle.store import ArtifactStore

        self.home = home or config.home()
        self.cfg = NodeConfig.load(self.home)
        self.on_log = on_log
        pw = password if password is not None else _password()
        keys = KeyStore(self.home / "keys")
        self.chain = Chain.rpc(self.cfg.rpc_url)
        self.dep = Deployment.load(self.chain, self.home / "deployments")
        self.store = ArtifactStore(self.home / "store")
        self.state = LocalState(self.home / "state.sqlite")
        self.creator = keys.load(self.cfg.creator, pw)
        self.submitter = keys.load(self.cfg.submitter, pw)
        self.prover_key = keys.load(self.cfg.prover, pw)
        self.validator_keys = [keys.load(n, pw) for n in self.cfg.validators]
        self.load_data = lambda source: load_source(source, chain=self.chain)
        self._prover = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------- roles
    @property
    def prover(self):
        if self._prover is None:
            from provers.prover import EzklProver
            from provers.reference import reference_circuit

            circuit = reference_circuit(self.store, config.cache_dir(), batches=tuple(self.cfg.batches),
                                        log=self.on_log)
            self._prover = EzklProver(circuit, self.prover_key, store=self.store)
        return self._prover

    @property
    def model_id(self) -> str:
        return self.prover.circuit.model_id

    def validators(self):
        from validators.validator import Validator

        return [Validator(k, self.store, self.dep.domain, self.load_data, registry=self.dep)
                for k in self.validator_keys]

    # ------------------------------------------------------------ markets
    def register(self, spec, *, origin: str = "local") -> str:
        """Store the spec, register it on-chain, record it locally: all or nothing."""
        from oracle.errors import SpecError
        from oracle.models import load_model

        self.prover  # publishes the node's model records into the store
        if not self._has_model(spec.model):
            raise SpecError("model", f"{spec.model} is not a model this node knows (known: {self.model_id})")
        spec.check_model(load_model(self.store, spec.model))
        existed = self.store.has(spec.spec_hash)
        stored = self.store.put(spec.canonical())
        assert stored == spec.spec_hash
        if not self.dep.is_registered(spec.market_id):
            try:
                self.dep.register_market(
                    self.creator, spec_hash=spec.spec_hash, model_id=spec.model, resolve_at=spec.resolve_at_unix,
                    outcome_count=len(spec.outcomes), quorum=spec.quorum,
                )
            except OracleError:
                if not existed:
                    self.store.delete(spec.spec_hash)
                raise
        self.track(spec, origin)
        return spec.market_id

    def _has_model(self, model_id: str) -> bool:
        try:
            self.store.ref("model", model_id)
            return True
        except NotFound:
            return False

    def track(self, spec, origin: str) -> bool:
        return self.state.add_market(spec, origin, [(r.index, r.due_at) for r in spec.rounds()])

    def pull(self) -> dict[str, int]:
        """Read every configured source once; register imported markets; track new ones."""
        from markets.sources import LocalFolderSource, ManifoldSource, PolymarketSource, RegistrySource

        counts = {"new": 0, "skipped": 0}
        src = self.cfg.sources
        quorum = self.cfg.quorum or self.cfg.threshold
        if src.get("registry", True):
            cursor = int(self.state.cursor("registry", str(self.dep.from_block)))
            result, nxt = RegistrySource(self.dep, self.store).pull(cursor)
            for d in result.found:
                counts["new"] += self.track(d.spec, "chain")
            for s in result.skipped:
                self.state.skip(s.origin, s.external_id, s.reason)
                counts["skipped"] += 1
            self.state.set_cursor("registry", str(nxt))
        importers = []
        if src.get("local_dir"):
            importers.append(LocalFolderSource(src["local_dir"]))
        if src.get("polymarket"):
            importers.append(PolymarketSource(src["polymarket"], model_id=self.model_id, quorum=quorum))
        if src.get("manifold"):
            importers.append(ManifoldSource(src["manifold"], model_id=self.model_id, quorum=quorum))
        for importer in importers:
            try:
                result = importer.pull()
            except DataError as e:
                self.state.skip(importer.origin, "*", f"source unavailable: {e}")
                continue
            for d in result.found:
                if self.state.market(d.spec.market_id) is None:
                    try:
                        self.register(d.spec, origin=d.origin)
                        counts["new"] += 1
                    except OracleError as e:
                        self.state.skip(d.origin, d.external_id, f"registration failed: {e}")
                        counts["skipped"] += 1
            for s in result.skipped:
                self.state.skip(s.origin, s.external_id, s.reason)
                counts["skipped"] += 1
        return counts

    # ----------------------------------------------------------- dispatch
    def dispatch(self, market_id: str, round: int, *, batch: bool = True) -> str:
        """Run one round (and, with `batch`, every other due round of the same model in the same proof):
        prove, validate, aggregate, settle. Returns this round's new status."""
        from markets.spec import MarketSpec

        with self._lock:  # one proof at a time per node
            row = self.state.claim(market_id, round)
            if row is None:
                return "skipped"
            spec = MarketSpec.parse(self.state.spec_json(market_id))
            claimed = [(spec, round)]
            if batch:
                room = max(self.prover.circuit.record.batches) - 1
                now = int(time.time())
                for other in self.state.rounds():
                    if room <= 0:
                        break
                    if other.status not in ("pending", "retry") or other.due_at > now or \
                            (other.market_id, other.round) == (market_id, round):
                        continue
                    other_spec = MarketSpec.parse(self.state.spec_json(other.market_id))
                    if other_spec.model == spec.model and self.state.claim(other.market_id, other.round):
                        claimed.append((other_spec, other.round))
                        room -= 1
            statuses = self._run_claimed(claimed)
            return statuses[(market_id, round)]

    def _run_claimed(self, claimed: list) -> dict[tuple[str, int], str]:
        from oracle.pipeline import run_round
        from validators.aggregator import Aggregator
        from validators.audit import publish_bundle

        statuses: dict[tuple[str, int], str] = {}
        ready = []
        for spec, index in claimed:
            key = (spec.market_id, index)
            r = spec.round(index)
            # a crash after the transaction: the chain knows
            done = self.dep.round_result(spec.market_id, index, final=r.final)
            if done is not None:
                self.state.finish(*key, status="settled", probability_ppm=done["probability_ppm"],
                                  detail="moot: market resolved first" if done.get("moot") else "found on-chain")
                self._score_if_final(spec, r)
                statuses[key] = "settled"
                continue
            try:
                r.features.compute(self.load_data(spec.source))
            except DataError as e:
                statuses[key] = "retry" if e.retry else "failed"
                self.state.finish(*key, status=statuses[key], detail=str(e))
                self.on_log(f"{spec.market_id[:10]} round {index}: {statuses[key]}: {e}")
                continue
            ready.append((spec, index))
        if not ready:
            return statuses
        try:
            bundles = self.prover.prove_batch(ready, lambda s: self.load_data(s.source))
        except OracleError as e:
            for spec, index in ready:
                self.state.finish(spec.market_id, index, status="retry", detail=str(e))
                statuses[(spec.market_id, index)] = "retry"
            return statuses
        validators = self.validators()
        threshold = self.dep.threshold()
        for (spec, index), bundle in zip(ready, bundles):
            key, r = (spec.market_id, index), spec.round(index)

            def settle(resolution, signatures, r=r) -> str:
                fn = self.dep.resolve if r.final else self.dep.post_forecast
                return "0x" + bytes(fn(self.submitter, resolution, signatures)["transactionHash"]).hex()

            agg = Aggregator(self.dep.domain, [v.address for v in validators], threshold, settle)
            publish_bundle(self.store, bundle)  # anyone can re-verify from the proof hash on-chain
            try:
                report = run_round(spec, None, self.prover, validators, agg, round=index, bundle=bundle)
            except OracleError as e:
                self.state.finish(*key, status="retry", detail=str(e))
                statuses[key] = "retry"
                continue
            if report.submission is None:
                reasons = "; ".join(f"{x.check}: {x.reason}" for x in report.refusals)
                self.state.finish(*key, status="retry", detail=f"no quorum: {reasons}")
                statuses[key] = "retry"
                continue
            res = report.submission.resolution
            self.state.finish(*key, status="settled", outcome=res.outcome, probability_ppm=res.probability_ppm,
                              tx_hash=report.submission.tx_hash,
                              detail=f"batch of {bundle.meta.get('markets_in_proof', 1)}")
            self._score_if_final(spec, r)
            self.on_log(f"{spec.market_id[:10]} round {index}: settled {report.submission.tx_hash}")
            statuses[key] = "settled"
        return statuses

    def _score_if_final(self, spec, r) -> None:
        """Score the market's posted probabilities against what happened (once the data shows it)."""
        if not r.final:
            return
        from markets.scoring import accuracy, brier, log_loss

        frame = self.load_data(spec.source)
        truth = spec.features.truth(frame)
        if truth is None:
            return
        rounds = spec.rounds()
        probs = [self.dep.forecast_of(spec.market_id, x.index) for x in rounds[:-1]]
        probs.append(self.dep.resolution_of(spec.market_id).resolution.probability_ppm)
        if any(p is None for p in probs):
            return
        ps = [p / 1e6 for p in probs]
        ys = [int(truth)] * len(ps)
        detail = [{"round": x.index, "as_of": str(x.features.as_of.date()), "probability": p}
                  for x, p in zip(rounds, ps)]
        self.state.set_score(spec.market_id, n=len(ps), brier=brier(ps, ys), log_loss=log_loss(ps, ys),
                             accuracy=accuracy(ps, ys), model_id=spec.model, detail=detail)


# ------------------------------------------------------------------ scheduler jobs
_node: Node | None = None
_scheduler = None


def current() -> Node:
    global _node
    if _node is None:
        _node = Node(on_log=lambda m: log.info(m))
    return _node


def pull_job() -> None:
    from oracle.scheduler import schedule_round

    node = current()
    node.pull()
    if _scheduler is not None:
        for r in node.state.rounds():
            if r.status == "pending" and _scheduler.get_job(f"round:{r.market_id}:{r.round}") is None:
                schedule_round(_scheduler, r.market_id, r.round, r.due_at)


def dispatch_job(market_id: str, round: int) -> None:
    from oracle.scheduler import schedule_round

    status = current().dispatch(market_id, round)
    if status == "retry" and _scheduler is not None:
        schedule_round(_scheduler, market_id, round, int(time.time()) + RETRY_DELAY_S)


def run_scheduler(*, until_idle: bool = False, poll_s: float = 0.5) -> None:
    """Run the scheduler in this process. `until_idle`: return once every known round is settled or failed."""
    global _scheduler
    from oracle.scheduler import ensure_round_jobs, make_scheduler, schedule_pull

    node = current()
    url = os.environ.get("ORACLE_JOBS_URL", f"sqlite:///{node.home / 'jobs.sqlite'}")
    _scheduler = make_scheduler(url, blocking=False)
    _scheduler.start(paused=True)
    ensure_round_jobs(_scheduler, node.state.rounds())
    schedule_pull(_scheduler, node.cfg.pull_interval_s)
    _scheduler.resume()
    log.info("scheduler running")
    try:
        while True:
            time.sleep(poll_s)
            if until_idle:
                rounds = node.state.rounds()
                if rounds and all(r.status in ("settled", "failed") for r in rounds):
                    return
    finally:
        _scheduler.shutdown(wait=False)
        _scheduler = None


# ------------------------------------------------------------------ evaluation
def evaluate_reference(data: str, *, start: str, end: str | None = None, horizons=(7,),
                       ratios=(0.95, 1.0, 1.05), proven: bool = True, plot_dir: str | None = None,
                       store=None) -> dict[str, Any]:
    """Backtest the reference model on any daily OHLC CSV: float and proven outputs vs two baselines."""
    from markets.evaluation import assert_no_lookahead, base_rates, evaluate, questions
    from markets.features import RECIPES
    from markets.feeds import bundled_path, load_source
    from oracle.store import ArtifactStore
    from provers.evaluate import float_probabilities, proven_probabilities
    from provers.model import TrainingConfig, load_or_train
    from provers.reference import BTC_SOURCE, reference_circuit

    from markets.feeds import resolve_uri

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

    try:
        return pd.Timestamp(s)
    except (ValueError, TypeError):
        raise FieldError("start", f"not a date: {s!r}") from None


def _day():
    import pandas as pd

    return pd.Timedelta(days=1)
