"""Gas of settlement paths on the embedded chain (py-evm) and anvil. Prints JSON (and writes
benchmarks/results/gas.json).

    .venv/bin/python -m benchmarks.gas [--chains embedded,anvil]

- ECDSA quorum: gas of one `resolve` for t = 3, 5, 7, 13, 67 signatures, and the marginal
  gas per extra signer.
- Batches of 1, 8, 64 with 7-of-10 ECDSA: per market, (a) `resolveBatch` storing every
  market's record, (b) `acceptBatchRoot` once plus a consumer's inclusion check per market.
- ZK path: the resolver's generated ezkl verifier (deploy gas and size), one on-chain verification,
  and a whole `resolveZk` (quorum + proof + inputs check + the outcome the market's shape gives for
  the proven output) for "BTC above $4,000 on 2019-03-23?" resolved from the bundled providers.
- BLS aggregate quorum: gas of one single-market `resolveBatchBls` for the same (t, n) as ECDSA;
  the marginal gas per extra signer with the member set fixed (n = 100: 67 vs 100 signers) and
  per extra member (the key set travels in calldata); batches of 1, 8, 64 with 7-of-10 by root
  (`acceptBatchRootBls`) and stored (`resolveBatchBls`).
- Staking (`ValidatorStaking`): join, leave (`requestLeave`), withdraw, a slash with real equivocating
  signatures (it re-installs the set on the oracle), and `advanceEpoch` installing n = 4, 10, 100
  bonded members (and a boundary with one joiner and one leaver at n = 10).
  `--only staking` runs these rows alone.
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


# Replay chains start before the zk market's event (2019-03-23): its creator requires zk while
# trading is open, then time moves to its resolve time.
REPLAY_START = 1552176000  # 2019-03-10T00:00:00Z


def setup(chain, n: int, t: int, with_deployer: bool = False):
    """Contracts only (no validator processes): the provisioning the product uses, with fresh keys."""
    from network.provision import deploy, fund
    from oracle.signer import LocalSigner

    deployer, creator, submitter = (LocalSigner.create() for _ in range(3))
    fund(chain, (deployer, creator, submitter), amount=10**21)
    keys = sorted((LocalSigner.create() for _ in range(n)), key=lambda k: int(k.address, 16))
    dep = deploy(chain, deployer, keys, t)
    return (dep, keys, creator, submitter, deployer) if with_deployer else (dep, keys, creator, submitter)


def bls_setup(chain, n: int, t: int):
    """`setup` plus a BLS key per member, registered with its proof of possession."""
    from oracle.bls import BlsKey

    dep, keys, creator, submitter = setup(chain, n, t)
    bls_keys = [BlsKey.generate() for _ in keys]
    for k, b in zip(keys, bls_keys):
        chain.fund(k.address, 10**18)
        dep.register_bls_key(k, b.public_key, b.proof_of_possession(k.address))
    return dep, bls_keys, creator, submitter


def bls_sign(dep, bls_keys, members, root: bytes, count: int):
    from oracle import bls

    message = dep.batch_digest(root, count)
    return bls.bitmap_of(members), bls.aggregate([bls_keys[i].sign(message) for i in members])


def bls_rows(chain) -> dict:
    from oracle.batch import leaf, merkle_root
    from oracle.bls import to_eip2537_g1, to_eip2537_g2

    by_t, by_signers = {}, {}
    register_gas = None
    for t, n in ((3, 4), (5, 7), (7, 10), (13, 20), (67, 100)):
        dep, bkeys, creator, submitter = bls_setup(chain, n, t)
        if register_gas is None:
            b = bkeys[0]
            # a gas measurement of the raw contract call (no transaction is sent): low-level on purpose
            register_gas = dep.oracle.functions.registerBlsKey(
                to_eip2537_g1(b.public_key),
                to_eip2537_g2(b.proof_of_possession(dep.validators()[0])),
            ).estimate_gas({"from": dep.validators()[0]}) - 21_000
        signer_counts = (t, n) if n == 100 else (t,)
        for k in signer_counts:
            (r,) = markets(dep, creator, 1, f"bls-t{t}-k{k}-")
            root = merkle_root([leaf(r)])
            bitmap, agg = bls_sign(dep, bkeys, range(k), root, 1)
            gas = dep.resolve_batch_bls(submitter, [r], bitmap, agg)["gasUsed"]
            if k == t:
                by_t[t] = gas
            if n == 100:
                by_signers[k] = gas
    ts = sorted(by_t)
    ks = sorted(by_signers)
    per_member = (by_t[ts[-1]] - by_t[ts[0]]) / ((100 - 4))  # n grows 4 -> 100 along with t
    per_signer = (by_signers[ks[-1]] - by_signers[ks[0]]) / (ks[-1] - ks[0])

    batches = {}
    dep, bkeys, creator, submitter = bls_setup(chain, 10, 7)
    for size in (1, 8, 64):
        rs = markets(dep, creator, size, f"bls-s{size}-")
        root = merkle_root([leaf(r) for r in rs])
        stored = dep.resolve_batch_bls(submitter, rs, *bls_sign(dep, bkeys, range(7), root, size))["gasUsed"]
        rs2 = markets(dep, creator, size, f"bls-r{size}-")
        root2 = merkle_root([leaf(r) for r in rs2])
        accepted = dep.accept_batch_root_bls(submitter, root2, size,
                                             *bls_sign(dep, bkeys, range(7), root2, size))["gasUsed"]
        batches[size] = {"stored_per_market_gas": round(stored / size), "root_tx_gas": accepted,
                         "root_per_market_gas": round(accepted / size)}
    return {
        "register_key_with_pop_gas": register_gas,
        "resolve_gas_by_t": by_t,
        "resolve_gas_by_signers_n100": by_signers,
        "marginal_gas_per_signer_n_fixed": round(per_signer),
        "marginal_gas_per_member_t_and_n_growing": round(per_member),
        "batches_7of10": batches,
    }


def staking_rows(chain) -> dict:
    from oracle.eip712 import Resolution, signable
    from oracle.signer import LocalSigner
    from oracle.staking import ETH, Staking, StakingParameters

    def bonded(n: int):
        dep, keys, creator, submitter, deployer = setup(chain, n, n // 2 + 1, with_deployer=True)
        staking = Staking.deploy(dep, deployer, StakingParameters(max_validators=256, epoch_length=3600))
        gas = []
        for k in keys:
            chain.fund(k.address, 3 * ETH)
            gas.append(staking.join(k, 2 * ETH)["gasUsed"])
        return dep, keys, creator, submitter, staking, gas, staking.advance_epoch(deployer)["gasUsed"]

    def next_epoch(staking, submitter):
        chain.advance_time(staking.next_epoch_at() - chain.timestamp() + 1)
        return staking.advance_epoch(submitter)["gasUsed"]

    install, slash = {}, {}
    for n in (4, 10, 100):
        dep, keys, creator, submitter, staking, join_gas, install[n] = bonded(n)
        (r,) = markets(dep, creator, 1, f"slash{n}-")
        other = Resolution(r.market_id, r.round, 1 - r.outcome, r.probability_ppm, r.model_id, r.inputs_hash,
                           r.proof_hash)
        cheat = keys[-1]
        slash[n] = staking.slash(submitter, r, cheat.sign_message(signable(dep.domain, r)), other,
                                 cheat.sign_message(signable(dep.domain, other)))["gasUsed"]
        if n == 10:
            rows = {"join_gas": join_gas[-1], "join_first_gas": join_gas[0]}
            newcomer = LocalSigner.create()
            chain.fund(newcomer.address, 3 * ETH)
            staking.join(newcomer, 2 * ETH)
            rows["leave_gas"] = staking.leave(keys[0])["gasUsed"]
            rows["advance_epoch_one_in_one_out_n10_gas"] = next_epoch(staking, submitter)
            rows["advance_epoch_unchanged_gas"] = next_epoch(staking, submitter)
            chain.advance_time(staking.bond_of(keys[0].address).withdrawable_at - chain.timestamp() + 1)
            rows["withdraw_gas"] = staking.withdraw(keys[0])["gasUsed"]
    return {**rows, "advance_epoch_install_gas_by_n": install, "slash_gas_by_n": slash}


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

    if "error" in zk:  # no verifier to deploy: say why instead of a number
        return zk
    record, spec, bundle, art = zk
    dep, keys, creator, submitter, deployer = setup(chain, 10, 7, with_deployer=True)
    # gas of the bare creation transaction, measured on the node directly (nothing is deployed here)
    deploy_gas = chain.w3.eth.estimate_gas({"from": deployer.address, "data": art["bytecode"]})
    verifier = chain.deploy(deployer, art)
    instances = [felt_to_uint(f) for f in bundle.instances[0]]
    verify_gas = verifier.functions.verifyProof(bundle.proof_bytes, instances).estimate_gas(
        {"from": deployer.address}) - 21_000
    dep.register_verifier(deployer, record.model_id, verifier.address, record.circuit(1).vk, record.n_inputs)
    dep.register_market(creator, **spec.onchain())
    circuit = record.circuit(1)
    dep.require_zk(creator, spec.market_id, spec.zk_rule().as_tuple())  # while trading is open (ZkTooLate)
    if chain.timestamp() < spec.resolve_at_unix:
        chain.advance_time(spec.resolve_at_unix - chain.timestamp())
    from validators.checks import rule_decision

    values = record.row(list(bundle.instances[0]), list(bundle.input_preimage), 1, 0)
    final = spec.round(spec.final_round)
    d = rule_decision(spec, final, record, circuit, values.outputs)  # the contract accepts only the proven outcome
    r = Resolution(spec.market_id, final.index, d.outcome, d.probability_ppm, record.model_id,
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
        # a consumer contract's cost to check one inclusion proof (call from a contract ~ estimateGas - 21000):
        # a gas measurement of the raw view call, so it reaches the contract object on purpose
        fn = dep.oracle.functions.verifyInclusion(rs2[0].as_tuple(), merkle_proof(leaves2, 0), root2)
        inclusion = fn.estimate_gas({"from": submitter.address}) - 21_000
        batches[size] = {
            "stored_per_market_gas": round(stored / size),
            "root_tx_gas": accepted,
            "inclusion_check_gas": inclusion,
            "root_path_per_market_gas": round(accepted / size + inclusion),
        }
    blsr = bls_rows(chain)
    b64 = blsr["batches_7of10"][64]
    return {
        "bls": blsr,
        "staking": staking_rows(chain),
        "ecdsa_resolve_gas_by_t": ecdsa,
        "ecdsa_marginal_gas_per_signer": round(marginal),
        "batches_7of10": batches,
        "goals": {
            "ecdsa_gas_per_market_batch64_7of10": {
                "goal": GOALS["ecdsa_gas_per_market_batch64_7of10"],
                "stored_path": batches[64]["stored_per_market_gas"],
                "root_path": batches[64]["root_path_per_market_gas"],
            },
            "bls_merkle_gas_per_market_batch64": {
                "goal": GOALS["bls_merkle_gas_per_market_batch64"],
                "root_settlement_per_market": b64["root_per_market_gas"],
                "root_settlement_plus_one_inclusion_check": b64["root_per_market_gas"]
                + batches[64]["inclusion_check_gas"],
                "stored_path": b64["stored_per_market_gas"],
            },
            "bls_marginal_signer_vs_ecdsa": {
                "goal_ratio_at_most": round(1 / 3, 3),
                "bls_per_signer": blsr["marginal_gas_per_signer_n_fixed"],
                "ecdsa_per_signer": round(marginal),
                "ratio": round(blsr["marginal_gas_per_signer_n_fixed"] / marginal, 3),
            },
        },
        "zk_path": zk_path(chain, zk) if zk else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", default="embedded,anvil")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gas.json"))
    ap.add_argument("--only", choices=["staking"], help="Only these rows, printed (the results file is kept).")
    args = ap.parse_args()
    if args.only == "staking":
        print(json.dumps({"benchmark": "gas", "only": "staking", "chains": {
            kind: _on_chain(kind, staking_rows) for kind in args.chains.split(",")}}, indent=2))
        return
    from dataclasses import replace

    from markets.demo import DEMO_MARKETS, demo_spec
    from markets.feeds import load_source
    from oracle import config
    from oracle.anvil import start_anvil
    from oracle.chain import Chain
    from oracle.errors import ProvingError
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.evm import evm_verifier
    from provers.prover import EzklProver
    from provers.resolvers import compile_resolver

    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="gas-")) / "store")
    # "BTC above $4,000 on 2019-03-23?" as a plain resolve market (no forecasts), quorum 1
    above = replace(DEMO_MARKETS[0], forecast=None)
    circuit = compile_resolver(store, config.cache_dir(), above.width)
    spec = demo_spec(above, lambda width: circuit.model_id, None, quorum=1)
    bundle = EzklProver(circuit, LocalSigner.create()).prove(spec, load_source)
    try:
        zk = (circuit.record, spec, bundle, evm_verifier(circuit, store)[1])
    except ProvingError as e:
        zk = {"error": f"resolver {circuit.model_id}: {e}"}
    result = {"benchmark": "gas", "chains": {}}
    for kind in args.chains.split(","):
        if kind == "anvil":
            node = start_anvil(log_dir=Path(tempfile.mkdtemp()), timestamp=REPLAY_START)
            try:
                result["chains"]["anvil"] = run(Chain.rpc(node.url), zk)
            finally:
                node.stop()
        else:
            result["chains"]["embedded"] = run(Chain.embedded(start=REPLAY_START), zk)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _on_chain(kind: str, fn):
    """`fn(chain)` on a fresh embedded chain or a fresh anvil (stopped after)."""
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    if kind != "anvil":
        return fn(Chain.embedded())
    node = start_anvil(log_dir=Path(tempfile.mkdtemp()))
    try:
        return fn(Chain.rpc(node.url))
    finally:
        node.stop()


if __name__ == "__main__":
    main()
