"""The checks a validator runs before it signs and an auditor re-runs afterwards, each written once.

Each function raises `CheckFailed(name, reason)` under the name the validator refuses with
(`instances`, `inputs`, `rule`, `signatures`); the auditor files a failure under its own step.
Nothing here runs a model: only ezkl's field arithmetic and hashes, so a validator needs no torch.
"""

from __future__ import annotations

from typing import Sequence

import ezkl
from eth_hash.auto import keccak

from markets.rules import Decision, ThresholdRule
from oracle.batch import batch_digest, batch_signable, included, leaf
from oracle.eip712 import Domain, Resolution, recover
from oracle.errors import CheckFailed, OracleError
from oracle.models import Circuit, ModelRecord, RowValues, output_probability
from oracle.typed_data import recover as recover_signable


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


def rule_decision(spec, market_round, record: ModelRecord, circuit: Circuit,
                  proven_outputs: Sequence[str]) -> Decision:
    """Proven outputs -> the outcome. The final round: the resolver's integer differences, decided by
    the market's shape. A forecast round: the forecaster's probability of the market's first answer."""
    if market_round.final:
        return spec.shape.decide([int(ezkl.felt_to_int(f)) for f in proven_outputs])
    try:
        probs = [float(output_probability(int(ezkl.felt_to_int(f)), circuit.output_scale, record.output_transform))
                 for f in proven_outputs]
    except OracleError as e:
        raise CheckFailed("rule", str(e)) from None
    return ThresholdRule(0.5, spec.outcomes[0], spec.outcomes[1]).decide(probs, spec.outcomes)


def check_zk_rule(spec, onchain: Sequence[int]) -> None:
    """A zk-required market's on-chain rule (`QuorumOracle.zkRuleOf`) is the spec's shape over the
    resolver's output: otherwise the contract would accept another outcome than the evidence gives."""
    try:
        expected = spec.zk_rule().as_tuple()
    except OracleError as e:
        raise CheckFailed("rule", f"the market requires zk settlement, but {e}") from None
    if tuple(onchain) != expected:
        raise CheckFailed("rule", f"the market's on-chain zk rule {tuple(onchain)} is not its spec's rule "
                          f"{expected} (invalidFrom, aboveFrom, above, below, pinnedInput, pinnedValue)")


def check_recorded_decision(decision: Decision, resolution: Resolution) -> None:
    """The rule's decision is the outcome and probability the resolution records."""
    if (decision.outcome, decision.probability_ppm) != (resolution.outcome, resolution.probability_ppm):
        raise CheckFailed("rule", f"proof gives {decision.outcome_name} at {decision.probability_ppm} ppm, "
                          f"chain has outcome {resolution.outcome} at {resolution.probability_ppm} ppm")


def _check_signers(recover_one, signatures: Sequence[bytes], members: Sequence[str], needed: int,
                   what: str) -> list[str]:
    """Recover each signature's signer with `recover_one`; all distinct members, at least `needed`."""
    allowed = {m.lower() for m in members}
    signers: list[str] = []
    for i, sig in enumerate(signatures):
        try:
            who = recover_one(bytes(sig))
        except Exception as e:
            raise CheckFailed("signatures", f"signature {i}{what} is unreadable: {e}") from None
        if who.lower() not in allowed:
            raise CheckFailed("signatures", f"signature {i}{what} is by {who}, not in the validator set at that block")
        if who in signers:
            raise CheckFailed("signatures", f"{who} signed twice")
        signers.append(who)
    if len(signers) < needed:
        raise CheckFailed("signatures", f"{len(signers)} distinct validators signed{what}, {needed} needed")
    return signers


def check_signatures(domain: Domain, resolution: Resolution, signatures: Sequence[bytes],
                     members: Sequence[str], needed: int) -> list[str]:
    """Recover every signer; all must be distinct members and at least `needed`. Returns the signers."""
    return _check_signers(lambda sig: recover(domain, resolution, sig), signatures, members, needed, "")


def check_batch_signatures(domain: Domain, root: bytes, count: int, signatures: Sequence[bytes],
                           members: Sequence[str], needed: int) -> list[str]:
    """`check_signatures` for ECDSA signatures over `ResolutionBatch(root, count)` (`resolveBatch`,
    `acceptBatchRoot`). Returns the signers."""
    message = batch_signable(domain, bytes(root), count)
    return _check_signers(lambda sig: recover_signable(message, sig), signatures, members,
                          needed, f" over batch root 0x{bytes(root).hex()}")


def check_batch_inclusion(resolution: Resolution, proof: Sequence[bytes], root: bytes) -> None:
    """The Merkle proof leads from the resolution's leaf (its struct hash) to `root`."""
    if not included(leaf(resolution), proof, root):
        raise CheckFailed("signatures", f"the inclusion proof does not lead from {resolution.market_id}'s "
                          f"resolution to batch root 0x{bytes(root).hex()}")


def check_bls_aggregate(domain: Domain, root: bytes, count: int, signer_bitmap: int, key_set: bytes,
                        signature: bytes, members: Sequence[str], needed: int, keys_hash: str) -> list[str]:
    """A BLS quorum over `ResolutionBatch(root, count)` as `resolveBatchBls`/`acceptBatchRootBls` take
    it: `key_set` (the `publicKeys` calldata) hashes to the oracle's `keys_hash` for the set
    `members`, the bitmap names at least `needed` of them (bit i: member i), each named member has a
    key, and the aggregate `signature` (EIP-2537 encoding) verifies under those keys. Returns the
    named members."""
    from oracle.bls import G1_SIZE, fast_aggregate_verify, from_eip2537_g2, keys_of_key_set  # BLS quorums only

    got = "0x" + keccak(bytes(key_set)).hex()
    if got != keys_hash.lower():
        raise CheckFailed("signatures", f"the publicKeys calldata hashes to {got}, the oracle's blsKeysHash at "
                          f"that block is {keys_hash}")
    n = len(members)
    if len(key_set) != n * G1_SIZE:
        raise CheckFailed("signatures", f"the key set holds {len(key_set) / G1_SIZE:g} keys for {n} members")
    if signer_bitmap >> n:
        raise CheckFailed("signatures", f"the signer bitmap {signer_bitmap:#x} names a member index outside the "
                          f"set of {n} at that block")
    named = [i for i in range(n) if signer_bitmap >> i & 1]
    if len(named) < needed:
        raise CheckFailed("signatures", f"the signer bitmap names {len(named)} members, {needed} needed")
    try:
        keys = keys_of_key_set(bytes(key_set))
    except (OracleError, ValueError) as e:
        raise CheckFailed("signatures", f"the key set is unreadable: {e}") from None
    for i in named:
        if keys[i] is None:
            raise CheckFailed("signatures", f"member {i} ({members[i]}) is named but has no BLS key registered")
    try:
        ok = fast_aggregate_verify([keys[i] for i in named], batch_digest(domain, bytes(root), count),
                                   from_eip2537_g2(bytes(signature)))
    except OracleError as e:
        raise CheckFailed("signatures", f"the aggregate signature is unreadable: {e}") from None
    if not ok:
        raise CheckFailed("signatures", f"the aggregate signature does not verify over ResolutionBatch("
                          f"0x{bytes(root).hex()}, {count}) under the keys of members {named}")
    return [members[i] for i in named]
