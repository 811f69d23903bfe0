"""`oracle aggregator serve`: POST /v1/votes <vote JSON>.

Votes are authenticated by their own EIP-712 signatures under this chain's domain; accepted ones are
stored (SQLite) before counting, so a restarted aggregator resumes with them. At quorum it settles
once through `oracle.settlement.Settler`, which first asks the chain whether the round is already
settled (another aggregator may have been faster) and recognises a competitor's settlement by the
contract's decoded error. With "scheme": "bls" in role.json, final rounds settle with one BLS
aggregate of the validators' shares (forecast rounds, which have no BLS entry point, stay ECDSA).
Equivocations go to evidence.jsonl and, when the deployment has a `ValidatorStaking`, to the chain:
two conflicting signatures by one bonded key take its bond (the aggregator is paid the reporter's
share) and remove it from the set at once. Once a market it collected votes for is final in the
dispute court, the aggregator claims the fee's shares from what it holds (`claim_fees`, every
"claim_fees_s" seconds, default 5): the prover's, with a quorum of the members' `ProverCredit`
signatures, and each member's, with its vote (paid to them; the aggregator pays the gas).
Disputed markets: POST /v1/rulings takes members' `Ruling`s (checked, kept); with the bundle the
proposal named (this role's store) the proof path goes first (`settleByProof` when the proof
disagrees), else the court's escalated quorum of rulings for one outcome settles by vote
(`network.roles.rulings`).
"""

from __future__ import annotations

import asyncio
import json
import threading

from oracle.batch import leaf
from oracle.errors import ChainError, OracleError
from oracle.settlement import Settlement, Settler
from oracle.staking import Staking
from validators.aggregator import Aggregator, BlsAggregator
from validators.votes import BlsVote, Vote, VoteRejected

from ..home import JsonRows, RoleHome
from ..transport import Refused, fetch_artifact, in_thread, make_app


