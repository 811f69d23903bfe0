"""Re-verification by anyone: a resolution on-chain, re-checked from public artifacts.

Needs no private key, no GPU and no torch: the chain, the content-addressed
artifact store (spec, bundle, data snapshot, vk, settings, SRS) and ezkl
verify. Every check is listed with its verdict; the first failures say why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from markets.evidence import EvidenceMissing, gather
from markets.spec import MarketSpec
from oracle.batch import leaf, merkle_root
from oracle.bundle import BUNDLE_BY_PROOF, ProofBundle, bundle_ref
from oracle.deployment import resolution_from_abi
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import CheckFailed, NotFound, OracleError
from oracle.models import inputs_hash, load_model

from .checks import (check_batch_inclusion, check_batch_signatures, check_bls_aggregate, check_features,
                     check_input_opening, check_recorded_decision, check_signatures, rule_decision)
from .absence import NO_PROOF, absence_resolution
from .verifier import ProofVerifier

__all__ = ["Auditor", "Check", "Verdict", "check_signatures"]

# settlement functions whose `signatures` are EIP-712 signatures over the one resolution
SIGNED_PER_RESOLUTION = ("resolve", "resolveZk")
# settlement functions that record a whole batch; the quorum signs ResolutionBatch(root, count)
BATCH_SETTLEMENTS = ("resolveBatch", "resolveBatchBls")
# functions that accept a batch root (a `claim` then records one market from it), by quorum kind
ECDSA_ACCEPTANCES = ("acceptBatchRoot", "resolveBatch")
BLS_ACCEPTANCES = ("acceptBatchRootBls", "resolveBatchBls")


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


class Auditor:
    def __init__(self, deployment, store, load_data: Callable[[dict], Any] | None = None):
        self.dep = deployment
        self.store = store
        self.load_data = load_data

    def locate(self, market_or_tx: str) -> tuple[str, str | None]:
        """A market id, or the hash of the transaction that resolved one."""
        key = market_or_tx.lower()
        if self.dep.is_registered(key):
            return key, None
        try:
            market_id = self.dep.market_resolved_by(key)
        except NotFound:
            raise NotFound(f"{market_or_tx} is neither a registered market nor a known transaction") from None
        if market_id is None:
            raise NotFound(f"transaction {market_or_tx} resolved no market")
        return market_id, key

    def verify(self, market_or_tx: str) -> Verdict:
        market_id, _ = self.locate(market_or_tx)
        v = Verdict(market_id)
        ctx: dict[str, Any] = {}
        steps = [("resolution", self._resolution), ("spec", self._spec), ("model", self._model),
                 ("bundle", self._bundle), ("data-snapshot", self._snapshot), ("source", self._source),
                 ("proof", self._proof), ("rule", self._rule), ("signatures", self._signatures)]
        for name, step in steps:
            if ctx.get("absence") and name in ("bundle", "data-snapshot", "source", "proof", "rule"):
                if name == "bundle":  # INVALID by absence carries no proof: what it claims is checked instead
                    v.checks.append(self._absence(v, ctx))
                continue
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
        events = self.dep.resolved_events(v.market_id)
        if len(events) != 1:
            raise CheckFailed("resolution", f"expected one Resolved event, found {len(events)}")
        v.tx_hash, v.block = events[0].tx_hash, events[0].block
        return f"resolved in block {v.block} by tx {v.tx_hash}"

    def _spec(self, v: Verdict, ctx: dict) -> str:
        onchain = self.dep.get_market(v.market_id)
        try:
            spec = MarketSpec.parse(json.loads(self.store.get(onchain.spec_hash)))
        except NotFound:
            raise CheckFailed("spec", f"spec {onchain.spec_hash} is not in the artifact store") from None
        if spec.market_id != v.market_id:
            raise CheckFailed("spec", "the stored spec does not hash to this market id")
        final = spec.rounds()[-1].index
        if ctx["resolution"].round != final:
            raise CheckFailed("spec", f"the market was resolved by round {ctx['resolution'].round}, but its "
                              f"final round is {final}: an earlier round is a forecast, not a resolution")
        ctx["spec"], ctx["onchain"] = spec, onchain
        return f"spec {onchain.spec_hash} hashes to the market id; round {final} is its final round"

    def _absence(self, v: Verdict, ctx: dict) -> Check:
        """An INVALID-by-absence resolution: it must be exactly the absence resolution, signed no
        earlier than the market's deadline; whether the evidence is still missing is read live."""
        spec, r = ctx["spec"], ctx["resolution"]
        if r != absence_resolution(spec):
            return Check("absence", False, "a resolution without a proof must be the INVALID-by-absence one")
        at = self.dep.chain.read("block", lambda: self.dep.chain.w3.eth.get_block(v.block)["timestamp"])
        if at < spec.deadline.timestamp():
            return Check("absence", False, f"settled at {at}, before the market's deadline "
                                           f"({int(spec.deadline.timestamp())}): its evidence could still come")
        if self.load_data is None:
            return Check("absence", None, "INVALID by absence after the deadline; live sources not consulted")
        try:
            gather(spec, self.load_data, datetime.now(timezone.utc))
        except EvidenceMissing as e:
            return Check("absence", True, f"INVALID by absence after the deadline; the sources still lack it ({e})")
        except OracleError as e:
            return Check("absence", None, f"INVALID by absence after the deadline; live sources unavailable: {e}")
        return Check("absence", None, "INVALID by absence after the deadline; a source has published the evidence "
                                      "since (late data; the signers could not have seen it then)")

    def _model(self, v: Verdict, ctx: dict) -> str:
        r, spec, onchain = ctx["resolution"], ctx["spec"], ctx["onchain"]
        if not (r.model_id == spec.model == onchain.model_id):
            raise CheckFailed("model", f"resolution names {r.model_id}, spec {spec.model}, registry {onchain.model_id}")
        if r.proof_hash == NO_PROOF:
            ctx["absence"] = True
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
        check_input_opening(record, bundle.input_preimage, values)
        if inputs_hash(values.inputs) != r.inputs_hash:
            raise CheckFailed("bundle", "the proof's inputs do not hash to the resolution's inputsHash")
        ctx["bundle"], ctx["circuit"], ctx["values"] = bundle, circuit, values
        return f"bundle {bundle.bundle_hash[:12]}… matches proofHash and inputsHash"

    def _snapshot(self, v: Verdict, ctx: dict) -> str:
        bundle, circuit, values = ctx["bundle"], ctx["circuit"], ctx["values"]
        try:
            raw = self.store.get(bundle.data_snapshot)
        except NotFound:
            raise CheckFailed("data-snapshot", f"snapshot {bundle.data_snapshot} is not in the store") from None
        except OracleError as e:
            raise CheckFailed("data-snapshot", str(e)) from None
        try:
            doc = json.loads(raw)
            inputs, bars = [float(x) for x in doc["inputs"]], doc["bars"]
        except (ValueError, KeyError, TypeError):
            raise CheckFailed("data-snapshot", "the snapshot is not an evidence record") from None
        ctx["snapshot"] = raw
        check_features(inputs, values.inputs, circuit.input_scale, source="the snapshot")
        return f"the evidence record (bars {', '.join(bars)}) gives the proven inputs"

    def _source(self, v: Verdict, ctx: dict) -> Check:
        if self.load_data is None:
            return Check("source", None, "live sources not consulted (offline audit)")
        try:
            evidence = gather(ctx["spec"], self.load_data, datetime.now(timezone.utc))
        except OracleError as e:
            return Check("source", None, f"live evidence unavailable: {e}")
        if evidence.snapshot() != ctx["snapshot"]:
            raise CheckFailed("source", "the market's sources no longer give the evidence the proof used")
        off = "; ".join(f"{d['source']} {d['value']} vs median {d['median']}" for d in evidence.deviants)
        return Check("source", True, "the market's sources still give the proven evidence"
                     + (f" (off the median, not counted: {off})" if off else ""))

    def _proof(self, v: Verdict, ctx: dict) -> str:
        ProofVerifier(self.store).verify(ctx["bundle"], ctx["circuit"])
        return "ezkl verify: valid for this model's vk"

    def _rule(self, v: Verdict, ctx: dict) -> str:
        record, spec, r, circuit = ctx["record"], ctx["spec"], ctx["resolution"], ctx["circuit"]
        d = rule_decision(spec, spec.round(r.round), record, circuit, ctx["values"].outputs)
        check_recorded_decision(d, r)
        name = "INVALID" if r.outcome == INVALID_OUTCOME else spec.outcomes[r.outcome]
        return f"{spec.shape.kind} over the evidence -> {name}, as recorded"

    def _signatures(self, v: Verdict, ctx: dict) -> str:
        call = self.dep.settlement_call(v.tx_hash)
        r, quorum = ctx["resolution"], ctx["onchain"].quorum
        if call.function in SIGNED_PER_RESOLUTION:
            at = v.block - 1  # the validator set in force when the transaction executed
            members, t = self.dep.validator_set_at(at)
            needed = max(t, quorum)
            signers = check_signatures(self.dep.domain, r, call.args["signatures"], members, needed)
            return f"{len(signers)} distinct validators of the set at block {at} signed (needed {needed})"
        if call.function in BATCH_SETTLEMENTS:
            if r not in [resolution_from_abi(x) for x in call.args["rs"]]:
                raise CheckFailed("signatures", f"the {call.function} batch of tx {v.tx_hash} holds no resolution "
                                  "equal to this market's on-chain record")
            q = self._batch_quorum(call, v.block, quorum)
            return f"{q.describe()}; this market's resolution is one of the batch's {q.count}"
        if call.function == "claim":
            return self._claim(call, v, r, quorum)
        raise CheckFailed("signatures", f"tx {v.tx_hash} called {call.function}, which settles no market")

    def _batch_quorum(self, call, block: int, needed_quorum: int) -> "BatchQuorum":
        """Re-check the quorum a root-accepting call (`ECDSA_ACCEPTANCES`, `BLS_ACCEPTANCES`) carried against
        the set in force when it executed: max(t, `needed_quorum`) distinct members over
        ResolutionBatch(root, count)."""
        at = block - 1
        members, t = self.dep.validator_set_at(at)
        needed = max(t, needed_quorum)
        if call.function in BATCH_SETTLEMENTS:
            rs = [resolution_from_abi(x) for x in call.args["rs"]]
            if not rs:
                raise CheckFailed("signatures", f"{call.function} carries an empty batch")
            root, count = merkle_root([leaf(x) for x in rs]), len(rs)
        else:
            root, count = bytes(call.args["root"]), call.args["count"]
        if call.function in BLS_ACCEPTANCES:
            signers = check_bls_aggregate(self.dep.domain, root, count, call.args["signerBitmap"],
                                          bytes(call.args["publicKeys"]), bytes(call.args["signature"]), members,
                                          needed, self.dep.bls_keys_hash_at(at))
        else:
            signers = check_batch_signatures(self.dep.domain, root, count, call.args["signatures"], members, needed)
        return BatchQuorum(call.function, root, count, tuple(signers), needed, at)

    def _claim(self, call, v: Verdict, r, quorum: int) -> str:
        """A market recorded by `claim` from an accepted root: the inclusion proof, an acceptance of the
        root under the set still in force at the claim (else `SupersededRoot`), and its quorum."""
        if resolution_from_abi(call.args["r"]) != r:
            raise CheckFailed("signatures", f"the claim in tx {v.tx_hash} carries a resolution other than this "
                              "market's on-chain record")
        root = bytes(call.args["root"])
        root_hex = "0x" + root.hex()
        check_batch_inclusion(r, [bytes(p) for p in call.args["proof"]], root)
        claimed_at = self.dep.transaction_position(v.tx_hash)
        earlier = [e for e in self.dep.batch_accepted_events(root_hex, to_block=v.block)
                   if (e.block, e.tx_index) < claimed_at]
        if not earlier:
            raise CheckFailed("signatures", f"no transaction accepted batch root {root_hex} before the claim")
        # Epochs are read per block: the set in force when each transaction executed.
        epoch = self.dep.validator_epoch_at(v.block - 1)
        current = [e for e in earlier if self.dep.validator_epoch_at(e.block - 1) == epoch]
        if not current:
            raise CheckFailed("signatures", f"batch root {root_hex} was accepted only by a validator set replaced "
                              f"before the claim (epoch now {epoch}): the claim is against a superseded root")
        best: BatchQuorum | None = None
        for e in current:
            try:
                accepting = self.dep.settlement_call(e.tx_hash)
            except NotFound as err:
                raise CheckFailed("signatures", f"the acceptance of root {root_hex} in tx {e.tx_hash} cannot be "
                                  f"decoded: {err}") from None
            expected = BLS_ACCEPTANCES if e.bls else ECDSA_ACCEPTANCES
            if accepting.function not in expected:
                raise CheckFailed("signatures", f"tx {e.tx_hash} logged an acceptance of root {root_hex} but "
                                  f"called {accepting.function}")
            # each acceptance met the threshold; the market's quorum counts the best one (the contract keeps it)
            q = self._batch_quorum(accepting, e.block, 0)
            if (q.root, q.count) != (root, e.count):
                raise CheckFailed("signatures", f"tx {e.tx_hash} signs ResolutionBatch(0x{q.root.hex()}, {q.count}), "
                                  f"not the root {root_hex} it logged accepting")
            if best is None or len(q.signers) > len(best.signers):
                best = q
        needed = max(best.needed, quorum)
        if len(best.signers) < needed:
            raise CheckFailed("signatures", f"batch root {root_hex} was accepted by at most {len(best.signers)} "
                              f"validators, this market's quorum needs {needed}")
        return (f"claimed by inclusion in batch root {root_hex}; {best.describe(needed)}; "
                f"the root's validator set (epoch {epoch}) was still in force at the claim")


@dataclass(frozen=True)
class BatchQuorum:
    """A re-checked quorum over `ResolutionBatch(root, count)`: who signed, under which set."""

    function: str
    root: bytes
    count: int
    signers: tuple[str, ...]
    needed: int
    at_block: int

    def describe(self, needed: int | None = None) -> str:
        how = "a BLS aggregate of" if self.function in BLS_ACCEPTANCES else "ECDSA signatures of"
        return (f"{self.function}: {how} {len(self.signers)} distinct validators of the set at block "
                f"{self.at_block} over ResolutionBatch(0x{self.root.hex()}, {self.count}) "
                f"(needed {self.needed if needed is None else needed})")
