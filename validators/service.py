"""`oracle validator serve` and `oracle aggregator serve`.

Validator: POST /v1/review {market_id, round, spec_hash, bundle, artifacts} (signed envelope from
a trusted scheduler). It downloads the spec, the bundle and (once) the model by hash, reviews the
bundle with every check, signs a vote, stores it, and sends it to every aggregator it knows. For
one (market, round) it signs at most one vote: a repeated request answers the stored vote.

Aggregator: POST /v1/votes <vote JSON>. Votes are authenticated by their own EIP-712 signatures
under this chain's domain; accepted ones are stored (SQLite) before counting, so a restarted
aggregator resumes with them. At quorum it settles once; it first asks the chain whether the round
is already settled (another aggregator may have been faster) and treats `AlreadyResolved` /
`StaleRound` as "someone else settled it". Equivocations go to evidence.jsonl.
"""

from __future__ import annotations

import json
import threading

from oracle.errors import ChainError, OracleError
from oracle.service import JsonRows, RoleHome, Refused, ensure_model, fetch_artifact, field, in_thread, \
    make_app, open_envelope, post


# ------------------------------------------------------------------------ validator
def build_validator_app(home: RoleHome):
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.bundle import ProofBundle
    from oracle.eip712 import Resolution, digest, signable

    from .validator import Validator, Vote

    log = home.log
    validator = Validator(home.key, home.store, home.dep.domain,
                          lambda source: load_source(source, chain=home.chain), registry=home.dep,
                          bls_key=home.bls_key)
    votes = JsonRows(home.home / "votes.sqlite", "votes")
    trusted = home.peers("trusted")
    lock = threading.Lock()

    def send(vote_doc: dict) -> list[str]:
        sent = []
        for url in home.peers("aggregators"):
            try:
                post(f"{url}/v1/votes", vote_doc, timeout=15)
                sent.append(url)
            except OracleError as e:
                log("send_failed", aggregator=url, reason=str(e))
        return sent

    def review(p: dict) -> dict:
        market_id, round_ = field(p, "market_id"), field(p, "round", int)
        artifacts = field(p, "artifacts", list)
        with lock:
            stored = votes.get(market_id, round_, home.key.address)
            if stored is not None:  # one vote per (market, round), whatever is asked again
                return {"vote": stored, "sent_to": send(stored), "repeated": True}
            spec = MarketSpec.parse(json.loads(fetch_artifact(artifacts, field(p, "spec_hash"), home.store)))
            bundle = ProofBundle.from_json(json.loads(fetch_artifact(artifacts, field(p, "bundle"), home.store)))
            if spec.market_id != market_id or bundle.market_id != market_id or bundle.round != round_:
                raise Refused(400, f"bundle/spec: for market {bundle.market_id} round {bundle.round} "
                                   f"(spec of {spec.market_id}), not {market_id} round {round_}")
            ensure_model(artifacts, spec.model, home.store)
            result = validator.review(spec, bundle)
            if result.vote is None:
                log("refused_bundle", market_id=market_id, round=round_, check=result.refusal.check,
                    reason=result.refusal.reason)
                return {"refusal": result.refusal.to_json()}
            vote = result.vote
            if home.adversary == "equivocate":
                # Adversary (tests, benchmarks): a Byzantine member signs the right outcome, sends
                # it, then signs and sends the opposite one too.
                r = vote.resolution
                wrong = Resolution(**{**r.to_json(), "outcome": 1 - r.outcome if r.outcome in (0, 1) else 0})
                bad = Vote(home.key.address, wrong, digest(home.dep.domain, wrong),
                           home.key.sign_message(signable(home.dep.domain, wrong)), vote.checks)
                send(vote.to_json())
                vote = bad
            doc = vote.to_json()
            if home.bls_key is not None and home.adversary is None:
                # the BLS share over the one-market batch root: what a BLS aggregator adds up
                share = validator.sign_batch_bls([vote.resolution])
                doc["bls_signature"] = "0x" + share.signature.hex()
            votes.put(market_id, round_, home.key.address, doc)
            log("signed", market_id=market_id, round=round_, outcome=vote.resolution.outcome,
                probability_ppm=vote.resolution.probability_ppm)
        return {"vote": doc, "sent_to": send(doc)}

    async def handle_review(request):
        _, p = open_envelope(request["body"], trusted)
        return await in_thread(review, p)

    routes = {"/v1/review": handle_review}
    stats = lambda: {}
    if home.cfg.get("aggregate"):  # any validator can act as an aggregator too, paying gas with its own key
        agg_routes, stats = aggregator_routes(home)
        routes.update(agg_routes)
    health = lambda: {"name": home.name, "address": home.key.address, "votes": votes.count(),
                      **{f"aggregated_{k}": v for k, v in stats().items()}}
    return make_app("validator", log, home.store, routes, health)