class AggregatorService:
    """The aggregator's API and its counters: served alone, or by a validator that also aggregates."""

    def __init__(self, home: RoleHome):
        self.home = home
        self.log = home.log
        self.dep = home.dep
        members, threshold = self.dep.validators(), self.dep.threshold()
        self._epoch = self.dep.validator_epoch()
        self.received = JsonRows(home.home / "aggregated.sqlite", "received")
        self.evidence_path = home.home / "evidence.jsonl"
        self._lock = threading.Lock()
        self._last_round: dict[str, int] = {}
        self._evidence_kept = 0
        self.bls_mode = home.cfg.get("scheme") == "bls"
        self.settler = Settler(self.dep, home.key, bls_final=self.bls_mode, log=self.log)
        self.staking = Staking.of(self.dep) if self.dep.addresses.get("ValidatorStaking") else None
        self.aggregator = Aggregator(self.dep.domain, members, threshold, self.settler,
                                     court_domain=self.dep.court.domain)
        self._fee_markets: set[str] = set()  # markets with final-round votes here whose fees are not done
        self.bls: BlsAggregator | None = None
        self._resolution_of_root: dict[bytes, object] = {}
        if self.bls_mode:
            self.bls = BlsAggregator(self.dep.domain, members, self.dep.bls_key_set(), threshold, self._settle_bls)
        from .rulings import RulingBox

        # members' Rulings on disputed markets (network/roles/rulings.py), kept like the votes
        self.rulings = RulingBox(self.dep.court, self.dep.validators, home.key, log=self.log)
        self.received_rulings = JsonRows(home.home / "aggregated.sqlite", "rulings")
        self._disputes_tried: set[str] = set()  # markets whose proof path was tried here
        self.bundle_ids = JsonRows(home.home / "aggregated.sqlite", "bundles")  # where voters found the proof
        self._replay()

    # ---------------------------------------------------------------- API
    def routes(self) -> dict:
        return {"/v1/votes": self.handle_vote, "/v1/rulings": self.handle_ruling}

    def stats(self) -> dict:
        return {"votes": self.received.count(), "evidence": len(self.aggregator.evidence)}

    async def handle_vote(self, request) -> dict:
        body = request["body"]
        if not isinstance(body, dict):
            raise Refused(400, "body: expected a vote object")
        try:
            vote = Vote.from_json(body)
            bls_signature = _bls_of(body)
        except OracleError as e:
            raise Refused(400, str(e)) from None
        result = await in_thread(self.add, vote, True, bls_signature)
        bundle_id = body.get("bundle")
        if vote.resolution.final and isinstance(bundle_id, str):  # where the voter found the proof
            await in_thread(self._note_bundle, vote, bundle_id)
        self.log("vote", validator=vote.validator, market_id=vote.resolution.market_id,
                 round=vote.resolution.round, **{k: v for k, v in result.items() if k == "submitted"})
        return result

    async def handle_ruling(self, request) -> dict:
        from .rulings import Ruling, RulingRefused

        try:
            ruling = Ruling.from_json(request["body"])
        except RulingRefused as e:
            raise Refused(400, str(e)) from None
        result = await in_thread(self.add_ruling, ruling, True)
        self.log("ruling", validator=ruling.validator, market_id=ruling.market_id, outcome=ruling.outcome,
                 **{k: v for k, v in result.items() if k == "settled_by"})
        return result

    def add_ruling(self, ruling, persist: bool) -> dict:
        """A member's `Ruling` on a disputed market: checked (member, signature, one outcome per
        signer), kept, counted; the escalated quorum settles by vote, after the proof path had its go."""
        from .rulings import RulingRefused

        try:
            self.rulings.check(ruling)
            if persist:
                state = self.dep.court.state_of(ruling.market_id)
                if state != "disputed":
                    raise RulingRefused(f"market_id: {ruling.market_id} is {state}: rulings are for disputed markets")
            self.answer_dispute(ruling.market_id)  # a wrong proposal is overturned by its proof first
            result = self.rulings.add(ruling)
        except RulingRefused as e:
            raise Refused(422, f"ruling: {e}") from None
        if persist:
            self.received_rulings.put(ruling.market_id, 0, ruling.validator, ruling.to_json())
        return result

    def _note_bundle(self, vote: Vote, bundle_id: str) -> None:
        from oracle.store import check_artifact_id

        try:
            check_artifact_id(bundle_id)
        except (OracleError, ValueError):
            return
        r = vote.resolution
        self.bundle_ids.put(r.market_id, r.round, vote.validator,
                            {"market_id": r.market_id, "proof_hash": r.proof_hash, "bundle": bundle_id})

    def _held_bundle(self, market_id: str, proof_hash: str):
        """The bundle whose proof the proposal named: from this role's store, else fetched by the
        artifact id a voter named (from this role's artifact peers, hash-checked), then kept findable."""
        from oracle.bundle import BUNDLE_BY_PROOF, ProofBundle, bundle_ref, publish_bundle

        try:
            return ProofBundle.from_json(self.home.store.get_json(
                self.home.store.ref(BUNDLE_BY_PROOF, bundle_ref(proof_hash, market_id))))
        except OracleError:
            pass
        named = {d["bundle"] for d in self.bundle_ids.all()
                 if d.get("market_id") == market_id and d.get("proof_hash") == proof_hash}
        for bundle_id in sorted(named):
            try:
                bundle = ProofBundle.from_json(json.loads(fetch_artifact(self.home.peers("artifacts"), bundle_id,
                                                                         self.home.store)))
            except (OracleError, ValueError) as e:
                self.log("bundle_unavailable", market_id=market_id, bundle=bundle_id, reason=str(e))
                continue
            if bundle.market_id == market_id and bundle.proof_hash == proof_hash:
                publish_bundle(self.home.store, bundle)
                return bundle
        return None

    def answer_dispute(self, market_id: str) -> dict | None:
        """The proof path, once per disputed market: with the bundle the proposal named (from this
        role's store) and the market's committed rule, `settleByProof` when the proof disagrees."""
        if market_id in self._disputes_tried:
            return None
        self._disputes_tried.add(market_id)
        from markets.spec import MarketSpec

        from .rulings import settle_by_proof_if_wrong

        try:
            if self.dep.court.state_of(market_id) != "disputed":
                return None
            proposal = self.dep.resolution_of(market_id).resolution
            bundle = self._held_bundle(market_id, proposal.proof_hash)
            if bundle is None:
                self.log("dispute_proof", market_id=market_id, result="no_bundle")
                return None
            rule = None
            if self.dep.court.rule_of(market_id) is None:
                spec_hash = self.dep.get_market(market_id).spec_hash
                spec = MarketSpec.parse(json.loads(fetch_artifact(self.home.peers("artifacts"), spec_hash,
                                                                  self.home.store)))
                rule = spec.zk_rule().as_tuple()
            row = settle_by_proof_if_wrong(self.dep.court, self.home.key, market_id, bundle, proposal, rule)
        except (ChainError, OracleError) as e:
            self.log("dispute_proof_failed", market_id=market_id, reason=str(e))
            if not getattr(e, "error", None):  # the node or a peer was away: try again; a revert stays
                self._disputes_tried.discard(market_id)
            return None
        self.log("dispute_proof", market_id=market_id, **row)
        if row["result"] == "overturned":
            self.rulings.settled[market_id] = {"settled_by": "proof", **row}
        return row

    def watch_disputes(self) -> None:
        """Every market with final-round votes here that the court says is disputed: the proof path
        (once), then the rulings held (a quorum completed while the chain was away settles now)."""
        with self._lock:
            markets = sorted(self._fee_markets)
        for market_id in markets:
            try:
                if self.dep.court.state_of(market_id) != "disputed":
                    continue
                self.answer_dispute(market_id)
                self.rulings.try_settle(market_id)
            except (ChainError, OracleError) as e:
                self.log("dispute_failed", market_id=market_id, reason=str(e))

    # ------------------------------------------------------------- rounds
    def last_round(self, market_id: str) -> int:
        """The last round resolves; earlier ones are forecasts. The spec (fetched by the hash the registry
        holds) says which; a vote's `final` flag must agree."""
        from markets.spec import MarketSpec

        if market_id not in self._last_round:
            spec_hash = self.dep.get_market(market_id).spec_hash
            spec = MarketSpec.parse(json.loads(fetch_artifact(self.home.peers("artifacts"), spec_hash,
                                                              self.home.store)))
            self._last_round[market_id] = len(spec.rounds()) - 1
        return self._last_round[market_id]

    # --------------------------------------------------------------- votes
    def add(self, vote: Vote, persist: bool, bls_signature: bytes | None = None) -> dict:
        """Check and count a vote (and its BLS share); settle when it completes a quorum."""
        r = vote.resolution
        with self._lock:
            self._follow_set()
            required = self._quorum_of(r.market_id)
            last = self.last_round(r.market_id)
            if not isinstance(r.round, int) or not 0 <= r.round <= last:
                raise Refused(422, f"resolution.round: market {r.market_id} has rounds 0..{last}, not {r.round!r}")
            if r.final != (r.round == last):
                raise Refused(422, f"resolution.final: round {r.round} of market {r.market_id} is "
                                   f"{'its final round' if r.round == last else 'a forecast round'}")
            share = index = None
            if self.bls_mode and r.final:
                share, index = self._checked_share(vote, bls_signature)
            try:
                sub = self.aggregator.add(vote, required=required)
            except VoteRejected as e:
                raise Refused(422, f"vote: {e}") from None
            except ChainError:
                raise
            except Exception as e:  # a field of the wrong type inside the resolution
                raise Refused(400, f"vote: malformed ({type(e).__name__}: {e})") from None
            if share is not None:
                self._resolution_of_root.setdefault(share.root, r)
                bls_sub = self.bls.tally(index, share, required=required)
                if bls_sub is not None:
                    sub = bls_sub
            if r.final:
                self._fee_markets.add(r.market_id)
            if persist:
                doc = vote.to_json()
                if bls_signature is not None:
                    doc["bls_signature"] = "0x" + bls_signature.hex()
                self.received.put(r.market_id, r.round, vote.validator, doc)
            self._keep_evidence()
        if sub is not None and sub.tx_hash is not None:  # our own transaction landed
            return {"accepted": True, "submitted": sub.tx_hash}
        return {"accepted": True}

    # ---------------------------------------------------------------- fees
    def claim_fees(self) -> list[dict]:
        """For each market this aggregator holds final-round votes for that the court now says is
        final: claim the prover's share (a quorum of credits naming one prover) and the members'
        shares (their votes for the resolution that became final). Done with a market once nothing
        more can be claimed from here; INVALID markets are the creator's refund."""
        rows: list[dict] = []
        with self._lock:
            markets = sorted(self._fee_markets)
        for market_id in markets:
            try:
                state = self.dep.court.state_of(market_id)
                if state in ("open", "proposed", "disputed"):
                    continue
                if state == "final":
                    rows.extend(self._claim_market(market_id))
            except (ChainError, OracleError) as e:
                self.log("fee_claim_failed", market_id=market_id, reason=str(e))
                continue
            with self._lock:
                self._fee_markets.discard(market_id)
        return rows

    def _claim_market(self, market_id: str) -> list[dict]:
        from ..fees import claim_market_fees

        with self._lock:  # votes arrive on other threads
            rows = claim_market_fees(self.dep, self.home.key, self.aggregator, market_id)
        for row in rows:
            self.log("fee_claim", **row)
        return rows

    def attach(self, app) -> None:
        """Claim fees in the background while `app` runs."""
        every = float(self.home.cfg.get("claim_fees_s", 5.0))

        async def loop(_app):
            async def run():
                while True:
                    await asyncio.sleep(every)
                    try:
                        await in_thread(self.watch_disputes)
                        await in_thread(self.claim_fees)
                    except Exception as e:  # the node is down: try again later
                        self.log("fee_claim_failed", reason=str(e))

            task = asyncio.ensure_future(run())
            yield
            task.cancel()

        app.cleanup_ctx.append(loop)

    def _follow_set(self) -> None:
        """Count votes against the set in force now: after a change, members and threshold are
        read again and votes of members who left stop counting (one cheap read per vote)."""
        epoch = self.dep.validator_epoch()
        if epoch == self._epoch:
            return
        members, threshold = self.dep.validators(), self.dep.threshold()
        self.aggregator.set_members(members, threshold)
        if self.bls is not None:
            self.bls.set_members(members, self.dep.bls_key_set(), threshold)
        self._epoch = epoch
        self.log("validator_set_changed", epoch=epoch, members=len(members), threshold=threshold)

    def _quorum_of(self, market_id: str) -> int:
        """The market's own quorum; Refused if the market id is malformed or not registered."""
        try:
            return self.dep.get_market(market_id).quorum
        except (ValueError, TypeError, AttributeError) as e:
            raise Refused(400, f"resolution.market_id: malformed ({e})") from None
        except ChainError as e:
            if e.error != "UnknownMarket":
                raise  # the node is unreachable: not the voter's fault
            raise Refused(422, f"resolution.market_id: {market_id} is not a registered market") from None

    def _checked_share(self, vote: Vote, bls_signature: bytes | None) -> tuple[BlsVote, int]:
        """The vote's BLS share over its one-market root, verified; and the voter's member index."""
        if bls_signature is None:
            raise Refused(422, "bls_signature: this aggregator settles final rounds with BLS; none sent")
        try:
            share = BlsVote(vote.validator, leaf(vote.resolution), 1, bls_signature)
        except (ValueError, OracleError) as e:
            raise Refused(422, f"resolution: {e}") from None
        try:
            return share, self.bls.check(share)
        except VoteRejected as e:
            refused = e
        # the voter may have registered or rotated its key since we read the set: read it again
        now = self.dep.bls_key_set() if vote.validator.lower() in self.bls.index else self.bls.key_set
        if now != self.bls.key_set:
            changed = self.bls.rekey(now)
            self.log("bls_keys_changed", members=[self.bls.members[i] for i in changed])
            try:
                return share, self.bls.check(share)
            except VoteRejected as e:
                refused = e
        raise Refused(422, f"bls_signature: {refused}")

    def _settle_bls(self, root: bytes, _count: int, bitmap: int, signature: bytes, key_set: bytes) -> Settlement:
        return self.settler.batch_bls([self._resolution_of_root[root]], bitmap, signature, key_set)

    def _keep_evidence(self) -> None:
        for e in self.aggregator.evidence[self._evidence_kept:]:
            doc = {**e.to_json(), "chain_id": self.dep.chain.chain_id, "oracle": self.dep.addresses["QuorumOracle"]}
            with open(self.evidence_path, "a") as f:
                f.write(json.dumps(doc) + "\n")
            self.log("equivocation", validator=e.validator, market_id=e.market_id, round=e.round)
            self._submit_evidence(e)
        self._evidence_kept = len(self.aggregator.evidence)

    def _submit_evidence(self, e) -> None:
        """Slash the equivocating member on-chain (kept in evidence.jsonl whatever happens here: anyone
        can submit it later). Evidence another reporter used first is no failure."""
        if self.staking is None:
            return
        try:
            report = self.staking.report(self.home.key, e.first.resolution, e.first.signature,
                                         e.second.resolution, e.second.signature)
        except (ChainError, OracleError) as err:
            self.log("slash_failed", validator=e.validator, market_id=e.market_id, round=e.round, reason=str(err))
            return
        event = {"slashed": "slashed", "spent": "evidence_spent", "not_slashable": "evidence_not_slashable"}
        self.log(event[report.outcome], validator=e.validator, market_id=e.market_id, round=e.round,
                 reason=report.reason, **({"tx_hash": report.tx_hash} if report.tx_hash else {}))

    def _replay(self) -> None:
        """A restart resumes with every vote accepted before it (nothing is settled twice: the chain says)."""
        for doc in self.received.all():
            try:
                self.add(Vote.from_json(doc), persist=False, bls_signature=_bls_of(doc))
            except (OracleError, Refused) as e:
                self.log("replay_failed", reason=str(e))
        from .rulings import Ruling

        for doc in self.received_rulings.all():
            try:
                self.rulings.add(Ruling.from_json(doc))
            except (OracleError, Refused) as e:
                self.log("replay_failed", reason=str(e))


def build_app(home: RoleHome):
    service = AggregatorService(home)
    app = make_app("aggregator", home.log, home.store, service.routes(),
                   lambda: {"name": home.name, "address": home.key.address, **service.stats()})
    service.attach(app)
    return app


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
