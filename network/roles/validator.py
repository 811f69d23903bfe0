"""`oracle validator serve`: POST /v1/review {market_id, round, spec_hash, bundle, artifacts} (signed
envelope from a trusted scheduler).

The validator downloads the spec, the bundle and (once) the round's model by hash (the market's
resolver for the final round, its forecaster for a forecast round), reviews the bundle with every
check as of the chain's clock (the evidence from every source the spec observes), signs a vote, stores it, and sends it to every aggregator it knows. For one (market,
round) it signs at most one vote: a repeated request answers the stored vote. A validator whose
role.json says "aggregate" serves the aggregator's API too (`network.roles.aggregator`), paying gas
with its own key.

Disputes: once the court says a market it voted the final round of is disputed (read every
"rulings_s" seconds, default 5), the validator signs `Ruling(marketId, outcome)` with its own stored
vote's outcome, keeps it (one per market) and sends it to every aggregator (`POST /v1/rulings`).
POST /v1/ruling {market_id, outcome?} answers that ruling to anyone; never one for another outcome
(`network.roles.rulings`).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

from oracle.errors import OracleError

from ..home import JsonRows, NonceStore, RoleHome
from ..transport import (Refused, ensure_model, fetch_artifact, field, in_thread, make_app, open_envelope,
                         own_audiences, post)
from .hooks import load_hooks


def build_app(home: RoleHome):
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.bundle import BUNDLE_BY_PROOF, ProofBundle, bundle_ref
    from oracle.eip712 import digest, signable
    from validators.validator import Validator
    from validators.votes import Vote

    log = home.log
    hooks = load_hooks(home)
    domain = home.dep.domain
    validator = Validator(home.key, home.store, domain,
                          lambda source: load_source(source, chain=home.chain), registry=home.dep,
                          bls_key=home.bls_key, clock=lambda: datetime.fromtimestamp(home.chain.timestamp(),
                                                                                      timezone.utc))
    votes = JsonRows(home.home / "votes.sqlite", "votes")
    rulings = JsonRows(home.home / "votes.sqlite", "rulings")  # one per market: the outcome of its own vote
    trusted = home.peers("trusted")
    nonces = NonceStore(home.home / "nonces.sqlite")  # envelopes seen: a replay is refused (409), restarts too
    # one lock per (market, round): one vote each, and a slow data source of one market never
    # stalls the review of another (a global lock here did, issue 12 item 10)
    locks: dict[tuple[str, int], threading.Lock] = {}
    locks_guard = threading.Lock()

    def lock_for(key: tuple[str, int]) -> threading.Lock:
        with locks_guard:
            return locks.setdefault(key, threading.Lock())

    def broadcast(path: str, doc: dict, failed: str) -> list[str]:
        """POST `doc` to every aggregator this validator knows; the ones that took it."""
        sent = []
        for url in home.peers("aggregators"):
            try:
                post(f"{url}{path}", doc, timeout=15)
                sent.append(url)
            except OracleError as e:
                log(failed, aggregator=url, reason=str(e))
        return sent

    def send(vote_doc: dict) -> list[str]:
        return broadcast("/v1/votes", vote_doc, "send_failed")

    def resign(resolution) -> Vote:
        """A vote for `resolution` under this validator's key, whether or not it reviewed it (hooks only)."""
        return Vote(home.key.address, resolution, digest(domain, resolution),
                    home.key.sign_message(signable(domain, resolution)))

    def review(p: dict) -> dict:
        market_id, round_ = field(p, "market_id"), field(p, "round", int)
        artifacts = field(p, "artifacts", list)
        with lock_for((market_id, round_)):
            stored = votes.get(market_id, round_, home.key.address)
            if stored is not None:  # one vote per (market, round), whatever is asked again
                return {"vote": stored, "sent_to": send(stored), "repeated": True}
            spec = MarketSpec.parse(json.loads(fetch_artifact(artifacts, field(p, "spec_hash"), home.store)))
            bundle = ProofBundle.from_json(json.loads(fetch_artifact(artifacts, field(p, "bundle"), home.store)))
            # findable from what the proposal commits to: this role (aggregating too) holds the proof
            # a dispute may need (`settleByProof`)
            home.store.set_ref(BUNDLE_BY_PROOF, bundle_ref(bundle.proof_hash, bundle.market_id), field(p, "bundle"))
            if spec.market_id != market_id or bundle.market_id != market_id or bundle.round != round_:
                raise Refused(400, f"bundle/spec: for market {bundle.market_id} round {bundle.round} "
                                   f"(spec of {spec.market_id}), not {market_id} round {round_}")
            try:
                model = spec.round(round_).model
            except OracleError as e:
                raise Refused(422, str(e)) from None
            ensure_model(artifacts, model, home.store)
            result = validator.review(spec, bundle)
            off = [d for d in list(validator.deviations) if (d["market"], d["round"]) == (market_id, round_)]
            for d in off:  # reported, not counted: a source off the median
                validator.deviations.remove(d)
                log("sources_off_median", market_id=market_id, round=round_, sources=d["sources"])
            if result.vote is None:
                log("refused_bundle", market_id=market_id, round=round_, check=result.refusal.check,
                    reason=result.refusal.reason)
                return {"refusal": result.refusal.to_json()}
            *before, vote = hooks.votes(result.vote, resign)
            for extra in before:
                send(extra.to_json())
            doc = vote.to_json()
            if vote.resolution.final:  # where the proof is: an aggregator may need it in a dispute
                doc["bundle"] = field(p, "bundle")
            if home.bls_key is not None and vote is result.vote and vote.resolution.final:
                # the BLS share over the one-market batch root (what a BLS aggregator adds up), only
                # ever for the resolution this validator reviewed itself
                share = validator.sign_batch_bls([vote.resolution])
                doc["bls_signature"] = "0x" + share.signature.hex()
            votes.put(market_id, round_, home.key.address, doc)
            log("signed", market_id=market_id, round=round_, outcome=vote.resolution.outcome,
                probability_ppm=vote.resolution.probability_ppm)
        return {"vote": doc, "sent_to": send(doc)}

    def absence(p: dict) -> dict:
        """INVALID by absence: this validator checks for itself that the market's evidence is missing
        past its deadline (its own reads, the chain's clock), then signs; one vote per market round."""
        from validators.absence import review_absence

        market_id, artifacts = field(p, "market_id"), field(p, "artifacts", list)
        spec = MarketSpec.parse(json.loads(fetch_artifact(artifacts, field(p, "spec_hash"), home.store)))
        if spec.market_id != market_id:
            raise Refused(400, f"spec: for market {spec.market_id}, not {market_id}")
        round_ = spec.final_round
        with lock_for((market_id, round_)):
            stored = votes.get(market_id, round_, home.key.address)
            if stored is not None:
                return {"vote": stored, "sent_to": send(stored), "repeated": True}
            result = review_absence(validator, spec)
            if result.vote is None:
                log("refused_absence", market_id=market_id, round=round_, check=result.refusal.check,
                    reason=result.refusal.reason)
                return {"refusal": result.refusal.to_json()}
            doc = result.vote.to_json()
            votes.put(market_id, round_, home.key.address, doc)
            log("signed", market_id=market_id, round=round_, outcome=result.vote.resolution.outcome,
                probability_ppm=0, absence=True)
        return {"vote": doc, "sent_to": send(doc)}

    # ------------------------------------------------------------ disputes: this member's Ruling
    def ruling(market_id: str, asked: int | None = None) -> dict:
        """This validator's `Ruling` on a disputed market: the outcome of its own stored final-round
        vote, signed once and kept; a request naming another outcome gets nothing."""
        from .rulings import RulingRefused, own_final_vote, sign_ruling

        vote = own_final_vote(votes.all(), home.key.address, market_id)
        if vote is None:  # before any lock: a stranger's market ids leave nothing behind here
            raise Refused(409, f"market_id: {market_id}: this validator has no vote on its final round")
        with lock_for((market_id, -1)):
            try:
                r = sign_ruling(home.dep.court, home.key, vote, market_id,
                                stored=rulings.get(market_id, 0, home.key.address), asked=asked)
            except RulingRefused as e:
                raise Refused(409, str(e)) from None
            if rulings.get(market_id, 0, home.key.address) is None:
                rulings.put(market_id, 0, home.key.address, r.to_json())
                log("ruling_signed", market_id=market_id, outcome=r.outcome)
        return r.to_json()

    def send_ruling(doc: dict) -> list[str]:
        return broadcast("/v1/rulings", doc, "ruling_send_failed")

    settled: set[str] = set()

    def answer_disputes() -> list[dict]:
        """Every market this validator voted the final round of and has not ruled on: once the court
        says disputed, sign and send its ruling; a ruling kept is sent again while still disputed (an
        aggregator may have restarted). Markets that became final or invalid are left alone."""
        out = []
        for doc in votes.all():
            if (doc.get("resolution") or {}).get("market_id") in settled:
                continue
            r = doc.get("resolution") or {}
            market_id = r.get("market_id")
            if not r.get("final") or str(doc.get("validator", "")).lower() != home.key.address.lower():
                continue
            try:
                state = home.dep.court.state_of(market_id)
                if state in ("final", "invalid"):
                    settled.add(market_id)  # nothing to rule on any more: not read again
                if state != "disputed":
                    continue
                ruled = ruling(market_id)
            except (OracleError, Refused) as e:
                log("ruling_failed", market_id=market_id, reason=str(e))
                continue
            out.append({"ruling": ruled, "sent_to": send_ruling(ruled)})
        return out

    async def handle_ruling(request):
        """POST /v1/ruling {market_id, outcome?}: anyone may ask; the answer is this member's own
        ruling (public once sent), never one for another outcome."""
        body = request["body"]
        if not isinstance(body, dict):
            raise Refused(400, "body: expected {market_id, outcome?}")
        market_id = field(body, "market_id")
        if not (market_id.startswith("0x") and len(market_id) == 66):
            raise Refused(400, "market_id: expected 32 bytes as 0x-hex")
        asked = body.get("outcome")
        if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool)):
            raise Refused(400, "outcome: not an integer")
        return await in_thread(ruling, market_id, asked)

    async def handle_absence(request):
        _, p = open_envelope(request["body"], trusted, bases=own_audiences(home.cfg),
                             path=request.path, nonces=nonces)
        return await in_thread(absence, p)

    async def handle_review(request):
        _, p = open_envelope(request["body"], trusted, bases=own_audiences(home.cfg),
                             path=request.path, nonces=nonces)
        return await in_thread(review, p)

    routes = {"/v1/review": handle_review, "/v1/absence": handle_absence, "/v1/ruling": handle_ruling}
    stats = lambda: {}
    if home.cfg.get("aggregate"):  # any validator can act as an aggregator too
        from .aggregator import AggregatorService

        aggregator = AggregatorService(home)
        routes.update(aggregator.routes())
        stats = aggregator.stats
    health = lambda: {"name": home.name, "address": home.key.address, "votes": votes.count(),
                      **{f"aggregated_{k}": v for k, v in stats().items()}}
    app = make_app("validator", log, home.store, routes, health)
    if home.cfg.get("aggregate"):
        aggregator.attach(app)
    every = float(home.cfg.get("rulings_s", 5.0))

    async def watch(_app):
        import asyncio

        async def run():
            while True:
                await asyncio.sleep(every)
                try:
                    await in_thread(answer_disputes)
                except Exception as e:  # the node is down: try again later
                    log("ruling_failed", reason=str(e))

        task = asyncio.ensure_future(run())
        yield
        task.cancel()

    app.cleanup_ctx.append(watch)
    return app
