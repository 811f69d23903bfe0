"""What the explorer shows, read from the chain (the typed `Deployment` queries and the oracle's and
market's logs) and from this home's stores (specs, proof bundles, model records, data snapshots; the
node's round state when there is one). Read-only: nothing here holds a key or writes anything.

Numbers stay exact in the JSON (`probability_ppm`, wei) beside the labels a person reads
(`YES 0.867`, `1.5 ETH`); the page shows the labels.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Sequence

from markets.scoring import brier, log_loss
from oracle.bundle import BUNDLE_BY_PROOF, ProofBundle, bundle_ref
from oracle.deployment import Deployment
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError, FieldError, NotFound, OracleError
from validators.absence import NO_PROOF
from validators.audit import Auditor

PPM = 1_000_000
WEI = 10**18
ZERO32 = "0x" + "00" * 32
_MARKET_ID = re.compile(r"^0x[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


# ------------------------------------------------------------------------------------ labels
def probability_label(outcomes: Sequence[str], ppm: int | None) -> str:
    """`YES 0.867`: a posted probability (ppm) is the probability of the first outcome."""
    if ppm is None:
        return "—"
    first = outcomes[0] if outcomes else "P"
    return f"{first} {Decimal(ppm) / PPM:.3f}"


def outcome_label(outcomes: Sequence[str], outcome: int) -> str:
    if outcome == INVALID_OUTCOME:
        return "INVALID"
    return outcomes[outcome] if 0 <= outcome < len(outcomes) else f"outcome {outcome}"


def eth_label(wei: int) -> str:
    text = f"{Decimal(wei) / WEI:.6f}".rstrip("0").rstrip(".")
    return f"{text} ETH"


def iso(ts: int | float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_id(value: str, field: str = "market_id") -> str:
    """A market or model id from a URL: 0x + 64 hex digits (lowercased), else FieldError naming `field`."""
    v = value.lower()
    if not _MARKET_ID.match(v):
        raise FieldError(field, "expected 0x followed by 64 hex digits")
    return v


check_market_id = check_id


def check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise FieldError("address", "expected 0x followed by 40 hex digits")
    return value.lower()


# ------------------------------------------------------------------------------------ states
@dataclass(frozen=True)
class MarketFacts:
    """What a market's state is decided from: the chain's clock and what the chain holds."""

    now: int
    close_at: int
    resolve_at: int
    outcome: int | None  # the on-chain resolution's outcome; None while unresolved
    expired: bool  # BinaryMarket: stakes refundable (no resolution in time)
    court: str | None = None  # DisputeCourt.stateOf once a resolution is recorded (None: no court)


@dataclass(frozen=True)
class MarketState:
    key: str
    label: str


# The most advanced state first; the first that holds is the market's. A quorum's resolution is
# proposed, disputable through its window (or disputed), then final: the dispute court says which.
STATES: tuple[tuple[str, str, Callable[[MarketFacts], bool]], ...] = (
    ("invalid", "Invalid", lambda f: f.court == "invalid" or (f.court is None and f.outcome == INVALID_OUTCOME)),
    ("resolved", "Final", lambda f: f.court == "final" or (f.court is None and f.outcome is not None)),
    ("disputed", "Disputed (awaiting a ruling)", lambda f: f.court == "disputed"),
    ("proposed", "Proposed (dispute window open)", lambda f: f.court == "proposed"),
    ("expired", "Expired (stakes refundable)", lambda f: f.expired),
    ("awaiting_evidence", "Awaiting evidence", lambda f: f.now >= f.resolve_at),
    ("trading_closed", "Trading closed", lambda f: f.now >= f.close_at),
    ("trading_open", "Trading open", lambda f: True),
)


def market_state(facts: MarketFacts) -> MarketState:
    key, label, _ = next(s for s in STATES if s[2](facts))
    return MarketState(key, label)


# ------------------------------------------------------------------------------------ logs
def _hex(b: Any) -> str:
    return "0x" + bytes(b).hex()


@dataclass(frozen=True)
class Posted:
    """One forecast round (`ForecastPosted`) or resolution (`Resolved`) as the oracle logged it."""

    market_id: str
    round: int
    probability_ppm: int
    model_id: str
    inputs_hash: str
    proof_hash: str
    signers: tuple[str, ...]
    tx_hash: str
    block: int
    outcome: int | None = None  # None: a forecast


def _posted(log: Any, *, final: bool) -> Posted:
    a = log["args"]
    return Posted(_hex(a["marketId"]), a["round"], a["probabilityPpm"], _hex(a["modelId"]), _hex(a["inputsHash"]),
                  _hex(a["proofHash"]), tuple(a["signers"]), _hex(log["transactionHash"]), log["blockNumber"],
                  a["outcome"] if final else None)


class ExplorerData:
    """Every question the explorer's pages and API ask, answered from one deployment and one store.
    Logs are followed incrementally (one cursor); answers that cannot change (a resolved market's
    verification, evidence, block times) are kept."""

    def __init__(self, dep: Deployment, store, *, state=None, load_data: Callable[[dict], Any] | None = None,
                 more_stores: Sequence[Any] = ()):
        """`more_stores`: further stores to look in (a devnet's other provers): a market's proof
        bundle, snapshot and model record are read, and re-verified, from the store that holds it."""
        self.dep = dep
        self.chain = dep.chain
        self.store = store
        self.stores = [store, *more_stores]
        self.state = state  # oracle.state.LocalState of the node, when there is one
        self.load_data = load_data
        self._lock = threading.RLock()
        self._scanned = dep.from_block - 1
        self._registered: dict[str, Any] = {}  # market id -> RegisteredEvent, in registration order
        self._forecasts: dict[str, list[Posted]] = {}
        self._resolved: dict[str, Posted] = {}
        self._deposits: dict[str, list[dict]] = {}
        self._redeemed: dict[str, list[dict]] = {}
        self._slashed: dict[str, list[dict]] = {}  # validator (lowercase) -> its Slashed logs
        self.staking = None  # oracle.staking.Staking, when the deployment bonds its validators
        if dep.addresses.get("ValidatorStaking"):
            from oracle.staking import Staking

            self.staking = Staking.of(dep)
        self._specs: dict[str, Any] = {}
        self._records: dict[str, Any] = {}  # MarketRegistry records never change once registered
        self._times: dict[int, int] = {}
        self._sets: dict[int, tuple[list[str], int]] = {}
        self._verdicts: dict[tuple[str, str], dict] = {}
        self._evidence: dict[tuple[str, Any], dict] = {}

    # ------------------------------------------------------------------ following the chain
    def _scan(self) -> int:
        """Read the logs of blocks not read yet; the latest block number."""
        latest = self.chain.block_number()
        if latest <= self._scanned:
            return latest
        lo = self._scanned + 1
        for e in self.dep.registered_events(lo, latest):
            self._registered.setdefault(e.market_id, e)
        for log in self.chain.logs(self.dep.oracle.events.ForecastPosted(), from_block=lo, to_block=latest):
            p = _posted(log, final=False)
            self._forecasts.setdefault(p.market_id, []).append(p)
        for log in self.chain.logs(self.dep.oracle.events.Resolved(), from_block=lo, to_block=latest):
            p = _posted(log, final=True)
            self._resolved.setdefault(p.market_id, p)
        for log in self.chain.logs(self.dep.market.events.Deposited(), from_block=lo, to_block=latest):
            a = log["args"]
            self._deposits.setdefault(_hex(a["marketId"]), []).append(
                {"account": a["account"], "outcome": a["outcome"], "wei": a["amount"],
                 "tx_hash": _hex(log["transactionHash"]), "block": log["blockNumber"]})
        for log in self.chain.logs(self.dep.market.events.Redeemed(), from_block=lo, to_block=latest):
            a = log["args"]
            self._redeemed.setdefault(_hex(a["marketId"]), []).append(
                {"account": a["account"], "wei": a["amount"], "tx_hash": _hex(log["transactionHash"]),
                 "block": log["blockNumber"]})
        if self.staking is not None:
            for log in self.chain.logs(self.staking.contract.events.Slashed(), from_block=lo, to_block=latest):
                a = log["args"]
                self._slashed.setdefault(a["validator"].lower(), []).append(
                    {"reporter": a["reporter"], "wei": a["amount"], "label": eth_label(a["amount"]),
                     "reward_wei": a["reward"], "evidence": _hex(a["evidence"]),
                     "tx_hash": _hex(log["transactionHash"]), "block": log["blockNumber"]})
        self._scanned = latest
        return latest

    def _block_time(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = self.chain.read("block", lambda: self.chain.w3.eth.get_block(block)["timestamp"])
        return self._times[block]

    def _set_at(self, block: int) -> tuple[list[str], int]:
        """(members, threshold) in force when a transaction of `block` executed."""
        if block not in self._sets:
            self._sets[block] = self.dep.validator_set_at(block - 1)
        return self._sets[block]

    def _record(self, market_id: str):
        if market_id not in self._records:
            self._records[market_id] = self.dep.get_market(market_id)
        return self._records[market_id]

    def _spec(self, spec_hash: str):
        """The market's spec from this home's store (None when the store does not hold it)."""
        if spec_hash not in self._specs:
            from markets.spec import MarketSpec

            try:
                held = next((s for s in self.stores if s.has(spec_hash)), self.store)
                self._specs[spec_hash] = MarketSpec.parse(json.loads(held.get(spec_hash)))
            except (NotFound, OracleError, ValueError):
                return None
        return self._specs[spec_hash]

    # ------------------------------------------------------------------ the whole chain
    def status(self) -> dict[str, Any]:
        """What the page polls: a new `version` means something may have changed."""
        with self._lock:
            block = self._scan()
            now = self._block_time(block)
            return {"block": block, "chain_time": now, "chain_time_label": iso(now), "chain_id": self.chain.chain_id,
                    "oracle": self.dep.oracle.address, "markets": len(self._registered),
                    "resolved": len(self._resolved),
                    "forecasts": sum(len(v) for v in self._forecasts.values()), "version": f"{block}"}

    def markets(self) -> list[dict[str, Any]]:
        with self._lock:
            block = self._scan()
            now = self._block_time(block)
            return [self._summary(mid, now) for mid in reversed(list(self._registered))]

    def _summary(self, market_id: str, now: int) -> dict[str, Any]:
        ev = self._registered[market_id]
        rec = self._record(market_id)
        spec = self._spec(rec.spec_hash)
        outcomes = list(spec.outcomes) if spec else [f"outcome {i}" for i in range(rec.outcome_count)]
        resolved = self._resolved.get(market_id)
        try:
            expired = self.dep.expired(market_id)
        except ChainError:
            expired = False
        court = self._court(market_id) if resolved else None
        outcome = resolved.outcome if resolved else None
        if court is not None and court.get("outcome") is not None:
            outcome = court["outcome"]  # a ruling's outcome, when it overturned the proposal
        elif court is not None and court["state"] == "invalid":
            outcome = INVALID_OUTCOME
        state = market_state(MarketFacts(now, rec.close_at, rec.resolve_at, outcome, expired,
                                         court["state"] if court else None))
        forecasts = self._forecasts.get(market_id, [])
        latest = forecasts[-1] if forecasts else None
        return {
            "market_id": market_id, "question": spec.question if spec else None,
            "spec_in_store": spec is not None, "outcomes": outcomes,
            "state": {"key": state.key, "label": state.label},
            "close_at": rec.close_at, "close_at_label": iso(rec.close_at),
            "resolve_at": rec.resolve_at, "resolve_at_label": iso(rec.resolve_at),
            "creator": rec.creator, "quorum": rec.quorum, "spec_hash": rec.spec_hash,
            "resolver": rec.model_id, "forecaster": None if rec.forecaster_id == ZERO32 else rec.forecaster_id,
            "registered_block": ev.block,
            "outcome": outcome,
            "outcome_label": None if outcome is None else outcome_label(outcomes, outcome)
            + (" (proposed)" if state.key in ("proposed", "disputed") else ""),
            "court": court,
            "latest_forecast_ppm": latest.probability_ppm if latest else None,
            "latest_forecast_label": probability_label(outcomes, latest.probability_ppm) if latest else None,
            "forecast_count": len(forecasts),
        }

    def _court(self, market_id: str) -> dict[str, Any]:
        """The dispute court's view of a recorded resolution: state, window end, case, fees (labels too)."""
        court = self.dep.court
        doc = court.status(market_id)
        case = doc.pop("case")
        window_end = court.window_end(market_id)
        fees = doc["fees"]
        doc.setdefault("outcome", None)
        doc.update(window_ends_at=window_end, window_ends_label=iso(window_end),
                   final_at_label=iso(doc.get("final_at")),
                   case={**case, "bond_label": eth_label(case["bond_wei"]), "disputed_at_label": iso(case["disputed_at"]),
                         "settled_at_label": iso(case["settled_at"]) if case["settled_at"] else None}
                   if case["disputed_at"] else None,
                   fees={**fees, "pot_label": eth_label(fees["pot_wei"]), "paid_label": eth_label(fees["paid_wei"])})
        return doc

    # ------------------------------------------------------------------ one market
    def market(self, market_id: str) -> dict[str, Any]:
        market_id = check_market_id(market_id)
        with self._lock:
            block = self._scan()
            if market_id not in self._registered:
                raise NotFound(f"market {market_id} is not registered on this oracle's registry")
            now = self._block_time(block)
            doc = self._summary(market_id, now)
            spec = self._spec(doc["spec_hash"])
            outcomes = doc["outcomes"]
            doc["spec"] = spec.to_json() if spec else None
            doc["description"] = spec.description if spec else ""
            doc["kind"] = spec.kind if spec else None
            doc["deadline_label"] = iso(spec.deadline.timestamp()) if spec else None
            doc["forecasts"] = self._forecast_rows(market_id, spec, outcomes)
            doc["resolution"] = self._resolution(market_id, outcomes)
            doc["evidence"] = self._evidence_of(market_id, spec, doc["state"]["key"], block)
            doc["proof"] = self._proof(market_id, doc["resolution"])
            # consumers pay on final only: a proposal in its window (or disputed) pays nothing yet
            doc["payouts"] = self._payouts(market_id, outcomes, doc["state"]["key"] in ("resolved", "invalid"))
            doc["rounds"] = [r.__dict__ for r in self.state.rounds(market_id)] if self.state else None
            return doc

    def _forecast_rows(self, market_id: str, spec, outcomes: list[str]) -> list[dict[str, Any]]:
        as_of = {}
        if spec is not None:
            as_of = {r.index: str(r.features.as_of.date()) for r in spec.rounds() if not r.final}
        rows = []
        for p in self._forecasts.get(market_id, []):
            t = self._block_time(p.block)
            rows.append({"round": p.round, "as_of": as_of.get(p.round), "probability_ppm": p.probability_ppm,
                         "probability": p.probability_ppm / PPM,
                         "label": probability_label(outcomes, p.probability_ppm), "model_id": p.model_id,
                         "proof_hash": p.proof_hash, "signers": list(p.signers), "tx_hash": p.tx_hash,
                         "block": p.block, "time": t, "time_label": iso(t)})
        return rows

    def _resolution(self, market_id: str, outcomes: list[str]) -> dict[str, Any] | None:
        p = self._resolved.get(market_id)
        if p is None:
            return None
        rec = self.dep.resolution_of(market_id)
        members, threshold = self._set_at(p.block)
        signed = {s.lower() for s in p.signers}
        try:
            function = self.dep.settlement_call(p.tx_hash).function
        except NotFound:
            function = None
        t = self._block_time(p.block)
        return {"round": p.round, "outcome": p.outcome, "outcome_label": outcome_label(outcomes, p.outcome),
                "probability_ppm": p.probability_ppm, "model_id": p.model_id, "inputs_hash": p.inputs_hash,
                "proof_hash": p.proof_hash, "tx_hash": p.tx_hash, "block": p.block, "time": t, "time_label": iso(t),
                "function": function, "submitter": rec.submitter, "signers": list(p.signers),
                "threshold": threshold,
                "validators": [{"address": m, "signed": m.lower() in signed} for m in members]}

    def _holding(self, market_id: str, proof_hash: str):
        """The store holding the market's bundle for `proof_hash` (the first store if none does)."""
        for store in self.stores:
            try:
                store.ref(BUNDLE_BY_PROOF, bundle_ref(proof_hash, market_id))
                return store
            except (NotFound, OracleError):
                continue
        return self.store

    def _bundle(self, market_id: str, proof_hash: str) -> ProofBundle | None:
        try:
            store = self._holding(market_id, proof_hash)
            return ProofBundle.from_json(store.get_json(store.ref(BUNDLE_BY_PROOF, bundle_ref(proof_hash, market_id))))
        except (NotFound, OracleError, ValueError):
            return None

    def _proof(self, market_id: str, resolution: dict | None) -> dict[str, Any] | None:
        if resolution is None:
            return None
        doc: dict[str, Any] = {"model_id": resolution["model_id"], "proof_hash": resolution["proof_hash"],
                               "inputs_hash": resolution["inputs_hash"], "model_name": None, "vk_hashes": [],
                               "bundle_hash": None, "prover": None, "no_proof": resolution["proof_hash"] == NO_PROOF}
        try:
            from oracle.models import load_model

            record = load_model(self._holding(market_id, resolution["proof_hash"]), resolution["model_id"])
            doc["model_name"] = record.name
            doc["vk_hashes"] = [{"batch": c.batch, "vk": c.vk} for c in record.circuits]
        except OracleError:
            pass
        bundle = self._bundle(market_id, resolution["proof_hash"])
        if bundle is not None:
            doc["bundle_hash"], doc["prover"] = bundle.bundle_hash, bundle.prover
        return doc

    def _evidence_of(self, market_id: str, spec, state: str, block: int) -> dict[str, Any]:
        """The value the proof used (the data snapshot's medians) and what each source reads (read
        here, as of the chain's clock): kept once resolved, re-read per block while awaited."""
        if spec is None:
            return {"used": None, "observations": [], "note": "the spec is not in this home's store"}
        recorded = ("resolved", "invalid", "proposed", "disputed")
        if state not in (*recorded, "awaiting_evidence", "expired"):
            return {"used": None, "observations": [], "note": "the evidence cannot exist before the market's window"}
        key = (market_id, "final" if state in recorded else block)
        if key in self._evidence:
            return self._evidence[key]
        doc: dict[str, Any] = {"used": None, "observations": [], "note": None}
        p = self._resolved.get(market_id)
        bundle = self._bundle(market_id, p.proof_hash) if p else None
        if bundle is not None:
            try:
                snap = json.loads(self._holding(market_id, p.proof_hash).get(bundle.data_snapshot))
                doc["used"] = {"bars": snap.get("bars", []),
                               "medians": [{"series": m[0], "bar": m[1], "field": m[2], "value": m[3]}
                                           for m in snap.get("medians", [])]}
            except (NotFound, OracleError, ValueError, TypeError, IndexError):
                doc["note"] = f"data snapshot {bundle.data_snapshot} is not in this home's store"
        if self.load_data is not None:
            from markets.evidence import gather

            try:
                evidence = gather(spec, self.load_data, datetime.fromtimestamp(self._block_time(block), timezone.utc))
                doc["observations"] = [o.to_json() for o in evidence.observations]
            except OracleError as e:
                doc["note"] = (doc["note"] + "; " if doc["note"] else "") + f"sources: {e}"
        for stale in [k for k in self._evidence if k[0] == market_id and k[1] != "final"]:
            del self._evidence[stale]  # an awaited market's reading of an earlier block
        self._evidence[key] = doc
        return doc

    def _payouts(self, market_id: str, outcomes: list[str], resolved: bool) -> dict[str, Any]:
        pools = self.dep.pools(market_id)
        deposits = self._deposits.get(market_id, [])
        accounts = sorted({d["account"] for d in deposits})
        rows = []
        for a in accounts:
            payout = self.dep.payout_of(market_id, a)
            staked = sum(d["wei"] for d in deposits if d["account"] == a)
            rows.append({"account": a, "staked_wei": staked, "staked_label": eth_label(staked),
                         "payout_wei": payout, "payout_label": eth_label(payout)})
        redeemed = [{**r, "label": eth_label(r["wei"])} for r in self._redeemed.get(market_id, [])]
        return {"pools": [{"outcome": i, "outcome_label": outcome_label(outcomes, i), "wei": w, "label": eth_label(w)}
                          for i, w in enumerate(pools)],
                "deposits": [{**d, "outcome_label": outcome_label(outcomes, d["outcome"]), "label": eth_label(d["wei"])}
                             for d in deposits],
                "accounts": rows, "redeemed": redeemed, "final": resolved}

    def verification(self, market_id: str) -> dict[str, Any]:
        """`oracle verify`'s verdict (validators.audit.Auditor, the same checks), kept per settlement."""
        market_id = check_market_id(market_id)
        with self._lock:
            self._scan()
            if market_id not in self._registered:
                raise NotFound(f"market {market_id} is not registered on this oracle's registry")
            p = self._resolved.get(market_id)
            if p is None:
                return {"market_id": market_id, "ok": None, "checks": [], "note": "not resolved yet"}
            key = (market_id, p.tx_hash)
            if key not in self._verdicts:
                store = self._holding(market_id, p.proof_hash)
                self._verdicts[key] = Auditor(self.dep, store, self.load_data).verify(market_id).to_json()
            return self._verdicts[key]

    # ------------------------------------------------------------------ models
    def models(self) -> list[dict[str, Any]]:
        """Every model the chain's markets name (resolvers and forecasters), with this store's records."""
        with self._lock:
            self._scan()
            ids: dict[str, set[str]] = {}
            for mid in self._registered:
                rec = self._record(mid)
                ids.setdefault(rec.model_id, set()).add("resolver")
                if rec.forecaster_id != ZERO32:
                    ids.setdefault(rec.forecaster_id, set()).add("forecaster")
            return [{"model_id": m, "roles": sorted(r), "name": self._record_name(m)} for m, r in ids.items()]

    def _model_record(self, model_id: str):
        from oracle.models import load_model

        for store in self.stores:
            try:
                return load_model(store, model_id)
            except OracleError:
                continue
        return None

    def _record_name(self, model_id: str) -> str | None:
        record = self._model_record(model_id)
        return record.name if record else None

    def model(self, model_id: str) -> dict[str, Any]:
        """A model's record and public track record: every scored market (its forecasts against the
        resolution) in resolution order, with the running Brier score and log loss."""
        model_id = check_id(model_id, "model_id")
        with self._lock:
            self._scan()
            found = self._model_record(model_id)
            record = found.to_json() if found else None
            forecast_markets, resolved_markets, scored = [], [], []
            for mid in self._registered:
                rec = self._record(mid)
                spec = self._spec(rec.spec_hash)
                question = spec.question if spec else None
                res = self._resolved.get(mid)
                if rec.model_id == model_id and res is not None:
                    outcomes = list(spec.outcomes) if spec else []
                    resolved_markets.append({"market_id": mid, "question": question, "block": res.block,
                                             "outcome_label": outcome_label(outcomes, res.outcome)})
                if rec.forecaster_id != model_id:
                    continue
                posted = [p for p in self._forecasts.get(mid, []) if p.model_id == model_id]
                forecast_markets.append({"market_id": mid, "question": question, "forecasts": len(posted)})
                if res is None or res.outcome == INVALID_OUTCOME or not posted:
                    continue
                ps = [p.probability_ppm / PPM for p in posted]
                ys = [int(res.outcome == 0)] * len(ps)  # a forecast is the probability of the first outcome
                scored.append({"market_id": mid, "question": question, "n": len(ps), "brier": brier(ps, ys),
                               "log_loss": log_loss(ps, ys), "time": self._block_time(res.block), "block": res.block})
            scored.sort(key=lambda s: (s["block"], s["market_id"]))
            n = b = ll = 0.0
            for s in scored:
                n += s["n"]
                b += s["brier"] * s["n"]
                ll += s["log_loss"] * s["n"]
                s.update(cumulative_brier=b / n, cumulative_log_loss=ll / n, time_label=iso(s["time"]))
            return {"model_id": model_id, "record": record, "forecast_markets": forecast_markets,
                    "resolved_markets": resolved_markets, "scored": scored,
                    "brier": scored[-1]["cumulative_brier"] if scored else None,
                    "log_loss": scored[-1]["cumulative_log_loss"] if scored else None, "forecasts": int(n)}

    # ------------------------------------------------------------------ validators
    def validators(self) -> list[dict[str, Any]]:
        """The current set, and everyone who was a member at any settlement, with signed / missed counts."""
        with self._lock:
            self._scan()
            current = self.dep.validators()

            def row(a: str, now: bool) -> dict[str, Any]:
                return {"address": a, "current": now, "signed": 0, "missed": 0,
                        "slashed": len(self._slashed.get(a.lower(), [])), "bond": self._bond(a)}

            rows = {a.lower(): row(a, True) for a in current}
            for duty in self._duties():
                for m in duty["members"]:
                    r = rows.setdefault(m.lower(), row(m, False))
                    r["signed" if m.lower() in duty["signed"] else "missed"] += 1
            for a, logs in self._slashed.items():  # slashed before any duty of theirs was posted
                rows.setdefault(a, row(self.chain.w3.to_checksum_address(a), False))
            return list(rows.values())

    def _bond(self, address: str) -> dict[str, Any] | None:
        """The validator's bond (staking deployments only): amount, label and status."""
        if self.staking is None:
            return None
        b = self.staking.bond_of(self.chain.w3.to_checksum_address(address))
        return {"wei": b.bond, "label": eth_label(b.bond), "status": b.status}

    def _duties(self) -> list[dict[str, Any]]:
        """Every posted round: who was in the set then and who signed it."""
        out = []
        posted = [p for ps in self._forecasts.values() for p in ps] + list(self._resolved.values())
        for p in sorted(posted, key=lambda p: (p.block, p.market_id, p.round)):
            members, _ = self._set_at(p.block)
            out.append({"posted": p, "members": members, "signed": {s.lower() for s in p.signers}})
        return out

    def validator(self, address: str) -> dict[str, Any]:
        address = check_address(address)
        with self._lock:
            self._scan()
            rows = []
            for duty in self._duties():
                if address not in {m.lower() for m in duty["members"]}:
                    continue
                p = duty["posted"]
                rows.append({"market_id": p.market_id, "round": p.round,
                             "kind": "forecast" if p.outcome is None else "resolution",
                             "signed": address in duty["signed"], "tx_hash": p.tx_hash, "block": p.block,
                             "time_label": iso(self._block_time(p.block))})
            current = address in {a.lower() for a in self.dep.validators()}
            return {"address": address, "current": current, "duties": rows,
                    "signed": sum(r["signed"] for r in rows), "missed": sum(not r["signed"] for r in rows),
                    "slashes": list(self._slashed.get(address, [])), "bond": self._bond(address)}