# ----------------------------------------------------------------------- aggregator
def build_aggregator_app(home: RoleHome):
    routes, stats = aggregator_routes(home)
    return make_app("aggregator", home.log, home.store, routes,
                    lambda: {"name": home.name, "address": home.key.address, **stats()})


def aggregator_routes(home: RoleHome):
    """The aggregator's API and its counters: served alone, or by a validator that also aggregates."""
    from .aggregator import Aggregator, VoteRejected
    from .validator import Vote

    log = home.log
    dep = home.dep
    members = dep.validators()
    threshold = dep.threshold()
    store = JsonRows(home.home / "aggregated.sqlite", "received")
    evidence_path = home.home / "evidence.jsonl"
    lock = threading.Lock()
    final_of: dict[str, int] = {}

    def last_round(market_id: str) -> int:
        # The last round resolves; earlier ones are forecasts. The spec (fetched by hash) says which.
        from markets.spec import MarketSpec

        if market_id not in final_of:
            spec_hash = dep.get_market(market_id).spec_hash
            spec = MarketSpec.parse(json.loads(fetch_artifact(home.peers("artifacts"), spec_hash, home.store)))
            final_of[market_id] = len(spec.rounds()) - 1
        return final_of[market_id]

    def is_final(market_id: str, round_: int) -> bool:
        return round_ >= last_round(market_id)

    def settled(market_id: str, round_: int) -> bool:
        return dep.round_result(market_id, round_, final=is_final(market_id, round_)) is not None

    def settle(resolution, signatures) -> str:
        key = (resolution.market_id, resolution.round)
        if bls_mode and is_final(*key):
            return "left-to-bls"  # the BLS tally settles it
        if settled(*key):
            log("skipped_settled", market_id=key[0], round=key[1])
            return "already-settled"
        fn = dep.resolve if is_final(*key) else dep.post_forecast
        try:
            receipt = fn(home.key, resolution, signatures)
        except ChainError as e:
            if "AlreadyResolved" in str(e) or "StaleRound" in str(e):
                log("duplicate_submission", market_id=key[0], round=key[1], reason=str(e))
                return "already-settled"
            raise
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        log("settled", market_id=key[0], round=key[1], outcome=resolution.outcome, tx=tx,
            gas=receipt["gasUsed"])
        return tx

    aggregator = Aggregator(dep.domain, members, threshold, settle)
    seen_evidence = 0

    # BLS mode: final rounds settle with one aggregate over the one-market root (forecast rounds,
    # which have no BLS entry point, stay ECDSA).
    bls_mode = home.cfg.get("scheme") == "bls"
    bls_agg = None
    resolution_of_root: dict[bytes, object] = {}
    if bls_mode:
        from oracle import bls
        from oracle.batch import leaf

        from .aggregator import BlsAggregator, BlsVote

        def settle_bls(root: bytes, count: int, bitmap: int, signature: bytes) -> str:
            resolution = resolution_of_root[root]
            key = (resolution.market_id, resolution.round)
            if settled(*key):
                log("skipped_settled", market_id=key[0], round=key[1], scheme="bls")
                return "already-settled"
            try:
                receipt = dep.resolve_batch_bls(home.key, [resolution], bitmap, signature)
            except ChainError as e:
                if "AlreadyResolved" in str(e):
                    log("duplicate_submission", market_id=key[0], round=key[1], reason=str(e), scheme="bls")
                    return "already-settled"
                raise
            tx = "0x" + bytes(receipt["transactionHash"]).hex()
            log("settled", market_id=key[0], round=key[1], outcome=resolution.outcome, tx=tx,
                gas=receipt["gasUsed"], scheme="bls", signer_bitmap=bitmap)
            return tx

        bls_agg = BlsAggregator(dep.domain, members, bls.keys_of_key_set(dep.bls_key_set()), threshold, settle_bls)

    def record_evidence() -> None:
        nonlocal seen_evidence
        for e in aggregator.evidence[seen_evidence:]:
            doc = {"validator": e.validator, "market_id": e.market_id, "round": e.round,
                   "first": e.first.to_json(), "second": e.second.to_json(),
                   "chain_id": dep.chain.chain_id, "oracle": dep.addresses["QuorumOracle"]}
            with open(evidence_path, "a") as f:
                f.write(json.dumps(doc) + "\n")
            log("equivocation", validator=e.validator, market_id=e.market_id, round=e.round)
        seen_evidence = len(aggregator.evidence)

    def add(vote, persist: bool, bls_signature: bytes | None = None) -> dict:
        r = vote.resolution
        with lock:
            try:
                required = dep.get_market(r.market_id).quorum
            except (ValueError, TypeError, AttributeError) as e:
                raise Refused(400, f"resolution.market_id: malformed ({e})") from None
            except ChainError as e:
                if "revert" not in str(e):
                    raise  # the node is unreachable: not the voter's fault
                raise Refused(422, f"resolution.market_id: {r.market_id} is not a registered market") from None
            if not isinstance(r.round, int) or not 0 <= r.round <= last_round(r.market_id):
                raise Refused(422, f"resolution.round: market {r.market_id} has rounds 0..{last_round(r.market_id)}, "
                                   f"not {r.round!r}")
            share = None
            if bls_mode and is_final(r.market_id, r.round):
                if bls_signature is None:
                    raise Refused(422, "bls_signature: this aggregator settles final rounds with BLS; none sent")
                share = BlsVote(vote.validator, leaf(r), 1, bls_signature)
                index = bls_agg.index.get(vote.validator.lower())
                if index is not None and bls_agg.keys[index] is None:  # registered since we started?
                    bls_agg.keys = bls.keys_of_key_set(dep.bls_key_set())
                try:
                    index = bls_agg.check(share)
                except VoteRejected as e:
                    raise Refused(422, f"bls_signature: {e}") from None
            try:
                sub = aggregator.add(vote, required=required)
            except VoteRejected as e:
                raise Refused(422, f"vote: {e}") from None
            except ChainError:
                raise
            except Exception as e:  # a field of the wrong type inside the resolution
                raise Refused(400, f"vote: malformed ({type(e).__name__}: {e})") from None
            if share is not None:
                resolution_of_root.setdefault(share.root, r)
                bls_sub = bls_agg.tally(index, share, required=required)
                if bls_sub is not None:
                    sub = bls_sub
            if persist:
                doc = vote.to_json()
                if bls_signature is not None:
                    doc["bls_signature"] = "0x" + bls_signature.hex()
                store.put(r.market_id, r.round, vote.validator, doc)
            record_evidence()
        if sub is not None:
            return {"accepted": True, "submitted": sub.tx_hash}
        return {"accepted": True}

    # A restart resumes with every vote accepted before it (nothing is settled twice: the chain says).
    for doc in store.all():
        try:
            add(Vote.from_json(doc), persist=False, bls_signature=_bls_of(doc))
        except (OracleError, Refused) as e:
            log("replay_failed", reason=str(e))

    async def handle_vote(request):
        body = request["body"]
        if not isinstance(body, dict):
            raise Refused(400, "body: expected a vote object")
        try:
            vote = Vote.from_json(body)
            bls_signature = _bls_of(body)
        except OracleError as e:
            raise Refused(400, str(e)) from None
        result = await in_thread(add, vote, True, bls_signature)
        log("vote", validator=vote.validator, market_id=vote.resolution.market_id, round=vote.resolution.round,
            **{k: v for k, v in result.items() if k == "submitted"})
        return result

    return {"/v1/votes": handle_vote}, lambda: {"votes": store.count(), "evidence": len(aggregator.evidence)}


