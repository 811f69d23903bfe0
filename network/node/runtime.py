"""A node at run time: every role of one operator in one process.

Builds the roles from the node's configuration (keys from encrypted keystores), registers and
imports markets, and runs rounds through the one `RoundDriver` with the work done in-process:
prove (several due rounds of one model in one proof), every validator reviews, the aggregator
settles through the `Settler`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from markets.evidence import EvidenceMissing
from oracle import config
from oracle.errors import ChainError, DataError, NotFound, OracleError, SpecError
from oracle.rounds import Claimed, Done, RoundDriver

from .config import NodeConfig
from .config import password as password_from_env


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
        pw = password if password is not None else password_from_env()
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
        self._prove_worker = None
        self._provers: dict[str, Any] = {}
        self._resolvers: dict[int, Any] = {}
        self._specs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.ctf = self._ctf_linker()
        self.driver = RoundDriver(self.state, self.dep, self.spec_of, _InProcessWork(self),
                                  on_done=self._done, log=self._log_event)

    def _ctf_linker(self):
        """Conditional Tokens links, when this node's deployment has a CTFAdapter."""
        adapter = self.dep.addresses.get("CTFAdapter")
        if not adapter:
            return None
        from .ctf import CtfLinker

        return CtfLinker(self.dep, self.creator, self._log_event, adapter=adapter,
                         ctf=self.dep.addresses.get("ConditionalTokens"))

    def _ctf(self, what: str, fn, *args) -> None:
        """A CTF step; a chain error is logged and the step retried on the next pass (both are idempotent)."""
        if self.ctf is None:
            return
        try:
            fn(*args)
        except ChainError as e:
            self._log_event("ctf_error", step=what, reason=str(e))

    def sweep_ctf(self) -> None:
        """Link every tracked market with a ctf_question_id, report every final one (a restart, a
        market settled by someone else, or one whose dispute window has since passed, is caught up
        here)."""
        if self.ctf is None:
            return
        for market in self.state.markets():
            spec = self.spec_of(market["market_id"])
            if not spec.ctf_question_id:
                continue
            self._ctf("link", self.ctf.link, spec)
            if self.dep.court.is_final(spec.market_id):  # the adapter pays out on final only
                self._ctf("report", self.ctf.report, spec.market_id)

    # ------------------------------------------------------------- roles
    def clock(self):
        """The oracle's time: the chain's latest block."""
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self.chain.timestamp(), timezone.utc)

    @property
    def prove_worker(self):
        """One long-lived prove process for all of this node's models (started at the first proof)."""
        if self._prove_worker is None:
            from provers.prover import ProveWorker

            self._prove_worker = ProveWorker()
        return self._prove_worker

    def _make_prover(self, circuit):
        from provers.prover import EzklProver

        prover = EzklProver(circuit, self.prover_key, store=self.store, clock=self.clock, worker=self.prove_worker)
        self._provers[circuit.model_id] = prover
        return prover

    @property
    def prover(self):
        """The forecaster's prover (the reference model)."""
        if self._prover is None:
            from provers.reference import reference_circuit

            circuit = reference_circuit(self.store, config.cache_dir(), batches=tuple(self.cfg.batches),
                                        log=self.on_log)
            self._prover = self._make_prover(circuit)
        return self._prover

    @property
    def model_id(self) -> str:
        return self.prover.circuit.model_id

    def resolver_id(self, width: int = 1) -> str:
        """The node's resolver over `width` comparisons (compiled on first use, then cached)."""
        return self.resolver(width).circuit.model_id

    def resolver(self, width: int = 1):
        if width not in self._resolvers:
            from provers.resolvers import compile_resolver

            circuit = compile_resolver(self.store, config.cache_dir(), width, batches=tuple(self.cfg.batches),
                                       log=self.on_log)
            self._resolvers[width] = self._make_prover(circuit)
        return self._resolvers[width]

    def prover_for(self, model_id: str):
        """The prover of a model this node compiled: its forecaster or one of its resolvers."""
        from oracle.models import load_model

        if model_id not in self._provers:
            try:
                record = load_model(self.store, model_id)
            except NotFound:  # e.g. a market another operator registered with its own resolver
                raise SpecError("model", f"{model_id} is not a model this node knows (known: "
                                f"{sorted(self._provers)})") from None
            if record.family == "resolver":
                self.resolver(record.n_outputs)
            else:  # the forecaster: trained and compiled only when a round needs it
                self.prover
        if model_id not in self._provers:
            raise SpecError("model", f"{model_id} is not a model this node proves with "
                            f"(known: {sorted(self._provers)})")
        return self._provers[model_id]

    def validators(self):
        from validators.validator import Validator

        return [Validator(k, self.store, self.dep.domain, self.load_data, registry=self.dep, clock=self.clock)
                for k in self.validator_keys]

    def spec_of(self, market_id: str):
        """The market's spec, parsed once per process (the state keeps its canonical JSON)."""
        if market_id not in self._specs:
            from markets.spec import MarketSpec

            doc = self.state.spec_json(market_id)
            if doc is None:
                raise NotFound(f"market {market_id} is not tracked by this node")
            self._specs[market_id] = MarketSpec.parse(doc)
        return self._specs[market_id]

    # ------------------------------------------------------------ markets
    def register(self, spec, *, origin: str = "local", fee: int | None = None) -> str:
        """Store the spec, register it on-chain, record it locally: all or nothing. `fee` (wei,
        default the court's minimum) is escrowed for the signers and the prover of its final resolution."""
        from markets.registration import check_spec

        self.resolver(spec.shape.n_constants)  # this node's resolver for the shape, compiled before the check
        if spec.forecast is not None:
            self.prover  # the forecaster, compiled (and published) only for a market that has forecasts
        # the one check `oracle market validate` makes: trading open by the chain's clock, known models
        spec = check_spec(spec, now=self.clock(), store=self.store)
        for model_id in {r.model for r in spec.rounds()}:
            self.prover_for(model_id)
        existed = self.store.has(spec.spec_hash)
        stored = self.store.put(spec.canonical())
        assert stored == spec.spec_hash
        if not self.dep.is_registered(spec.market_id):
            try:
                self.dep.register_market(self.creator, **spec.onchain(), fee=fee)
            except OracleError:
                if not existed:
                    self.store.delete(spec.spec_hash)
                raise
        self.track(spec, origin)
        if spec.ctf_question_id and self.ctf is not None:
            self._ctf("link", self.ctf.link, spec)
        return spec.market_id

    def track(self, spec, origin: str) -> bool:
        return self.state.add_market(spec, origin, [(r.index, r.due_at) for r in spec.rounds()])

    def pull(self) -> dict[str, int]:
        """Read every configured source once; register imported markets; track new ones."""
        from markets.sources import LocalFolderSource, ManifoldSource, PolymarketSource, follow_registry

        counts: dict[str, Any] = {"new": 0, "skipped": 0, "errors": []}
        src = self.cfg.sources
        quorum = self.cfg.quorum or self.cfg.threshold
        if src.get("registry", True):
            new, skipped = follow_registry(self.state, self.dep, self.store)
            counts["new"] += len(new)
            counts["skipped"] += len(skipped)
        importers = []
        if src.get("local_dir"):
            importers.append(LocalFolderSource(src["local_dir"]))
        if src.get("polymarket") or src.get("manifold"):
            from markets.questions import default_assets

            platform = {"resolver_of": self.resolver_id, "quorum": quorum, "assets": default_assets(),
                        "now": self.clock}
            if src.get("polymarket"):
                importers.append(PolymarketSource(src["polymarket"], **platform))
            if src.get("manifold"):
                importers.append(ManifoldSource(src["manifold"], **platform))
        for importer in importers:
            try:
                result = importer.pull()
            except DataError as e:  # down, or the wrong shape: an error the operator sees, never "0 skipped"
                reason = f"source unavailable: {e}"
                self.state.skip(importer.origin, "*", reason)
                counts["errors"].append(f"{importer.origin}: {reason}")
                self.on_log(f"{importer.origin}: {reason}")
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
        self.sweep_ctf()
        return counts

    # ----------------------------------------------------------- dispatch
    def dispatch(self, market_id: str, round: int, *, batch: bool = True) -> str:
        """Run one round (and, with `batch`, every other due round of the same model in the same proof):
        prove, validate, aggregate, settle. Returns this round's new status."""
        with self._lock:  # one proof at a time per node
            return self.driver.drive(market_id, round, companions=batch)

    def _log_event(self, event: str, **fields: Any) -> None:
        if event == "round_settled":
            o, p = fields.get("outcome"), fields.get("probability_ppm")
            names = self.spec_of(fields["market_id"]).outcomes
            said = ("" if o is None else (names[o] if o < len(names) else "INVALID") + " ") + \
                ("" if p is None else f"{p / 1e6:.3f} ")
            self.on_log(f"{fields['market_id'][:10]} round {fields['round']}: settled {said}{fields.get('tx') or ''}"
                        f" ({fields.get('detail')})")
        elif event in ("ctf_linked", "ctf_reported", "ctf_error", "sources_off_median"):
            self.on_log(f"{event}: " + ", ".join(f"{k}={v}" for k, v in fields.items()))
        elif event == "round_waiting":
            self.on_log(f"{fields['market_id'][:10]} round {fields['round']}: retry in {fields['retry_in_s']} s: "
                        f"{fields['reason']}")

    def _done(self, c: Claimed, done: Done) -> None:
        if done.status == "settled" and c.final:
            self._score(c.spec)
            if c.spec.ctf_question_id and self.ctf is not None:
                self._ctf("report", self.ctf.report, c.spec.market_id)

    def _score(self, spec) -> None:
        """Score the market's posted forecasts against its resolution (what the evidence showed)."""
        from markets.scoring import accuracy, brier, log_loss
        from oracle.eip712 import INVALID_OUTCOME

        rounds = spec.rounds()[:-1]
        if not rounds:
            return
        outcome = self.dep.resolution_of(spec.market_id).resolution.outcome
        if outcome == INVALID_OUTCOME:
            return
        probs = [self.dep.forecast_of(spec.market_id, x.index) for x in rounds]
        if any(p is None for p in probs):
            return
        ps = [p / 1e6 for p in probs]
        ys = [int(outcome == 0)] * len(ps)  # a forecast is the probability of the first outcome
        detail = [{"round": x.index, "as_of": str(x.features.as_of.date()), "probability": p}
                  for x, p in zip(rounds, ps)]
        self.state.set_score(spec.market_id, n=len(ps), brier=brier(ps, ys), log_loss=log_loss(ps, ys),
                             accuracy=accuracy(ps, ys), model_id=spec.forecaster, detail=detail)


