"""Gas of settlement paths on the embedded chain (py-evm) and anvil. Prints JSON (and writes
benchmarks/results/gas.json).

    .venv/bin/python -m benchmarks.gas [--chains embedded,anvil]

- ECDSA quorum: gas of one `resolve` for t = 3, 5, 7, 13, 67 signatures, and the marginal
  gas per extra signer.
- Batches of 1, 8, 64 with 7-of-10 ECDSA: per market, (a) `resolveBatch` storing every
  market's record, (b) `acceptBatchRoot` once plus a consumer's inclusion check per market.
- ZK path: the generated ezkl verifier's deploy gas and size, one on-chain verification,
  and a whole `resolveZk` (quorum + proof + inputs check).
BLS aggregation is not built yet: reported as such.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOALS = {"ecdsa_gas_per_market_batch64_7of10": 30_000, "bls_merkle_gas_per_market_batch64": 5_000}


def setup(chain, n: int, t: int, with_deployer: bool = False):
    from oracle.deployment import Deployment
    from oracle.signer import LocalSigner

    deployer, creator, submitter = (LocalSigner.create() for _ in range(3))
    for a in (deployer, creator, submitter):
        chain.fund(a.address, 10**21)
    keys = sorted((LocalSigner.create() for _ in range(n)), key=lambda k: int(k.address, 16))
    dep = Deployment.deploy(chain, deployer, [k.address for k in keys], t)
    return (dep, keys, creator, submitter, deployer) if with_deployer else (dep, keys, creator, submitter)


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


def zk_path(chain, zk) -> dict:
    from oracle.bundle import felt_to_uint
    from oracle.eip712 import Resolution, signable
    from oracle.models import inputs_hash

    record, spec, bundle, art = zk
    dep, keys, creator, submitter, deployer = setup(chain, 10, 7, with_deployer=True)
    deploy_gas = chain.w3.eth.estimate_gas({"from": deployer.address, "data": art["bytecode"]})
    verifier = chain.deploy(deployer, art)
    instances = [felt_to_uint(f) for f in bundle.instances[0]]
    verify_gas = verifier.functions.verifyProof(bundle.proof_bytes, instances).estimate_gas(
        {"from": deployer.address}) - 21_000
    dep.register_verifier(deployer, record.model_id, verifier.address, record.circuit(1).vk, record.n_inputs)
    dep.register_market(creator, spec_hash=spec.spec_hash, model_id=spec.model, resolve_at=spec.resolve_at_unix,
                        outcome_count=2, quorum=1)
    dep.require_zk(creator, spec.market_id)
    r = Resolution(spec.market_id, 0, 0, 700_000, record.model_id,
                   inputs_hash(list(bundle.instances[0][: record.n_inputs])), bundle.proof_hash)
    sigs = [k.sign_message(signable(dep.domain, r)) for k in keys[:7]]
    resolve_gas = dep.resolve_zk(submitter, r, sigs, bundle.proof_bytes, instances)["gasUsed"]
    return {"verifier_bytes": (len(art["deployedBytecode"]) - 2) // 2, "verifier_deploy_gas": deploy_gas,
            "verify_proof_gas": verify_gas, "resolve_zk_gas_7of10": resolve_gas}


def run(chain, zk=None) -> dict:
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
        },
        "zk_path": zk_path(chain, zk) if zk else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", default="embedded,anvil")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gas.json"))
    args = ap.parse_args()
    from markets.demo import BTC_SOURCE, DemoQuestion, demo_spec
    from markets.feeds import load_source
    from oracle import config
    from oracle.anvil import start_anvil
    from oracle.chain import Chain
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.evm import evm_verifier
    from provers.prover import EzklProver
    from provers.reference import reference_circuit

    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="gas-")) / "store")
    circuit = reference_circuit(store, config.cache_dir())
    frame = load_source(BTC_SOURCE)
    spec = demo_spec(DemoQuestion("2021-01-12", 0.95), frame, circuit.model_id, quorum=1)
    bundle = EzklProver(circuit, LocalSigner.create()).prove(spec, frame)
    zk = (circuit.record, spec, bundle, evm_verifier(circuit, store)[1])
    result = {"benchmark": "gas", "chains": {}}
    for kind in args.chains.split(","):
        if kind == "anvil":
            node = start_anvil(log_dir=Path(tempfile.mkdtemp()))
            try:
                result["chains"]["anvil"] = run(Chain.rpc(node.url), zk)
            finally:
                node.stop()
        else:
            result["chains"]["embedded"] = run(Chain.embedded(), zk)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
