"""INVALID by absence: the evidence never appeared by the market's deadline.

No circuit can prove that data is missing, so this resolution carries no proof (proofHash and
inputsHash zero): each validator signs it only after checking for itself, with its own reads of every
source and the chain's clock, that the deadline has passed and that the evidence is still not there.
A zk-required market cannot take it (resolveZk needs a proof); its stakes become refundable after the
BinaryMarket grace period instead.
"""

from __future__ import annotations

import time

from markets.evidence import EvidenceMissing, gather
from oracle.eip712 import INVALID_OUTCOME, Resolution, digest, signable
from oracle.errors import CheckFailed, OracleError

from .votes import Refusal, Review, Vote

NO_PROOF = "0x" + "00" * 32


def absence_resolution(spec) -> Resolution:
    """The one resolution every honest validator signs for a market whose evidence never came."""
    return Resolution(market_id=spec.market_id, round=spec.final_round, outcome=INVALID_OUTCOME, probability_ppm=0,
                      model_id=spec.resolver, inputs_hash=NO_PROOF, proof_hash=NO_PROOF, final=True)


def review_absence(validator, spec) -> Review:
    """`validator` (validators.validator.Validator) checks that `spec`'s evidence is missing past its
    deadline, then signs INVALID; otherwise it refuses, naming why."""
    checks: list[str] = []
    t0 = time.perf_counter()
    try:
        if validator.registry is not None:
            dep = validator.registry
            if not dep.is_registered(spec.market_id):
                raise CheckFailed("market", f"market {spec.market_id} is not registered on-chain")
            onchain = dep.get_market(spec.market_id)
            if onchain.spec_hash != spec.spec_hash or onchain.model_id != spec.model:
                raise CheckFailed("market", "on-chain registration does not match the spec")
        checks.append("market")
        now = validator.clock()
        try:
            gather(spec, validator.load_data, now)
        except EvidenceMissing as e:
            if not e.invalid:
                raise CheckFailed("absence", f"the deadline has not passed: {e}") from None
        except OracleError as e:
            raise CheckFailed("absence", f"cannot read the evidence: {e}") from None
        else:
            raise CheckFailed("absence", "the evidence exists: the market resolves from it, not INVALID")
        checks.append("absence")
    except CheckFailed as e:
        refusal = Refusal(validator.address, spec.market_id, spec.final_round, e.check, e.reason)
        validator.refusals.append(refusal)
        return Review(None, refusal, checks, {})
    resolution = absence_resolution(spec)
    sig = validator.signer.sign_message(signable(validator.domain, resolution))
    vote = Vote(validator.address, resolution, digest(validator.domain, resolution), sig, tuple(checks),
                time.perf_counter() - t0)
    return Review(vote, None, checks, {})
