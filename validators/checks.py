"""The checks a validator runs before it signs and an auditor re-runs afterwards, each written once.

Each function raises `CheckFailed(name, reason)` under the name the validator refuses with
(`instances`, `inputs`, `rule`, `signatures`); the auditor files a failure under its own step.
Nothing here runs a model: only ezkl's field arithmetic and hashes, so a validator needs no torch.
"""

from __future__ import annotations

from typing import Sequence

import ezkl

from markets.rules import Decision
from oracle.eip712 import Domain, Resolution, recover
from oracle.errors import CheckFailed, OracleError
from oracle.models import Circuit, ModelRecord, RowValues, output_probability


def check_input_opening(record: ModelRecord, preimage: Sequence[str], values: RowValues) -> None:
    """Hashed inputs: the preimage the bundle carries hashes (Poseidon) to the proof's input commitment."""
    if record.input_visibility != "hashed":
        return
    if ezkl.poseidon_hash(list(preimage))[0] != values.input_commitment:
        raise CheckFailed("instances", "the input preimage does not hash to the proof's input commitment")


def check_features(features: Sequence[float], proven_inputs: Sequence[str], input_scale: int, *,
                   source: str = "the market's data") -> None:
    """Features recomputed from `source` quantize (ezkl.float_to_felt) to exactly the proven inputs."""
    if len(features) != len(proven_inputs):
        raise CheckFailed("inputs", f"{source} gives {len(features)} features, the proof has "
                          f"{len(proven_inputs)} inputs")
    for i, (x, felt) in enumerate(zip(features, proven_inputs)):
        if ezkl.float_to_felt(x, input_scale, ezkl.PyInputType.F64) != felt:
            raise CheckFailed("inputs", f"input {i} is {ezkl.felt_to_float(felt, input_scale)} in the proof, "
                              f"{source} gives {x:.6f}")


def rule_decision(spec, record: ModelRecord, circuit: Circuit, proven_outputs: Sequence[str]) -> Decision:
    """Proven outputs -> probabilities (the model's output transform) -> the market's rule."""
    try:
        probs = [float(output_probability(int(ezkl.felt_to_int(f)), circuit.output_scale, record.output_transform))
                 for f in proven_outputs]
    except OracleError as e:
        raise CheckFailed("rule", str(e)) from None
    return spec.rule.decide(probs, spec.outcomes)


def check_recorded_decision(decision: Decision, resolution: Resolution) -> None:
    """The rule's decision is the outcome and probability the resolution records."""
    if (decision.outcome, decision.probability_ppm) != (resolution.outcome, resolution.probability_ppm):
        raise CheckFailed("rule", f"proof gives {decision.outcome_name} at {decision.probability_ppm} ppm, "
                          f"chain has outcome {resolution.outcome} at {resolution.probability_ppm} ppm")


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
