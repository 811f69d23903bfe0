"""Gas of the consumer's kit on the embedded chain (py-evm) and anvil: the `IResolutionReader` reads
(through `ResolutionReader`, and the same reads on `QuorumOracle` directly for the adapter's
overhead) and every call of the example consumer `ParametricInsurance`. Prints JSON and writes
benchmarks/results/consumer_gas.json.

    .venv/bin/python -m benchmarks.consumer_gas [--chains embedded,anvil]

Transactions: `gasUsed` of the receipt (21,000 and calldata included). Reads: the execution gas of
the view sent as a transaction (`gasUsed` - 21,000 - its calldata's 4 gas per zero byte, 16 per
other): exact on both chains (eth-tester's `estimateGas` is a coarse search); a contract calling it
pays that plus the CALL (100 warm, 2,600 cold) and its own ABI encoding.
Resolutions are signed by fresh member keys (3 of 4); gas does not depend on the proof behind them
(tests/test_consumer_kit.py settles the same calls from real proofs).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COVER, PREMIUM = 2 * 10**18, 10**17
GRACE = 30 * 86_400


def _read(chain, signer, fn) -> int:
    """Execution gas of a view call, measured by sending it as a transaction."""
    receipt = chain.transact(signer, fn)
    data = bytes(chain.transaction("0x" + bytes(receipt["transactionHash"]).hex())["input"])
    calldata = sum(4 if b == 0 else 16 for b in data)
    return receipt["gasUsed"] - 21_000 - calldata


def run(chain) -> dict:
    from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
    from oracle.canonical import keccak_hex, to_bytes32
    from oracle.consumer import ParametricInsurance, ResolutionReader
    from oracle.deployment import Deployment
    from oracle.eip712 import Resolution, signable
    from oracle.signer import LocalSigner

    deployer, creator, submitter, insurer, insured = (LocalSigner.create() for _ in range(5))
    for s in (deployer, creator, submitter, insurer, insured):
        chain.fund(s.address, 10**21)
    keys = sorted((LocalSigner.create() for _ in range(4)), key=lambda k: int(k.address, 16))
    dep = Deployment.deploy(chain, deployer, [k.address for k in keys], 3)
    model = keccak_hex(b"model")
    now = chain.timestamp()

    def market(tag: str) -> str:
        mid, _ = dep.register_market(creator, spec_hash=keccak_hex(tag.encode()), model_id=model,
                                     resolve_at=now + 2_000, close_at=now + 1_000, outcome_count=2, quorum=3)
        return mid

    def resolution(mid: str, i: int = 0) -> Resolution:
        return Resolution(mid, 0, 1, 800_000 + i, model, keccak_hex(b"in%d" % i), keccak_hex(b"p%d" % i))

    reader_deploy = chain.w3.eth.contract(**_art("ResolutionReader")).constructor(
        dep.court.address).estimate_gas({"from": deployer.address})
    reader = ResolutionReader.deploy(chain, deployer, dep.court.address)
    insurance_deploy = chain.w3.eth.contract(**_art("ParametricInsurance")).constructor(
        reader.address).estimate_gas({"from": deployer.address})
    insurance = ParametricInsurance.deploy(chain, deployer, reader.address)

    direct, batched = market("direct"), market("batched")
    by_size = {size: [market(f"b{size}-{i}") for i in range(size)] for size in (8, 64)}
    expiring = market("expiring")
    first_offer = insurance.offer(insurer, direct, 1, COVER, PREMIUM)[1]["gasUsed"]
    policy, offer = insurance.offer(insurer, direct, 1, COVER, PREMIUM)
    buy = insurance.buy(insured, policy, PREMIUM)["gasUsed"]
    to_cancel, _ = insurance.offer(insurer, direct, 0, COVER, PREMIUM)
    cancel = insurance.cancel(insurer, to_cancel)["gasUsed"]
    proof_policies = {size: _bought(insurance, insurer, insured, mids[0]) for size, mids in by_size.items()}
    expiry_policy = _bought(insurance, insurer, insured, expiring)
    _bought(insurance, insurer, insured, batched)

    r, s = reader.contract.functions, dep.oracle.functions
    sender = submitter
    reads = {"open": {"stateOf": _read(chain, sender, r.stateOf(to_bytes32(direct))),
                      "marketOf": _read(chain, sender, r.marketOf(to_bytes32(direct)))}}

    chain.advance_time(2_001)
    res = resolution(direct)
    dep.resolve(submitter, res, [k.sign_message(signable(dep.domain, res)) for k in keys[:3]])
    settle = insurance.settle(submitter, policy)[1]["gasUsed"]
    mid = to_bytes32(direct)
    reads["final"] = {
        "stateOf": _read(chain, sender, r.stateOf(mid)),
        "finalResolution": _read(chain, sender, r.finalResolution(mid)),
        "outcomeOf": _read(chain, sender, r.outcomeOf(mid)),
        "probabilityOf": _read(chain, sender, r.probabilityOf(mid)),
    }
    reads["oracle_direct"] = {
        "isResolved": _read(chain, sender, s.isResolved(mid)),
        "outcomeOf": _read(chain, sender, s.outcomeOf(mid)),
        "recordOf": _read(chain, sender, s.recordOf(mid)),
    }

    with_proof = {}
    for size, mids in by_size.items():
        rs = [resolution(m, i) for i, m in enumerate(mids)]
        leaves = [leaf(x) for x in rs]
        root = merkle_root(leaves)
        dep.accept_batch_root(submitter, root, size, [k.sign_message(batch_signable(dep.domain, root, size))
                                                     for k in keys[:3]])
        proof = merkle_proof(leaves, 0)
        with_proof[size] = {
            "proof_depth": len(proof),
            "verifyInclusion_reader": _read(chain, sender, r.verifyInclusion(rs[0].as_tuple(), proof, root)),
            "verifyInclusion_oracle": _read(chain, sender, s.verifyInclusion(rs[0].as_tuple(), proof, root)),
            "settleWithProof": insurance.settle_with_proof(submitter, proof_policies[size], rs[0], proof,
                                                           root)[1]["gasUsed"],
            # the claim alone (it records the market's resolution): through the reader, and on the oracle
            "claim_reader_tx": chain.transact(submitter, r.claim(rs[1].as_tuple(), merkle_proof(leaves, 1),
                                                                 root))["gasUsed"],
            "claim_oracle_tx": dep.claim(submitter, rs[2], merkle_proof(leaves, 2), root)["gasUsed"],
        }
    chain.advance_time(GRACE)
    refund = insurance.settle(submitter, expiry_policy)[1]["gasUsed"]
    withdraw = insurance.withdraw(insured)[1]["gasUsed"]
    return {
        "deploy_gas_estimate": {"ResolutionReader": reader_deploy, "ParametricInsurance": insurance_deploy},
        "reads_gas": reads,
        "ParametricInsurance_tx_gas": {
            "offer_first": first_offer, "offer": offer["gasUsed"], "buy": buy, "cancel": cancel,
            "settle": settle, "settle_refund_after_grace": refund, "withdraw": withdraw,
            "settleWithProof_by_batch_size": with_proof,
        },
    }


def _art(name: str) -> dict:
    from oracle.chain import artifact

    a = artifact(name)
    return {"abi": a["abi"], "bytecode": a["bytecode"]}


def _bought(insurance, insurer, insured, market_id: str) -> int:
    policy, _ = insurance.offer(insurer, market_id, 1, COVER, PREMIUM)
    insurance.buy(insured, policy, PREMIUM)
    return policy


def main() -> None:
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", default="embedded,anvil")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "consumer_gas.json"))
    args = ap.parse_args()
    result = {"benchmark": "consumer_gas", "chains": {}}
    for kind in args.chains.split(","):
        if kind == "anvil":
            node = start_anvil(log_dir=Path(tempfile.mkdtemp()))
            try:
                result["chains"]["anvil"] = run(Chain.rpc(node.url))
            finally:
                node.stop()
        else:
            result["chains"]["embedded"] = run(Chain.embedded())
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