class _InProcessWork:
    """The node's work for the round driver: one proof for the claimed rounds, reviewed by every
    validator in this process, settled by the aggregator through the Settler."""

    def __init__(self, node: Node):
        self.node = node

    def companions(self, first: Claimed) -> Iterable[tuple[str, int]]:
        model = first.spec.round(first.round).model
        room = max(self.node.prover_for(model).circuit.record.batches) - 1
        now = self.node.chain.timestamp()
        found = []
        for other in self.node.state.rounds():
            if len(found) >= room:
                break
            if other.status not in ("pending", "retry") or other.due_at > now or \
                    (other.market_id, other.round) == first.key:
                continue
            if self.node.spec_of(other.market_id).round(other.round).model == model:
                found.append((other.market_id, other.round))
        return found

    def run(self, rounds: list[Claimed]) -> dict[tuple[str, int], Done]:
        from oracle.bundle import publish_bundle
        from oracle.pipeline import run_round
        from oracle.settlement import Settler
        from validators.aggregator import Aggregator

        node = self.node
        frames: dict[str, Any] = {}  # one load of each source for this run

        def load(source):
            key = json.dumps(source, sort_keys=True)
            if key not in frames:
                frames[key] = node.load_data(source)
            return frames[key]

        results: dict[tuple[str, int], Done] = {}
        prover = node.prover_for(rounds[0].spec.round(rounds[0].round).model)
        ready, jobs = [], []
        for c in rounds:
            try:
                jobs.append(prover.job(c.spec, load, c.round))
            except EvidenceMissing as e:
                results[c.key] = self._absent(c) if e.invalid and c.final else Done("retry", str(e))
                continue
            except DataError as e:
                results[c.key] = Done("retry" if e.retry else "failed", str(e))
                continue
            ready.append(c)
        if not ready:
            return results
        biggest = max(prover.circuit.record.batches)
        bundles = [b for i in range(0, len(jobs), biggest) for b in prover.prove_jobs(jobs[i:i + biggest])]
        validators = node.validators()
        members, threshold = [v.address for v in validators], node.dep.threshold()
        settler = Settler(node.dep, node.submitter)
        for c, bundle in zip(ready, bundles):
            publish_bundle(node.store, bundle)  # anyone can re-verify from the proof hash on-chain
            agg = Aggregator(node.dep.domain, members, threshold, settler)
            try:
                report = run_round(c.spec, None, prover, validators, agg, round=c.round, bundle=bundle)
            except OracleError as e:
                results[c.key] = Done("retry", str(e))
                continue
            off = [d for v in validators for d in v.deviations if d["market"] == c.spec.market_id]
            if off:  # a source off the median: outvoted, not counted, and the operator should know
                node._log_event("sources_off_median", market_id=c.spec.market_id, round=c.round,
                                sources=sorted({x["source"] for d in off for x in d["sources"]}))
            sub = report.submission
            if sub is None or not sub.settlement.on_chain:
                reasons = "; ".join(f"{x.check}: {x.reason}" for x in report.refusals)
                results[c.key] = Done("retry", f"no quorum: {reasons}")
                continue
            res = sub.resolution
            results[c.key] = Done("settled", f"batch of {bundle.meta.get('markets_in_proof', 1)}", res.outcome,
                                  res.probability_ppm, sub.tx_hash)
        return results

    def _absent(self, c: Claimed) -> Done:
        """The deadline passed without the evidence: every validator checks that for itself and signs
        INVALID (no proof can show an absence); the quorum settles it."""
        from oracle.eip712 import INVALID_OUTCOME
        from oracle.settlement import Settler
        from validators.absence import review_absence
        from validators.aggregator import Aggregator

        node = self.node
        validators = node.validators()
        agg = Aggregator(node.dep.domain, [v.address for v in validators], node.dep.threshold(),
                         Settler(node.dep, node.submitter))
        submission, refusals = None, []
        for v in validators:
            review = review_absence(v, c.spec)
            if review.vote is None:
                refusals.append(f"{review.refusal.check}: {review.refusal.reason}")
                continue
            submission = agg.add(review.vote, required=c.spec.quorum) or submission
        if submission is None or not submission.settlement.on_chain:
            return Done("retry", "no quorum for INVALID by absence: " + "; ".join(refusals))
        return Done("settled", "INVALID: no evidence by the deadline", INVALID_OUTCOME, 0, submission.tx_hash)


__all__ = ["Node"]
