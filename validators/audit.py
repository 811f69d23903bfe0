"""Re-verification by anyone: a resolution on-chain, re-checked from public artifacts.

Needs no private key, no GPU and no torch: the chain, the content-addressed
artifact store (spec, bundle, data snapshot, vk, settings, SRS) and ezkl
verify. Every check is listed with its verdict; the first failures say why.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import ezkl
import pandas as pd

from markets.feeds import validate_frame
from markets.spec import MarketSpec
from oracle.bundle import ProofBundle
from oracle.canonical import to_bytes32
from oracle.eip712 import INVALID_OUTCOME, Domain, Resolution, recover
from oracle.errors import CheckFailed, NotFound, OracleError
from oracle.models import inputs_hash, load_model, output_probability

from .verifier import ProofVerifier

BUNDLE_BY_PROOF = "bundle-by-proof"


@dataclass
class Check:
    name: str
    ok: bool | None  # None: could not be run (e.g. the live source is unreachable)
    detail: str


@dataclass
class Verdict:
    market_id: str
    tx_hash: str | None = None
    block: int | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def to_json(self) -> dict[str, Any]:
        return {"market_id": self.market_id, "tx_hash": self.tx_hash, "block": self.block, "ok": self.ok,
                "checks": [c.__dict__ for c in self.checks]}


def bundle_ref(proof_hash: str, market_id: str) -> str:
    """One batched proof serves several markets: the reference names both."""
    return f"{proof_hash}-{market_id}"


def publish_bundle(store, bundle: ProofBundle) -> str:
    """Make a bundle findable from what a Resolution commits to (proof hash, market id)."""
    rid = store.put_json(bundle.to_json())
    store.set_ref(BUNDLE_BY_PROOF, bundle_ref(bundle.proof_hash, bundle.market_id), rid)
    return rid


def check_signatures(domain: Domain, resolution: Resolution, signatures: Sequence[bytes],
                     members: Sequence[str], needed: int) -> list[str]:
    """Recover every signer; all must be distinct members and at least `needed`. Returns the signers."""
    allowed = {m.lower() for m in members}
    signers: list[str] = []
    for i, sig in enumerate(signatures):
        try:
            who = recover(domain, resolution, bytes(sig))
        except Exception as e:
            raise CheckFailed("signatures", f"signature {i} is unreadable: {e}") from None
        if who.lower() not in allowed:
            raise CheckFailed("signatures", f"signature {i} is by {who}, not in the validator set at that block")
        if who in signers:
            raise CheckFailed("signatures", f"{who} signed twice")
        signers.append(who)
    if len(signers) < needed:
        raise CheckFailed("signatures", f"{len(signers)} distinct validators signed, {needed} needed")
    return signers


class Auditor:
    def __init__(self, deployment, store, load_data: Callable[[dict], pd.DataFrame] | None = None):
        self.dep = deployment
        self.store = store
        self.load_data = load_data

    def locate(self, market_or_tx: str) -> tuple[str, str | None]:
        """A market id, or the hash of the transaction that resolved one."""
        key = market_or_tx.lower()
        if self.dep.is_registered(key):
            return key, None
        try:
            receipt = self.dep.chain.w3.eth.get_transaction_receipt(key)
        except Exception:
            raise NotFound(f"{market_or_tx} is neither a registered market nor a known transaction") from None
        events = self.dep.oracle.events.Resolved().process_receipt(receipt)
        if not events:
            raise NotFound(f"transaction {market_or_tx} resolved no market")
        return "0x" + bytes(events[0]["args"]["marketId"]).hex(), key

    def verify(self, market_or_tx: str) -> Verdict:
        market_id, _ = self.locate(market_or_tx)
        v = Verdict(market_id)
        ctx: dict[str, Any] = {}
        steps = [("resolution", self._resolution), ("spec", self._spec), ("model", self._model),
                 ("bundle", self._bundle), ("data-snapshot", self._snapshot), ("source", self._source),
                 ("proof", self._proof), ("rule", self._rule), ("signatures", self._signatures)]
        for name, step in steps:
            try:
                detail = step(v, ctx)
                v.checks.append(Check(name, True, detail) if not isinstance(detail, Check) else detail)
            except CheckFailed as e:
                v.checks.append(Check(e.check if e.check == name else name, False, e.reason))
                break
            except OracleError as e:
                v.checks.append(Check(name, False, str(e)))
                break
        return v

    # ---------------------------------------------------------------- steps
    def _resolution(self, v: Verdict, ctx: dict) -> str:
        if not self.dep.is_resolved(v.market_id):
            raise CheckFailed("resolution", "the market has no resolution on-chain")
        rec = self.dep.resolution_of(v.market_id)
        ctx["resolution"] = rec.resolution
        logs = self.dep.oracle.events.Resolved().get_logs(
            from_block=self.dep.from_block, argument_filters={"marketId": to_bytes32(v.market_id)})
        if len(logs) != 1:
            raise CheckFailed("resolution", f"expected one Resolved event, found {len(logs)}")
        v.tx_hash = "0x" + bytes(logs[0]["transactionHash"]).hex()
        v.block = logs[0]["blockNumber"]
        return f"resolved in block {v.block} by tx {v.tx_hash}"

    def _spec(self, v: Verdict, ctx: dict) -> str:
        onchain = self.dep.get_market(v.market_id)
        try:
            spec = MarketSpec.parse(json.loads(self.store.get(onchain.spec_hash)))
        except NotFound:
            raise CheckFailed("spec", f"spec {onchain.spec_hash} is not in the artifact store") from None
        if spec.market_id != v.market_id:
            raise CheckFailed("spec", "the stored spec does not hash to this market id")
        ctx["spec"], ctx["onchain"] = spec, onchain
        return f"spec {onchain.spec_hash} hashes to the market id"

    def _model(self, v: Verdict, ctx: dict) -> str:
        r, spec, onchain = ctx["resolution"], ctx["spec"], ctx["onchain"]
        if not (r.model_id == spec.model == onchain.model_id):
            raise CheckFailed("model", f"resolution names {r.model_id}, spec {spec.model}, registry {onchain.model_id}")
        record = load_model(self.store, r.model_id)
        for c in record.circuits:
            c.paths(self.store)  # re-hash vk, settings, SRS
        ctx["record"] = record
        return (f"model {r.model_id[:12]}… ({record.name}, batches {record.batches}); vk, settings and SRS "
                f"({record.srs_kind}) match their hashes")

    def _bundle(self, v: Verdict, ctx: dict) -> str:
        r = ctx["resolution"]
        try:
            bundle = ProofBundle.from_json(self.store.get_json(
                self.store.ref(BUNDLE_BY_PROOF, bundle_ref(r.proof_hash, v.market_id))))
        except NotFound:
            raise CheckFailed("bundle", f"no proof bundle for proof hash {r.proof_hash} in the store") from None
        if bundle.proof_hash != r.proof_hash:
            raise CheckFailed("bundle", "the bundle's proof does not hash to the resolution's proofHash")
        if bundle.market_id != v.market_id or bundle.round != r.round:
            raise CheckFailed("bundle", "the bundle is for another market or round")
        record = ctx["record"]
        circuit = record.circuit(bundle.batch_size)
        values = record.row(list(bundle.instances[0]), list(bundle.input_preimage), bundle.batch_size,
                            bundle.batch_row)
        if record.input_visibility == "hashed" and \
                ezkl.poseidon_hash(list(bundle.input_preimage))[0] != values.input_commitment:
            raise CheckFailed("bundle", "the input preimage does not hash to the proof's commitment")
        if inputs_hash(values.inputs) != r.inputs_hash:
            raise CheckFailed("bundle", "the proof's inputs do not hash to the resolution's inputsHash")
        ctx["bundle"], ctx["circuit"], ctx["values"] = bundle, circuit, values
        return f"bundle {bundle.bundle_hash[:12]}… matches proofHash and inputsHash"

    def _snapshot(self, v: Verdict, ctx: dict) -> str:
        bundle, spec, circuit, values = ctx["bundle"], ctx["spec"], ctx["circuit"], ctx["values"]
        try:
            raw = self.store.get(bundle.data_snapshot)
        except NotFound:
            raise CheckFailed("data-snapshot", f"snapshot {bundle.data_snapshot} is not in the store") from None
        except OracleError as e:
            raise CheckFailed("data-snapshot", str(e)) from None
        fs = spec.round(bundle.round).features
        frame = validate_frame(pd.read_csv(io.BytesIO(raw)), [fs.column], origin="snapshot")
        ctx["snapshot_frame"] = frame
        features = fs.compute(frame)
        for i, x in enumerate(features):
            if ezkl.float_to_felt(x, circuit.input_scale, ezkl.PyInputType.F64) != values.inputs[i]:
                raise CheckFailed("data-snapshot", f"input {i} re-derived from the snapshot is {x:.6f}, "
                                  f"the proof has {ezkl.felt_to_float(values.inputs[i], circuit.input_scale)}")
        return f"{len(frame)} rows {frame.index[0].date()}..{frame.index[-1].date()} re-derive the proven inputs"

    def _source(self, v: Verdict, ctx: dict) -> Check:
        if self.load_data is None:
            return Check("source", None, "live source not consulted (offline audit)")
        spec, bundle = ctx["spec"], ctx["bundle"]
        fs = spec.round(bundle.round).features
        try:
            live = fs.window(self.load_data(spec.source))
        except OracleError as e:
            return Check("source", None, f"live source unavailable: {e}")
        snap = ctx["snapshot_frame"][fs.column]
        if list(live.index) != list(snap.index) or any(abs(a - b) > 1e-9 for a, b in zip(live[fs.column], snap)):
            raise CheckFailed("source", "the market's data source no longer matches the snapshot")
        return Check("source", True, "the market's data source still has the snapshot's rows")

    def _proof(self, v: Verdict, ctx: dict) -> str:
        ProofVerifier(self.store).verify(ctx["bundle"], ctx["circuit"])
        return "ezkl verify: valid for this model's vk"

    def _rule(self, v: Verdict, ctx: dict) -> str:
        record, spec, r, circuit = ctx["record"], ctx["spec"], ctx["resolution"], ctx["circuit"]
        probs = [float(output_probability(int(ezkl.felt_to_int(f)), circuit.output_scale, record.output_transform))
                 for f in ctx["values"].outputs]
        d = spec.rule.decide(probs, spec.outcomes)
        if (d.outcome, d.probability_ppm) != (r.outcome, r.probability_ppm):
            raise CheckFailed("rule", f"proof gives {d.outcome_name} at {d.probability_ppm} ppm, "
                              f"chain has outcome {r.outcome} at {r.probability_ppm} ppm")
        name = "INVALID" if r.outcome == INVALID_OUTCOME else spec.outcomes[r.outcome]
        return f"p = {d.probability:.6f} -> {name}, as recorded"

    def _signatures(self, v: Verdict, ctx: dict) -> str:
        tx = self.dep.chain.w3.eth.get_transaction(v.tx_hash)
        _, params = self.dep.oracle.decode_function_input(tx["input"])
        at = v.block - 1  # the validator set in force when the transaction executed
        members = self.dep.oracle.functions.validators().call(block_identifier=at)
        t = self.dep.oracle.functions.threshold().call(block_identifier=at)
        needed = max(t, ctx["onchain"].quorum)
        signers = check_signatures(self.dep.domain, ctx["resolution"], params["signatures"], members, needed)
        return f"{len(signers)} distinct validators of the set at block {at} signed (needed {needed})"
