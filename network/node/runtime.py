"""A node at run time: every role of one operator in one process.

Builds the roles from the node's configuration (keys from encrypted keystores), registers and
imports markets, and runs rounds through the one `RoundDriver` with the work done in-process:
prove (several due rounds of one model in one proof), every validator reviews, the aggregator
settles through the `Settler`.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from oracle import config
from oracle.errors import DataError, NotFound, OracleError, SpecError
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
        self._specs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.driver = RoundDriver(self.state, self.dep, self.spec_of, _InProcessWork(self),
                                  on_done=self._done, log=self._log_event)

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
    def register(self, spec, *, origin: str = "local") -> str:
        """Store the spec, register it on-chain, record it locally: all or nothing."""
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
        from markets.sources import LocalFolderSource, ManifoldSource, PolymarketSource, follow_registry

        counts = {"new": 0, "skipped": 0}
        src = self.cfg.sources
        quorum = self.cfg.quorum or self.cfg.threshold
        if src.get("registry", True):
            new, skipped = follow_registry(self.state, self.dep, self.store)
            counts["new"] += len(new)
            counts["skipped"] += len(skipped)
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
        with self._lock:  # one proof at a time per node
            return self.driver.drive(market_id, round, companions=batch)

    def _log_event(self, event: str, **fields: Any) -> None:
        if event == "round_settled":
            self.on_log(f"{fields['market_id'][:10]} round {fields['round']}: settled {fields.get('tx') or ''}"
                        f" ({fields.get('detail')})")
        elif event == "round_waiting":
            self.on_log(f"{fields['market_id'][:10]} round {fields['round']}: retry in {fields['retry_in_s']} s: "
                        f"{fields['reason']}")

    def _done(self, c: Claimed, done: Done) -> None:
        if done.status == "settled" and c.final:
            self._score(c.spec)

    def _score(self, spec) -> None:
        """Score the market's posted probabilities against what happened (once the data shows it)."""
        from markets.scoring import accuracy, brier, log_loss

        truth = spec.features.truth(self.load_data(spec.source))
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


class _InProcessWork:
    """The node's work for the round driver: one proof for the claimed rounds, reviewed by every
    validator in this process, settled by the aggregator through the Settler."""

    def __init__(self, node: Node):
        self.node = node

    def companions(self, first: Claimed) -> Iterable[tuple[str, int]]:
        room = max(self.node.prover.circuit.record.batches) - 1
        now = int(time.time())
        found = []
        for other in self.node.state.rounds():
            if len(found) >= room:
                break
            if other.status not in ("pending", "retry") or other.due_at > now or \
                    (other.market_id, other.round) == first.key:
                continue
            if self.node.spec_of(other.market_id).model == first.spec.model:
                found.append((other.market_id, other.round))
        return found

    def run(self, rounds: list[Claimed]) -> dict[tuple[str, int], Done]:
        from oracle.bundle import publish_bundle
        from oracle.pipeline import run_round
        from oracle.settlement import Settler
        from validators.aggregator import Aggregator

        node = self.node
        frames: dict[str, Any] = {}  # one load of each source for this run

        def frame_of(spec):
            key = json.dumps(spec.source, sort_keys=True)
            if key not in frames:
                frames[key] = node.load_data(spec.source)
            return frames[key]

        results: dict[tuple[str, int], Done] = {}
        ready = []
        for c in rounds:
            try:
                c.spec.round(c.round).features.compute(frame_of(c.spec))
            except DataError as e:
                results[c.key] = Done("retry" if e.retry else "failed", str(e))
                continue
            ready.append(c)
        if not ready:
            return results
        bundles = node.prover.prove_batch([(c.spec, c.round) for c in ready], frame_of)
        validators = node.validators()
        members, threshold = [v.address for v in validators], node.dep.threshold()
        settler = Settler(node.dep, node.submitter)
        for c, bundle in zip(ready, bundles):
            publish_bundle(node.store, bundle)  # anyone can re-verify from the proof hash on-chain
            agg = Aggregator(node.dep.domain, members, threshold, settler)
            try:
                report = run_round(c.spec, None, node.prover, validators, agg, round=c.round, bundle=bundle)
            except OracleError as e:
                results[c.key] = Done("retry", str(e))
                continue
            sub = report.submission
            if sub is None or not sub.settlement.on_chain:
                reasons = "; ".join(f"{x.check}: {x.reason}" for x in report.refusals)
                results[c.key] = Done("retry", f"no quorum: {reasons}")
                continue
            res = sub.resolution
            results[c.key] = Done("settled", f"batch of {bundle.meta.get('markets_in_proof', 1)}", res.outcome,
                                  res.probability_ppm, sub.tx_hash)
        return results


__all__ = ["Node"]
