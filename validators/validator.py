"""The validator role: every check, in order, then an EIP-712 signature.

A validator never runs the model. It trusts nothing the prover says about
inputs or outputs: it reads them from the proof's public instances (which
verify binds), recomputes the inputs from data it loaded itself, and applies
the market's rule. The first failing check is recorded with its reason and
nothing is signed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable, Sequence

import ezkl
import pandas as pd

from markets.evidence import gather
from markets.features import LookAheadError
from oracle.batch import leaf
from oracle.bundle import ProofBundle
from oracle.canonical import keccak_hex
from oracle.eip712 import Domain, Resolution, digest, prover_credit_signable, signable
from oracle.errors import CheckFailed, DataError, OracleError
from oracle.models import ModelRecord, inputs_hash, load_model
from oracle.signer import Signer
from oracle.store import ArtifactStore

from .checks import check_features, check_input_opening, check_zk_rule, rule_decision
from .verifier import ProofVerifier
from .votes import BlsVote, Refusal, Review, Vote


class Validator:
    def __init__(
        self,
        signer: Signer,
        store: ArtifactStore,
        domain: Domain,
        load_data: Callable[[dict], pd.DataFrame],
        *,
        registry=None,
        bls_key=None,
        clock=None,
        court_domain: Domain | None = None,
    ):
        """`load_data(source)` fetches the market's data independently of any prover.

        `registry`, when given, is a Deployment: the market must be registered
        on-chain with this spec hash and model.
        """
        self.signer = signer
        self.store = store
        self.domain = domain
        self.load_data = load_data
        self.registry = registry
        self.verifier = ProofVerifier(store)
        self.refusals: list[Refusal] = []
        self.bls_key = bls_key  # oracle.bls.BlsKey: signs batch roots for aggregate settlement
        # the oracle's clock, which decides whether evidence exists yet: the chain's when there is one
        self.clock = clock or ((lambda: datetime.fromtimestamp(registry.chain.timestamp(), timezone.utc))
                               if registry is not None else (lambda: datetime.now(timezone.utc)))
        self.deviations: list[dict] = []  # sources off the median, per reviewed round (reported, not counted)
        self._endorsed: set[bytes] = set()  # leaves (struct hashes) of resolutions this validator signed
        # the dispute court's domain: a final round's vote also credits the bundle's prover (its fee)
        court = getattr(registry, "court", None) if court_domain is None else None
        self.court_domain = court_domain or (court.domain if court is not None else None)

    @property
    def address(self) -> str:
        return self.signer.address

    def review(self, spec, bundle: ProofBundle) -> Review:
        checks: list[str] = []
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            resolution = self._check(spec, bundle, checks, timings)
        except CheckFailed as e:
            refusal = Refusal(self.address, bundle.market_id, bundle.round, e.check, e.reason)
            self.refusals.append(refusal)
            return Review(None, refusal, checks, timings)
        sig = self.signer.sign_message(signable(self.domain, resolution))
        if resolution.final:  # only a final round may go into a BLS-signed batch root
            self._endorsed.add(leaf(resolution))
        credit = {}
        if resolution.final and self.court_domain is not None:
            # the prover is the bundle's signer (check 1): the credit names whoever made this proof
            credit = {"prover": bundle.prover, "prover_credit": self.signer.sign_message(
                prover_credit_signable(self.court_domain, resolution.market_id, resolution.proof_hash, bundle.prover))}
        vote = Vote(self.address, resolution, digest(self.domain, resolution), sig, tuple(checks),
                    time.perf_counter() - t0, **credit)
        return Review(vote, None, checks, timings)

    def sign_batch_bls(self, resolutions: Sequence[Resolution]):
        """BLS-sign the batch root over `resolutions`, each of which this validator reviewed and
        signed itself: a root is never signed on an aggregator's word."""
        from oracle.batch import batch_digest, merkle_root

        if self.bls_key is None:
            raise OracleError(f"validator {self.address} has no BLS key")
        forecasts = [r.market_id for r in resolutions if not r.final]
        if forecasts:
            raise OracleError(f"validator {self.address} BLS-signs final rounds only; forecast rounds: {forecasts}")
        leaves = [leaf(r) for r in resolutions]
        unseen = [r.market_id for r, lf in zip(resolutions, leaves) if lf not in self._endorsed]
        if unseen:
            raise OracleError(f"validator {self.address} did not sign these resolutions itself: {unseen}")
        root = merkle_root(leaves)
        return BlsVote(self.address, root, len(leaves),
                       self.bls_key.sign(batch_digest(self.domain, root, len(leaves))))

    def _check(self, spec, bundle: ProofBundle, checks: list[str], timings: dict[str, float]) -> Resolution:
        clock = [time.perf_counter()]

        def passed(name: str) -> None:
            now = time.perf_counter()
            timings[name] = now - clock[0]
            clock[0] = now
            checks.append(name)

        # 1. the bundle is what its prover signed
        try:
            prover = bundle.recover_prover()
        except Exception as e:
            raise CheckFailed("prover-signature", f"unreadable signature: {e}") from None
        if prover != bundle.prover:
            raise CheckFailed("prover-signature", f"signed by {prover}, bundle claims {bundle.prover}")
        passed("prover-signature")

        # 2. the bundle is about this market, and the market is the registered one, registered
        # before anything about its outcome existed
        if bundle.market_id != spec.market_id:
            raise CheckFailed("market", f"bundle is for {bundle.market_id}, spec hashes to {spec.market_id}")
        try:
            market_round = spec.round(bundle.round)
        except OracleError as e:
            raise CheckFailed("market", str(e)) from None
        if self.registry is not None:
            onchain = self.registry.registered_market(spec.market_id)
            if onchain is None:
                raise CheckFailed("market", f"market {spec.market_id} is not registered on-chain")
            if onchain.spec_hash != spec.spec_hash or onchain.model_id != spec.model:
                raise CheckFailed("market", "on-chain registration does not match the spec")
            registered = onchain.registered_at
            if registered >= spec.window_open.timestamp():
                raise CheckFailed("market", f"registered at {registered}, after its observation window opened "
                                  f"({int(spec.window_open.timestamp())}): its outcome could be known at registration")
        passed("market")

        # 3. the model is the round's model (the forecaster, or the resolver for the final round),
        # its artifacts hash to its id, the bundle fits it
        if bundle.model_id != market_round.model:
            raise CheckFailed("model", f"bundle claims model {bundle.model_id}, round {bundle.round} requires "
                              f"{market_round.model}")
        try:
            record: ModelRecord = load_model(self.store, market_round.model)
            circuit = record.circuit(bundle.batch_size)
            values = record.row(list(bundle.instances[0]), list(bundle.input_preimage),
                                bundle.batch_size, bundle.batch_row)
        except OracleError as e:
            raise CheckFailed("model", str(e)) from None
        if record.recipe != market_round.recipe:
            raise CheckFailed("model", f"model expects recipe {record.recipe}, the round uses {market_round.recipe}")
        if len(bundle.inputs) != record.n_inputs or len(bundle.outputs) != record.n_outputs:
            raise CheckFailed("model", f"bundle has {len(bundle.inputs)}+{len(bundle.outputs)} values, model "
                              f"takes {record.n_inputs} inputs and gives {record.n_outputs} outputs")
        if record.param_visibility == "hashed" and values.params_commitment != circuit.params_hash:
            raise CheckFailed("model", "the proof commits to other weights than the registered model's")
        passed("model")

        # 4. the proof verifies with vk + settings + SRS only (once per batch)
        self.verifier.verify(bundle, circuit)
        passed("proof")

        # 5. the readable numbers are the proven ones; hashed inputs open to their commitment
        check_input_opening(record, bundle.input_preimage, values)
        scales = [circuit.input_scale] * record.n_inputs + [circuit.output_scale] * record.n_outputs
        for i, (v, f, scale) in enumerate(zip(bundle.inputs + bundle.outputs, values.inputs + values.outputs, scales)):
            if abs(v - ezkl.felt_to_float(f, scale)) > 1e-12:
                raise CheckFailed("instances", f"value {i} reads {v}, the proof says {ezkl.felt_to_float(f, scale)}")
        passed("instances")

        # 6. the proven inputs are this market's data (the evidence from every source, for the final
        # round), recomputed here
        try:
            if market_round.final:
                evidence = gather(spec, self.load_data, self.clock())
                features, snapshot, rows = evidence.features, evidence.snapshot(), f"evidence {evidence.bars}"
                if evidence.deviants:
                    self.deviations.append({"market": spec.market_id, "round": bundle.round,
                                            "sources": evidence.deviants})
            else:
                now = self.clock()
                if now.timestamp() < market_round.due_at:  # its as_of day is not over: no look-ahead
                    raise CheckFailed("inputs", f"too early: forecast round {bundle.round} is due at "
                                      f"{market_round.due_at}, the chain's clock reads {int(now.timestamp())}")
                features, snapshot, rows = spec.forecast.load_inputs(self.load_data, market_round.features)
        except (DataError, LookAheadError) as e:
            raise CheckFailed("inputs", f"cannot recompute the inputs: {e}") from None
        mine = keccak_hex(snapshot)
        if mine != bundle.data_snapshot:
            raise CheckFailed("data-snapshot", f"prover's data hashes to {bundle.data_snapshot}, "
                              f"this validator's {rows} to {mine}")
        passed("data-snapshot")
        check_features(features, values.inputs, circuit.input_scale)
        passed("inputs")

        # 7. output -> outcome by the market's shape (a forecast: the probability of its first answer);
        # for a zk market, the rule the contract enforces must be the spec's
        decision = rule_decision(spec, market_round, record, circuit, values.outputs)
        if market_round.final and self.registry is not None and self.registry.zk_required(spec.market_id):
            check_zk_rule(spec, self.registry.zk_rule_of(spec.market_id))
        passed("rule")
        return Resolution(
            market_id=spec.market_id,
            round=bundle.round,
            outcome=decision.outcome,
            probability_ppm=decision.probability_ppm,
            model_id=bundle.model_id,
            inputs_hash=inputs_hash(values.inputs),
            proof_hash=bundle.proof_hash,
            final=market_round.final,  # a forecast round is signed as a `Forecast`: it can never settle
        )
