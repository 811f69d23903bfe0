"""Gas of settlement paths on the embedded chain (py-evm) and anvil. Prints JSON (and writes
benchmarks/results/gas.json).

    .venv/bin/python -m benchmarks.gas [--chains embedded,anvil]

- ECDSA quorum: gas of one `resolve` for t = 3, 5, 7, 13, 67 signatures, and the marginal
  gas per extra signer.
- Batches of 1, 8, 64 with 7-of-10 ECDSA: per market, (a) `resolveBatch` storing every
  market's record, (b) `acceptBatchRoot` once plus a consumer's inclusion check per market.
BLS aggregation and the on-chain ZK verifier path are not built yet: reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOALS = {"ecdsa_gas_per_market_batch64_7of10": 30_000, "bls_merkle_gas_per_market_batch64": 5_000}


def setup(chain, n: int, t: int):
    from oracle.deployment import Deployment
    from oracle.signer import LocalSigner

    deployer, creator, submitter = (LocalSigner.create() for _ in range(3))
    for a in (deployer, creator, submitter):
        chain.fund(a.address, 10**21)
    keys = sorted((LocalSigner.create() for _ in range(n)), key=lambda k: int(k.address, 16))
    return Deployment.deploy(chain, deployer, [k.address for k in keys], t), keys, creator, submitter


def markets(dep, creator, count: int, tag: str):
    from oracle.canonical import keccak_hex
    from oracle.eip712 import Resolution

    model = keccak_hex(b"model")
    out = []
    for i in range(count):
        mid, _ = dep.register_market(creator, spec_hash=keccak_hex(f"{tag}{i}".encode()), model_id=model,
                                     resolve_at=1, outcome_count=2, quorum=1)
        out.append(Resolution(mid, 0, i % 2, 600_000, model, keccak_hex(b"i%d" % i), keccak_hex(b"p%d" % i)))
    return out


def run(chain) -> dict:
    from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
    from oracle.eip712 import signable

    ecdsa = {}
    for t, n in ((3, 4), (5, 7), (7, 10), (13, 20), (67, 100)):
        dep, keys, creator, submitter = setup(chain, n, t)
        (r,) = markets(dep, creator, 1, f"t{t}-")
        sigs = [k.sign_message(signable(dep.domain, r)) for k in keys[:t]]
        ecdsa[t] = dep.resolve(submitter, r, sigs)["gasUsed"]
    ts = sorted(ecdsa)
    marginal = (ecdsa[ts[-1]] - ecdsa[ts[0]]) / (ts[-1] - ts[0])

    batches = {}
    dep, keys, creator, submitter = setup(chain, 10, 7)
    for size in (1, 8, 64):
        rs = markets(dep, creator, size, f"s{size}-")
        leaves = [leaf(r) for r in rs]
        root = merkle_root(leaves)
        sigs = [k.sign_message(batch_signable(dep.domain, root, size)) for k in keys[:7]]
        stored = dep.resolve_batch(submitter, rs, sigs)["gasUsed"]
        rs2 = markets(dep, creator, size, f"r{size}-")
        leaves2 = [leaf(r) for r in rs2]
        root2 = merkle_root(leaves2)
        sigs2 = [k.sign_message(batch_signable(dep.domain, root2, size)) for k in keys[:7]]
        accepted = dep.accept_batch_root(submitter, root2, size, sigs2)["gasUsed"]
        # a consumer contract's cost to check one inclusion proof (call from a contract ~ estimateGas - 21000)
        fn = dep.oracle.functions.verifyInclusion(rs2[0].as_tuple(), merkle_proof(leaves2, 0), root2)
        inclusion = fn.estimate_gas({"from": submitter.address}) - 21_000
        batches[size] = {
            "stored_per_market_gas": round(stored / size),
            "root_tx_gas": accepted,
            "inclusion_check_gas": inclusion,
            "root_path_per_market_gas": round(accepted / size + inclusion),
        }
    return {
        "ecdsa_resolve_gas_by_t": ecdsa,
        "ecdsa_marginal_gas_per_signer": round(marginal),
        "batches_7of10": batches,
        "goals": {
            "ecdsa_gas_per_market_batch64_7of10": {
                "goal": GOALS["ecdsa_gas_per_market_batch64_7of10"],
                "stored_path": batches[64]["stored_per_market_gas"],
                "root_path": batches[64]["root_path_per_market_gas"],
            },
            "bls": "not implemented yet (issue 4): no measurement",
            "zk_verifier_path": "not implemented yet (issue 4): no measurement",
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", default="embedded,anvil")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gas.json"))
    args = ap.parse_args()
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    result = {"benchmark": "gas", "chains": {}}
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
