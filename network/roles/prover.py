"""`oracle prover serve`: proves rounds on request of a trusted scheduler, serves the bundles.

POST /v1/prove {market_id, round, spec_hash, artifacts: [urls]} (signed envelope) -> proves the
round from the market's own data source, stores the signed bundle content-addressed and answers
{"bundle": <artifact id>, "proof_hash"}. One proof at a time; a request for a round already
proven answers the stored bundle (a retried request costs no second proof).
"""

from __future__ import annotations

import asyncio
import json
import time

from oracle import config

from ..home import NonceStore, RoleHome
from ..transport import Refused, fetch_artifact, field, in_thread, make_app, open_envelope, own_audiences
from .hooks import load_hooks


def build_app(home: RoleHome):
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.bundle import publish_bundle
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    log = home.log
    hooks = load_hooks(home)
    circuit = reference_circuit(home.store, config.cache_dir(), batches=(1,), log=lambda m: log("compile", msg=m))
    prover = EzklProver(circuit, home.key, store=home.store)
    trusted = home.peers("trusted")
    nonces = NonceStore(home.home / "nonces.sqlite")  # envelopes seen: a replay is refused (409), restarts too
    lock = asyncio.Lock()
    proven: dict[tuple[str, int], dict] = {}

    def prove(spec, round_: int) -> dict:
        frame = hooks.frame(load_source(spec.source, chain=home.chain))
        bundle = prover.prove(spec, frame, round=round_)
        bid = publish_bundle(home.store, bundle)
        return {"bundle": bid, "proof_hash": bundle.proof_hash, "market_id": spec.market_id, "round": round_}

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
        if spec.model != prover.circuit.model_id:
            raise Refused(422, f"model: this prover proves {prover.circuit.model_id}, the market asks {spec.model}")
        async with lock:
            t0 = time.perf_counter()
            result = await in_thread(prove, spec, round_)
        proven[key] = result
        log("proved", market_id=market_id, round=round_, bundle=result["bundle"], from_=signer,
            seconds=round(time.perf_counter() - t0, 2))
        return result

    health = lambda: {"name": home.name, "address": home.key.address, "model": prover.circuit.model_id,
                      "proven": len(proven)}
    return make_app("prover", log, home.store, {"/v1/prove": handle_prove}, health,
                    model_record=hooks.model_record)
