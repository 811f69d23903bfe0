"""`oracle prover serve`: proves rounds on request of a trusted scheduler, serves the bundles.

POST /v1/prove {market_id, round, spec_hash, artifacts: [urls]} (signed envelope) -> proves the
round with the round's model (the market's resolver over the evidence of every source the spec
observes, for the final round; its forecaster over the forecast source, for a forecast round), as of
the chain's clock; stores the signed bundle content-addressed and answers {"bundle": <artifact id>,
"proof_hash"}. One proof at a time; a request for a round already proven answers the stored bundle
(a retried request costs no second proof). Evidence that does not exist yet (the chain's clock has
not reached it) answers 425, a round that can never be proven 422: the scheduler retries or gives up.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timezone

from oracle import config
from oracle.errors import DataError, SpecError

from ..home import NonceStore, RoleHome
from ..transport import Refused, fetch_artifact, field, in_thread, make_app, open_envelope, own_audiences
from .hooks import load_hooks


class ModelShelf:
    """This prover's compiled models, one prover each: the reference forecaster, and resolvers over
    1..k comparisons (compiled the first time a market's shape needs one, cached on disk after)."""

    def __init__(self, home: RoleHome, log):
        from provers.prover import EzklProver, ProveWorker
        from provers.reference import reference_circuit

        self.home = home
        self.log = log
        # one long-lived prove process for every model on the shelf (the role proves one round at a
        # time): ezkl is imported once and each key stays in the page cache between rounds
        self.worker = ProveWorker()
        self._make = lambda circuit: EzklProver(circuit, home.key, store=home.store, clock=self.clock,
                                                worker=self.worker)
        self._lock = threading.Lock()
        self.forecaster = self._make(reference_circuit(home.store, config.cache_dir(), batches=(1,),
                                                       log=self._compile_log))
        self.resolvers: dict[int, object] = {}
        self.resolver(1)  # binary markets' resolver: ready (and its record served) before any request

    def _compile_log(self, msg: str) -> None:
        self.log("compile", msg=msg)

    def clock(self) -> datetime:
        """The oracle's time: the chain's latest block (evidence exists once its bar ended by it)."""
        return datetime.fromtimestamp(self.home.chain.timestamp(), timezone.utc)

    def resolver(self, width: int):
        with self._lock:
            if width not in self.resolvers:
                from provers.resolvers import compile_resolver

                self.resolvers[width] = self._make(compile_resolver(self.home.store, config.cache_dir(), width,
                                                                    log=self._compile_log))
            return self.resolvers[width]

    def for_round(self, spec, index: int):
        """The prover of the round's model; SpecError when this prover has no such model."""
        r = spec.round(index)
        prover = self.resolver(spec.shape.n_constants) if r.final else self.forecaster
        if prover.circuit.model_id != r.model:
            what = "resolver" if r.final else "forecast.model"
            raise SpecError(what, f"round {index} is answered by {r.model}; this prover's "
                            f"{'resolver over ' + str(spec.shape.n_constants) + ' comparison(s)' if r.final else 'forecaster'}"
                            f" is {prover.circuit.model_id}")
        return prover

    def health(self) -> dict:
        return {"model": self.forecaster.circuit.model_id, "forecaster": self.forecaster.circuit.model_id,
                "resolvers": {str(w): p.circuit.model_id for w, p in sorted(self.resolvers.items())}}


def build_app(home: RoleHome):
    from markets.evidence import EvidenceMissing
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.bundle import publish_bundle

    log = home.log
    hooks = load_hooks(home)
    shelf = ModelShelf(home, log)
    trusted = home.peers("trusted")
    nonces = NonceStore(home.home / "nonces.sqlite")  # envelopes seen: a replay is refused (409), restarts too
    lock = asyncio.Lock()
    proven: dict[tuple[str, int], dict] = {}

    def prove(spec, round_: int) -> dict:
        prover = shelf.for_round(spec, round_)
        frames: dict[str, object] = {}

        def load(source: dict):  # each source read once per proof, through the role's hook
            key = json.dumps(source, sort_keys=True)
            if key not in frames:
                frames[key] = hooks.frame(load_source(source, chain=home.chain))
            return frames[key]

        bundle = prover.prove(spec, load, round=round_)
        bid = publish_bundle(home.store, bundle)
        return {"bundle": bid, "proof_hash": bundle.proof_hash, "market_id": spec.market_id, "round": round_,
                "model": prover.circuit.model_id}

    async def handle_prove(request):
        signer, p = open_envelope(request["body"], trusted, bases=own_audiences(home.cfg),
                                  path=request.path, nonces=nonces)
        market_id, round_, spec_hash = field(p, "market_id"), field(p, "round", int), field(p, "spec_hash")
        artifacts = field(p, "artifacts", list)
        key = (market_id, round_)
        if key in proven:
            return proven[key]
        await hooks.before_prove(market_id, round_)
        spec = MarketSpec.parse(json.loads(await in_thread(fetch_artifact, artifacts, spec_hash, home.store)))
        if spec.market_id != market_id or spec.spec_hash != spec_hash:
            raise Refused(400, f"spec_hash: the spec is for market {spec.market_id}, not {market_id}")
        if not home.dep.is_registered(market_id):
            raise Refused(422, f"market_id: {market_id} is not registered on-chain")
        try:
            await in_thread(shelf.for_round, spec, round_)
        except SpecError as e:
            raise Refused(422, str(e)) from None
        async with lock:
            t0 = time.perf_counter()
            try:
                result = await in_thread(prove, spec, round_)
            except EvidenceMissing as e:
                # too early (the chain's clock has not reached the evidence): ask again later; past the
                # deadline (410): the market is INVALID by absence, which validators sign without a proof
                raise Refused(410 if e.invalid else 425, f"data: {e}") from None
            except DataError as e:  # unreadable, or refused by the source policy
                raise Refused(425 if getattr(e, "retry", False) else 422, f"data: {e}") from None
        proven[key] = result
        log("proved", market_id=market_id, round=round_, bundle=result["bundle"], model=result["model"],
            from_=signer, seconds=round(time.perf_counter() - t0, 2))
        return result

    health = lambda: {"name": home.name, "address": home.key.address, **shelf.health(), "proven": len(proven)}
    return make_app("prover", log, home.store, {"/v1/prove": handle_prove}, health,
                    model_record=hooks.model_record)
