"""`oracle scheduler run --role-home DIR`: the network scheduler.

It follows MarketRegistry events, keeps round state in its own SQLite, and drives each due round:
ask a prover (the next one if the first does not answer by the deadline), hand the bundle's hash
to every validator, and watch the chain until an aggregator has settled the round. The chain is the
source of truth: a round found settled on-chain is never driven again, and a round that did not
settle (prover down, quorum unreachable, RPC down) waits and is retried with backoff.

It also serves what others fetch by hash: the specs (POST /v1/specs accepts a spec only if a market
with that spec hash is registered on-chain), and GET /v1/status for the dashboard.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from oracle.errors import OracleError
from oracle.state import LocalState

from .home import JsonRows, RoleHome
from .transport import Refused, fetch_artifact, in_thread, make_app, post, sign_envelope


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
        self._next_try: dict[tuple[str, int], float] = {}
        # The bundle chosen for each round, kept across restarts: every validator must see the same
        # proof (two valid proofs differ in their hash, and so would the votes).
        self.bundles = JsonRows(home.home / "bundles.sqlite", "bundles")
        self._stop = threading.Event()
        self.last: list[dict] = []

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
        from markets.sources import RegistrySource

        cursor = int(self.state.cursor("registry", str(self.home.dep.from_block)))
        result, nxt = RegistrySource(self.home.dep, self.home.store).pull(cursor)
        for d in result.found:
            if self.state.add_market(d.spec, "chain", [(r.index, r.due_at) for r in d.spec.rounds()]):
                self.log("market", market_id=d.spec.market_id, new=True)
        # a market whose spec has not arrived yet is read again next time: the cursor stays put
        if not result.skipped:
            self.state.set_cursor("registry", str(nxt))

    # ---------------------------------------------------------------- rounds
    def drive(self, market_id: str, index: int) -> str:
        from markets.spec import MarketSpec

        row = self.state.claim(market_id, index)
        if row is None:
            return "skipped"
        spec = MarketSpec.parse(self.state.spec_json(market_id))
        r = spec.round(index)
        t0 = time.time()
        done = self.home.dep.round_result(spec.market_id, index, final=r.final)
        if done is None:
            detail = self._run(spec, index, row.attempts)
            deadline = time.time() + (self.settle_wait if detail is None else 0)
            while done is None and time.time() < deadline and not self._stop.is_set():
                time.sleep(0.3)
                done = self.home.dep.round_result(spec.market_id, index, final=r.final)
            if done is None:
                detail = detail or "not settled on-chain yet (no quorum so far)"
                backoff = min(2 ** row.attempts, 30)
                self._next_try[(market_id, index)] = time.time() + backoff
                self.state.finish(market_id, index, status="retry", detail=detail)
                self.log("round_waiting", market_id=market_id, round=index, attempt=row.attempts, reason=detail,
                         retry_in_s=backoff)
                return "retry"
        self.state.finish(market_id, index, status="settled", outcome=done.get("outcome"),
                          probability_ppm=done.get("probability_ppm"), detail="settled on-chain")
        self.last = ([{"market_id": market_id, "round": index, **done, "at": time.time()}] + self.last)[:20]
        self.log("round_settled", market_id=market_id, round=index, seconds=round(time.time() - t0, 2), **done)
        return "settled"

    def _prove(self, spec, index: int) -> dict | None:
        """The round's bundle: the one chosen before, else a new one from the first prover that
        answers by the deadline (starting after any whose bundle the validators refused)."""
        key = (spec.market_id, index)
        chosen = self.bundles.get(*key, "chosen")
        if chosen is not None:
            return chosen
        provers = self.home.peers("provers")
        skip = (self.bundles.get(*key, "refused") or {"count": 0})["count"]
        start = skip % len(provers)
        payload = {"market_id": spec.market_id, "round": index, "spec_hash": spec.spec_hash,
                   "artifacts": [self.url]}
        for url in provers[start:] + provers[:start]:
            try:
                proof = post(f"{url}/v1/prove", sign_envelope(self.home.key, payload), timeout=self.prove_timeout)
                fetch_artifact([url], proof["bundle"], self.home.store)  # we serve it too, hash-checked
            except OracleError as e:
                self.log("prover_failed", market_id=spec.market_id, round=index, prover=url, reason=str(e))
                continue
            chosen = {"bundle": proof["bundle"], "prover": url}
            self.bundles.replace(*key, "chosen", chosen)
            self.log("proved", market_id=spec.market_id, round=index, prover=url, bundle=proof["bundle"])
            return chosen
        return None

    def _run(self, spec, index: int, attempt: int) -> str | None:
        """Prove and hand out for review. Returns a reason when the round cannot progress now."""
        if not self.home.peers("provers"):
            return "no prover configured"
        chosen = self._prove(spec, index)
        if chosen is None:
            return "no prover answered"
        key = (spec.market_id, index)
        payload = {"market_id": spec.market_id, "round": index, "spec_hash": spec.spec_hash}
        review = sign_envelope(self.home.key, {**payload, "bundle": chosen["bundle"],
                                               "artifacts": [self.url, chosen["prover"]]})

        def ask(url: str):
            try:
                return post(f"{url}/v1/review", review, timeout=60)
            except OracleError as e:
                self.log("validator_failed", market_id=spec.market_id, round=index, validator=url, reason=str(e))
                return None

        validators = self.home.peers("validators")
        with ThreadPoolExecutor(max_workers=max(1, len(validators))) as pool:
            answers = list(pool.map(ask, validators))
        votes = sum(1 for a in answers if a and "vote" in a)
        refusals = [a["refusal"] for a in answers if a and "refusal" in a]
        self.log("reviewed", market_id=spec.market_id, round=index, votes=votes, refusals=len(refusals),
                 asked=len(validators), bundle=chosen["bundle"])
        if votes == 0 and refusals:
            # the validators refuse this prover's bundle: the next attempt asks another prover
            count = (self.bundles.get(*key, "refused") or {"count": 0})["count"] + 1
            self.bundles.replace(*key, "refused", {"count": count, "last": chosen})
            self.bundles.delete(*key, "chosen")
            return f"bundle from {chosen['prover']} refused: {refusals[0].get('check')}: {refusals[0].get('reason')}"
        return None

    def tick(self) -> None:
        self.pull()
        now = time.time()
        for row in self.state.rounds():
            if self._stop.is_set():
                return
            if row.status not in ("pending", "retry", "running") or row.due_at > now:
                continue
            if self._next_try.get((row.market_id, row.round), 0) > now:
                continue
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