def _bls_of(doc: dict) -> bytes | None:
    sig = doc.get("bls_signature")
    if sig is None:
        return None
    if not (isinstance(sig, str) and sig.startswith("0x") and len(sig) == 2 + 192):
        raise OracleError("bls_signature: expected 96 bytes as 0x-hex")
    try:
        return bytes.fromhex(sig[2:])
    except ValueError:
        raise OracleError("bls_signature: not hex") from None


def check_equivocation(doc: dict) -> str:
    """Check an evidence record from anyone: both votes recover to the same member, for the same
    market and round, with different resolutions, under the recorded chain and contract.
    Returns the equivocating address; raises OracleError otherwise."""
    from oracle.eip712 import Domain, recover

    from .validator import Vote

    first, second = Vote.from_json(doc["first"]), Vote.from_json(doc["second"])
    domain = Domain(chain_id=int(doc["chain_id"]), verifying_contract=doc["oracle"])
    a, b = recover(domain, first.resolution, first.signature), recover(domain, second.resolution, second.signature)
    if a != b:
        raise OracleError(f"evidence: signers differ ({a} vs {b})")
    r1, r2 = first.resolution, second.resolution
    if (r1.market_id, r1.round) != (r2.market_id, r2.round):
        raise OracleError("evidence: the votes are for different markets or rounds")
    if r1 == r2:
        raise OracleError("evidence: the two votes are the same resolution")
    return a


__all__ = ["build_validator_app", "build_aggregator_app", "check_equivocation"]
