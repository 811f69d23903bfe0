"""`oracle scheduler run --role-home DIR`: the network scheduler.

It follows MarketRegistry events, keeps round state in its own SQLite, and drives each due round:
ask a prover (the next one if the first does not answer by the deadline), hand the bundle's hash
to every validator, and watch the chain until an aggregator has settled the round. A round is due by
the chain's clock (the oracle's time: a replay chain runs in the past), and a retried one also waits
out its backoff on the wall clock; a prover that says the evidence is not there yet (425) is asked
again later. The chain is the
source of truth: a round found settled on-chain is never driven again, and a round that did not
settle (prover down, quorum unreachable, RPC down) waits and is retried with backoff: the same
`oracle.rounds.RoundDriver` and retry policy as node mode, with the work done over HTTP.

It also serves what others fetch by hash: the specs (POST /v1/specs accepts a spec only if a market
with that spec hash is registered on-chain), and POST /v1/status for the dashboard.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from oracle.errors import OracleError
from oracle.rounds import Claimed, Done, RoundDriver
from oracle.state import LocalState

from .home import JsonRows, RoleHome
from .transport import Refused, fetch_artifact, in_thread, make_app, post, sign_envelope


ABSENT = "absent"  # a prover's answer: the market's evidence never came by its deadline


class Coordinator:
    def __init__(self, home: RoleHome):
        self.home = home
        self.log = home.log
        self.state = LocalState(home.home / "state.sqlite")
        cfg = home.cfg
        self.url = cfg["url"]
        self.poll_s = float(cfg.get("poll_s", 0.5))
        self.prove_timeout = float(cfg.get("prove_timeout_s", 90))
        self.settle_wait = float(cfg.get("settle_wait_s", 30))
        # The bundle chosen for each round, kept across restarts: every validator must see the same
        # proof (two valid proofs differ in their hash, and so would the votes).
        self.bundles = JsonRows(home.home / "bundles.sqlite", "bundles")
        self._stop = threading.Event()
        self._specs: dict[str, object] = {}
        self.last: list[dict] = []
        self.driver = RoundDriver(self.state, home.dep, self.spec_of, self, on_done=self._done, log=self.log)

    def spec_of(self, market_id: str):
        """The market's spec, parsed once (the state keeps the canonical JSON it was accepted with)."""
        from markets.spec import MarketSpec

        if market_id not in self._specs:
            self._specs[market_id] = MarketSpec.parse(self.state.spec_json(market_id))
        return self._specs[market_id]

    # --------------------------------------------------------------- markets
    def accept_spec(self, doc: dict) -> dict:
        from markets.spec import MarketSpec

        spec = MarketSpec.parse(doc)
        if not self.home.dep.is_registered(spec.market_id):
            raise Refused(422, f"spec: no market with spec hash {spec.spec_hash} is registered on-chain")
        record = self.home.dep.get_market(spec.market_id)
        if record.spec_hash != spec.spec_hash:
            raise Refused(422, f"spec: market {spec.market_id} is registered with spec {record.spec_hash}")
        self.home.store.put(spec.canonical())
        new = self.state.add_market(spec, "chain", [(r.index, r.due_at) for r in spec.rounds()])
        self.log("market", market_id=spec.market_id, new=new)
        return {"market_id": spec.market_id, "tracked": True}

    def pull(self) -> None:
        from markets.sources import follow_registry

        new, _ = follow_registry(self.state, self.home.dep, self.home.store)
        for d in new:
            self.log("market", market_id=d.spec.market_id, new=True)

    # ---------------------------------------------------------------- rounds
    def drive(self, market_id: str, index: int) -> str:
        return self.driver.drive(market_id, index)

    # The round driver's work, over HTTP: one round at a time, no shared proofs.
    def companions(self, first: Claimed) -> list:
        return []

    def run(self, rounds: list[Claimed]) -> dict[tuple[str, int], Done]:
        return {c.key: self._run_one(c) for c in rounds}

    def _run_one(self, c: Claimed) -> Done:
        """Prove, hand out for review, and watch the chain until an aggregator settles the round."""
        reason = self._run(c.spec, c.round, c.attempts)
        deadline = time.time() + (self.settle_wait if reason is None else 0)
        found = None
        while found is None and time.time() < deadline and not self._stop.is_set():
            time.sleep(0.3)
            found = self.home.dep.round_result(c.market_id, c.round, final=c.final)
        if found is None:
            return Done("retry", reason or "not settled on-chain yet (no quorum so far)")
        return Done.on_chain(found, "settled on-chain")

    def _done(self, c: Claimed, done: Done) -> None:
        if done.status == "settled":
            self.last = ([{"market_id": c.market_id, "round": c.round, "outcome": done.outcome,
                           "probability_ppm": done.probability_ppm, "at": time.time()}] + self.last)[:20]

    def _prove(self, spec, index: int) -> dict | str:
        """The round's bundle: the one chosen before, else a new one from the first prover that
        answers by the deadline (starting after any whose bundle the validators refused). Else the
        reason none did."""
        key = (spec.market_id, index)
        chosen = self.bundles.get(*key, "chosen")
        if chosen is not None:
            return chosen
        provers = self.home.peers("provers")
        skip = (self.bundles.get(*key, "refused") or {"count": 0})["count"]
        start = skip % len(provers)
        payload = {"market_id": spec.market_id, "round": index, "spec_hash": spec.spec_hash,
                   "artifacts": [self.url]}
        reason = "no prover answered"
        for url in provers[start:] + provers[:start]:
            try:
                proof = post(f"{url}/v1/prove", sign_envelope(self.home.key, payload, f"{url}/v1/prove"),
                             timeout=self.prove_timeout)
                fetch_artifact([url], proof["bundle"], self.home.store)  # we serve it too, hash-checked
            except OracleError as e:
                self.log("prover_failed", market_id=spec.market_id, round=index, prover=url, reason=str(e))
                if isinstance(e, Refused) and e.status == 425:
                    return f"too early: {e.reason}"  # the evidence is not there yet, for any prover
                if isinstance(e, Refused) and e.status == 410:
                    return ABSENT  # past the deadline without evidence: validators check and sign INVALID
                reason = f"no prover answered (last: {e})"
                continue
            chosen = {"bundle": proof["bundle"], "prover": url}
            self.bundles.replace(*key, "chosen", chosen)
            self.log("proved", market_id=spec.market_id, round=index, prover=url, bundle=proof["bundle"])
            return chosen
        return reason

    def _run(self, spec, index: int, attempt: int) -> str | None:
        """Prove and hand out for review. Returns a reason when the round cannot progress now."""
        if not self.home.peers("provers"):
            return "no prover configured"
        chosen = self._prove(spec, index)
        if chosen == ABSENT and index == spec.final_round:
            return self._absent(spec)
        if isinstance(chosen, str):
            return chosen
        key = (spec.market_id, index)
        payload = {"market_id": spec.market_id, "round": index, "spec_hash": spec.spec_hash}
        review = {**payload, "bundle": chosen["bundle"], "artifacts": [self.url, chosen["prover"]]}
        votes, refusals = self._ask_validators("/v1/review", review, spec.market_id, index, "reviewed",
                                               bundle=chosen["bundle"])
        if votes == 0 and refusals:
            # the validators refuse this prover's bundle: the next attempt asks another prover
            count = (self.bundles.get(*key, "refused") or {"count": 0})["count"] + 1
            self.bundles.replace(*key, "refused", {"count": count, "last": chosen})
            self.bundles.delete(*key, "chosen")
            return f"bundle from {chosen['prover']} refused: {refusals[0].get('check')}: {refusals[0].get('reason')}"
        return None

    def _absent(self, spec) -> str | None:
        """Ask every validator to check the absence itself and sign INVALID (no proof exists to hand
        out); their votes go to the aggregators like any other."""
        payload = {"market_id": spec.market_id, "spec_hash": spec.spec_hash, "artifacts": [self.url]}
        votes, refusals = self._ask_validators("/v1/absence", payload, spec.market_id, spec.final_round,
                                               "absence_reviewed")
        if votes == 0 and refusals:
            return f"INVALID by absence refused: {refusals[0].get('check')}: {refusals[0].get('reason')}"
        return None

    def _ask_validators(self, route: str, payload: dict, market_id: str, index: int, event: str,
                        **fields) -> tuple[int, list[dict]]:
        """POST `payload` to every validator's `route` at once (an envelope per validator and per try:
        bound to it, the route and a fresh nonce); (votes, refusals) of those that answered."""

        def ask(url: str):
            try:
                return post(f"{url}{route}", sign_envelope(self.home.key, payload, f"{url}{route}"), timeout=60)
            except OracleError as e:
                self.log("validator_failed", market_id=market_id, round=index, validator=url, reason=str(e))
                return None

        validators = self.home.peers("validators")
        with ThreadPoolExecutor(max_workers=max(1, len(validators))) as pool:
            answers = list(pool.map(ask, validators))
        votes = sum(1 for a in answers if a and "vote" in a)
        refusals = [a["refusal"] for a in answers if a and "refusal" in a]
        self.log(event, market_id=market_id, round=index, votes=votes, refusals=len(refusals),
                 asked=len(validators), **fields)
        return votes, refusals

    def due(self, row, chain_now: int, wall_now: float) -> bool:
        """The round's time has come on the chain's clock, and a retried round waited its backoff
        (the round driver sets a retry's due time on the wall clock)."""
        if row.status not in ("pending", "retry", "running"):
            return False
        if self.spec_of(row.market_id).round(row.round).due_at > chain_now:
            return False
        return row.status != "retry" or row.due_at <= wall_now

    def tick(self) -> None:
        self.pull()
        chain_now, wall_now = self.home.chain.timestamp(), time.time()
        for row in self.state.rounds():
            if self._stop.is_set():
                return
            if self.due(row, chain_now, wall_now):
                self.drive(row.market_id, row.round)

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as e:  # RPC down, a peer answering garbage: log, wait, go on
                self.log("tick_failed", reason=f"{type(e).__name__}: {e}")
                self._stop.wait(2.0)
            self._stop.wait(self.poll_s)

    def status(self) -> dict:
        rows = self.state.rounds()
        return {"name": self.home.name, "rounds": {s: sum(1 for r in rows if r.status == s)
                                                   for s in ("pending", "running", "retry", "settled", "failed")},
                "in_flight": [{"market_id": r.market_id, "round": r.round, "status": r.status,
                               "attempts": r.attempts, "detail": r.detail}
                              for r in rows if r.status in ("pending", "running", "retry")][:20],
                "last": self.last}


def build_app(home: RoleHome):
    coord = Coordinator(home)

    async def handle_spec(request):
        body = request["body"]
        if not isinstance(body, dict):
            raise Refused(400, "body: expected a spec object")
        try:
            return await in_thread(coord.accept_spec, body)
        except Refused:
            raise
        except OracleError as e:
            raise Refused(400, f"spec: {e}") from None

    async def handle_status(request):
        return coord.status()

    app = make_app("scheduler", home.log, home.store, {"/v1/specs": handle_spec, "/v1/status": handle_status},
                   lambda: {"name": home.name, "address": home.key.address})
    thread = threading.Thread(target=coord.loop, name="coordinator", daemon=True)

    async def start(_app):
        thread.start()

    async def stop(_app):
        coord._stop.set()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


__all__ = ["Coordinator", "build_app"]
