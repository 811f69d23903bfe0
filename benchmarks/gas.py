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
- Disputes and fees (`DisputeCourt`, 7-of-10 bonded members), on a fresh replay chain: register with the
  fee escrowed (and the same registration on the contracts before the court, commit 0b79e8c: the delta),
  setRule (the rule committed in the market id), propose (= resolve), dispute, settleByProof with the
  resolver's real proof (overturning; an agreeing proof settles nothing), settleByVote (the escalated
  quorum's `Ruling`s, upholding and overturning), settleByArbiter, settleByTimeout,
  finalize, claimSignerFee, claimProverFee, refundFee, withdraw, slashOverturned, and governance
  (queue/execute parameters, pause, unpause, emergency resolution).
- The dispute window's cost to the happy path: 64 markets registered, bet on, settled in one 7-of-10
  `resolveBatch` and redeemed (BinaryMarket), on the contracts before the court (0b79e8c: no fee, the
  market reads the oracle) and now (fee escrowed, a one-hour window waited out, the market reads
  final through the court); every transaction measured, the difference per market.
  `--only court` runs these two sets of rows alone.
- Issue 15's goals (`issue15_goals`), each as measured / goal with what bounds it: one-market ECDSA
  7-of-10 `resolve` (<= 110k) and BLS 7-of-10 `resolveBatchBls` (<= 170k), each with its profile (where
  the gas went, from anvil's opcode trace: storage, precompiles, calls, logs, calldata); full settlement
  of 64 markets linked to Conditional Tokens conditions, `resolveBatch` + `CTFAdapter.reportBatch`, per
  market (<= 60k), beside the CTF's own `reportPayouts` alone; the ZK path per proof (<= 350k) beside the
  verifier alone and the floor under it: the verifier of the smallest circuit ezkl makes ([x, c] -> x - c,
  `zk_minimal_verifier`: with the resolver's run args and with ezkl's leanest) plus resolveZk's gas
  around its verifier. `--only goals` runs these rows alone (no n = 100 sets, no batches, no staking, no court).
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
# issue 15's settlement goals (gas, one market unless said)
GOALS_15 = {"ecdsa_resolve_7of10": 110_000, "bls_resolve_7of10": 170_000,
            "settlement_with_ctf_report_per_market_batch64": 60_000, "zk_path_per_proof": 350_000}
# EVM prices (prague, EIP-2929/2200/2537) the bounds below are built from
FRESH_SLOT_GAS = 22_100  # a zero -> non-zero SSTORE of a cold slot
COLD_SLOAD_GAS = 2_100
ECRECOVER_GAS = 3_000
BLS_PAIRING_2_GAS = 32_600 * 2 + 37_700  # EIP-2537 pairing check of two pairs
RECORD_SLOTS = 2  # QuorumOracle.Record: one packed slot + the resolution's struct hash
PRECOMPILES = {1: "ecrecover", 2: "sha256", 4: "identity", 5: "modexp", 6: "bn254_add", 7: "bn254_mul",
               8: "bn254_pairing", 11: "bls_g1add", 12: "bls_g1msm",
               13: "bls_g2add", 14: "bls_g2msm", 15: "bls_pairing", 16: "bls_map_fp_to_g1", 17: "bls_map_fp2_to_g2"}


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


def calldata_gas(chain, receipt) -> dict:
    """The transaction's intrinsic gas: 21,000 plus 16 per non-zero and 4 per zero calldata byte; and what
    its logs cost by the EVM's prices (375 a log, 375 a topic, 8 a data byte), read from the receipt, so
    every chain has it (the opcode profile needs anvil's tracer)."""
    tx = chain.transaction("0x" + bytes(receipt["transactionHash"]).hex())
    data = bytes(tx["input"])
    logs = sum(375 + 375 * len(log["topics"]) + 8 * len(bytes(log["data"])) for log in receipt["logs"])
    return {"intrinsic_gas": 21_000, "calldata_gas": sum(16 if b else 4 for b in data), "calldata_bytes": len(data),
            "logs_gas": logs}


def profile(chain, receipt, names: dict[str, str]) -> dict | str:
    """Where a transaction's gas went, from the node's opcode trace (`debug_traceTransaction`, anvil):
    each top-level opcode's cost (gas before it minus gas at the next top-level step, so a call includes
    its callee), summed by kind: storage reads and writes, logs, keccak, each precompile, each called
    contract (`names`: address -> name), the rest as `compute`; intrinsic + calldata from the
    transaction. A string saying why when the node has no tracer (the embedded chain)."""
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    try:
        trace = chain.w3.provider.make_request("debug_traceTransaction",
                                               [tx_hash, {"disableMemory": True, "disableStorage": True}])
        steps = trace["result"]["structLogs"]
    except Exception as e:  # noqa: BLE001 - any failure means "no tracer here": say so in the JSON
        return f"no opcode trace on this chain ({type(e).__name__}): see the anvil rows"
    top = [s for s in steps if s["depth"] == 1]
    by: dict[str, int] = {}
    for i, step in enumerate(top):
        cost = step["gas"] - top[i + 1]["gas"] if i + 1 < len(top) else step["gasCost"]
        op = step["op"]
        if op in ("CALL", "STATICCALL", "DELEGATECALL"):
            to = int(step["stack"][-2], 16)
            kind = PRECOMPILES.get(to) or "call:" + names.get(f"{to:040x}", f"0x{to:040x}")
        elif op in ("SLOAD", "SSTORE", "KECCAK256") or op.startswith("LOG"):
            kind = "LOG" if op.startswith("LOG") else op
        else:
            kind = "compute"
        by[kind] = by.get(kind, 0) + cost
    base = calldata_gas(chain, receipt)
    out = {"intrinsic_gas": base["intrinsic_gas"], "calldata_gas": base["calldata_gas"]}
    out.update(sorted(by.items(), key=lambda kv: -kv[1]))
    out["unattributed"] = receipt["gasUsed"] - sum(v for k, v in out.items())
    return out


def _names(dep) -> dict[str, str]:
    return {a[2:].lower(): n for n, a in dep.addresses.items()}


def bls_rows(chain) -> dict:
    from oracle.batch import leaf, merkle_root
    from oracle.bls import to_eip2537_g1, to_eip2537_g2

    by_t, by_signers = {}, {}
    register_gas = None
    profile_7 = None
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
            receipt = dep.resolve_batch_bls(submitter, [r], bitmap, agg)
            gas = receipt["gasUsed"]
            if (t, k) == (7, 7):
                profile_7 = profile(chain, receipt, _names(dep))
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
        "profile_resolve_7of10": profile_7,
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


BEFORE_COURT = "0b79e8c"  # the last commit before the dispute court (c6109d5): the happy path's "before"


def _artifact_before_court(name: str) -> dict:
    """A contract artifact as committed before the dispute court (read from git history)."""
    import subprocess

    out = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE_COURT}:oracle/contracts/{name}.json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


class _BeforeCourt:
    """MarketRegistry + ModelRegistry + QuorumOracle + BinaryMarket as they were before the court
    (no fee, no dispute window; the market reads the oracle), driven by raw calls."""

    def __init__(self, chain, deployer, validators, threshold: int):
        from oracle.eip712 import Domain

        self.chain = chain
        art = {n: _artifact_before_court(n) for n in ("MarketRegistry", "ModelRegistry", "QuorumOracle",
                                                       "BinaryMarket")}
        self.registry = chain.deploy(deployer, art["MarketRegistry"])
        models = chain.deploy(deployer, art["ModelRegistry"])
        self.oracle = chain.deploy(deployer, art["QuorumOracle"], self.registry.address, models.address,
                                   list(validators), threshold, gas=8_000_000)
        chain.transact(deployer, self.registry.functions.bindOracle(self.oracle.address), gas=200_000)
        self.market = chain.deploy(deployer, art["BinaryMarket"], self.oracle.address)
        self.domain = Domain(chain_id=chain.chain_id, verifying_contract=self.oracle.address)

    def register(self, creator, spec_hash: str, model: str, close_at: int, resolve_at: int):
        from oracle.canonical import to_bytes32

        args = (to_bytes32(spec_hash), to_bytes32(model), b"\0" * 32, close_at, resolve_at, 2, 1)
        mid = self.chain.call(self.registry.functions.marketIdOf(*args))
        receipt = self.chain.transact(creator, self.registry.functions.register(*args), gas=400_000)
        return "0x" + bytes(mid).hex(), receipt

    def deposit(self, bettor, market_id: str, outcome: int, wei: int):
        from oracle.canonical import to_bytes32

        return self.chain.transact(bettor, self.market.functions.deposit(to_bytes32(market_id), outcome), value=wei,
                                   gas=300_000)

    def resolve(self, submitter, r, signatures):
        from oracle.deployment import _as_resolution

        return self.chain.transact(submitter, self.oracle.functions.resolve(_as_resolution(r), list(signatures)),
                                   gas=1_000_000)

    def resolve_batch(self, submitter, rs, signatures):
        from oracle.deployment import _as_resolution

        fn = self.oracle.functions.resolveBatch([_as_resolution(r) for r in rs], list(signatures))
        return self.chain.transact(submitter, fn, gas=400_000 + 180_000 * len(rs))

    def redeem(self, bettor, market_id: str):
        from oracle.canonical import to_bytes32

        return self.chain.transact(bettor, self.market.functions.redeem(to_bytes32(market_id)), gas=300_000)


def happy_path_rows(chain, size: int = 64, window: int = 3600) -> dict:
    """What the dispute window costs a market nobody disputes, measured before the court and now: `size`
    markets registered, one bet each, settled in one 7-of-10 `resolveBatch`, redeemed. Now: the minimum
    fee escrowed at registration, `window` seconds waited out, and BinaryMarket reading final through
    the court; before: no fee, the market reading the oracle directly."""
    from oracle.batch import batch_signable, leaf, merkle_root
    from oracle.canonical import keccak_hex
    from oracle.eip712 import Resolution, signable
    from oracle.signer import LocalSigner

    dep, keys, creator, submitter, deployer = setup(chain, 10, 7, with_deployer=True)
    old = _BeforeCourt(chain, deployer, [k.address for k in keys], 7)
    bettor = LocalSigner.create()
    chain.fund(bettor.address, 10**21)
    fee = dep.court.parameters().min_fee
    model = keccak_hex(b"model")
    stake = 10**15

    def one_side(label: str, register, deposit, resolve_batch, resolve, redeem, domain, wait: int) -> dict:
        now = chain.timestamp()
        close_at, resolve_at = now + 600, now + 1200
        gas = {"register": [], "deposit": [], "redeem": []}
        rs = []
        for i in range(size):
            mid, receipt = register(keccak_hex(f"happy-{label}-{i}".encode()), close_at, resolve_at)
            gas["register"].append(receipt["gasUsed"])
            r = Resolution(mid, 0, i % 2, 600_000, model, keccak_hex(b"i%d" % i), keccak_hex(b"p%d" % i))
            gas["deposit"].append(deposit(mid, r.outcome)["gasUsed"])
            rs.append(r)
        # one more market through the single-market path (`resolve`), for the per-proposal delta
        mid, _ = register(keccak_hex(f"happy-{label}-single".encode()), close_at, resolve_at)
        one = Resolution(mid, 0, 1, 600_000, model, keccak_hex(b"i"), keccak_hex(b"p"))
        chain.advance_time(resolve_at - chain.timestamp() + 1)
        root = merkle_root([leaf(r) for r in rs])
        batch = resolve_batch(rs, [k.sign_message(batch_signable(domain, root, size)) for k in keys[:7]])["gasUsed"]
        single = resolve(one, [k.sign_message(signable(domain, one)) for k in keys[:7]])["gasUsed"]
        chain.advance_time(wait + 1)  # the window passes with no dispute: final
        for r in rs:
            gas["redeem"].append(redeem(r.market_id)["gasUsed"])
        return {"register_per_market_gas": round(sum(gas["register"]) / size),
                "deposit_per_market_gas": round(sum(gas["deposit"]) / size),
                "resolve_batch_per_market_gas": round(batch / size),
                "redeem_per_market_gas": round(sum(gas["redeem"]) / size),
                "total_per_market_gas": round((sum(gas["register"]) + sum(gas["deposit"]) + batch
                                               + sum(gas["redeem"])) / size),
                "resolve_single_7of10_gas": single}

    before = one_side(
        "before", lambda h, c, ra: old.register(creator, h, model, c, ra),
        lambda m, o: old.deposit(bettor, m, o, stake), lambda rs, s: old.resolve_batch(submitter, rs, s),
        lambda r, s: old.resolve(submitter, r, s), lambda m: old.redeem(bettor, m), old.domain, 0)
    now = one_side(
        "now", lambda h, c, ra: dep.register_market(creator, spec_hash=h, model_id=model, resolve_at=ra, close_at=c,
                                                    outcome_count=2, quorum=1, dispute_window=window, fee=fee),
        lambda m, o: dep.deposit(bettor, m, o, stake), lambda rs, s: dep.resolve_batch(submitter, rs, s),
        lambda r, s: dep.resolve(submitter, r, s), lambda m: dep.redeem(bettor, m)[1], dep.domain, window)
    delta = {k: now[k] - before[k] for k in before}
    return {"batch": size, "dispute_window_s": window, "fee_wei": fee, "before_court": before, "with_court": now,
            "extra_gas_per_market": delta}


def court_rows(chain, zk) -> dict:
    """DisputeCourt on a bonded 7-of-10 set (a fresh replay chain: the zk market registers before its
    trading closes, then time moves to its resolve time)."""
    from dataclasses import replace

    from oracle.canonical import keccak_hex
    from oracle.eip712 import Resolution, signable
    from oracle.errors import ChainError
    from oracle.signer import LocalSigner
    from oracle.staking import ETH, Staking, StakingParameters

    dep, keys, creator, submitter, deployer = setup(chain, 10, 7, with_deployer=True)
    staking = Staking.deploy(dep, deployer, StakingParameters(max_validators=256, epoch_length=3600))
    for k in keys:
        chain.fund(k.address, 3 * ETH)
        staking.join(k, 2 * ETH)
    staking.advance_epoch(deployer)
    court = dep.court
    disputer, arbiter, prover = (LocalSigner.create() for _ in range(3))
    for s in (disputer, arbiter, prover):
        chain.fund(s.address, 10 * ETH)
    params = court.parameters()
    fee = 10 * params.min_fee
    model = keccak_hex(b"model")
    window = 3600
    rows: dict = {"members": 10, "threshold": dep.threshold(), "parameters": params.to_json(), "fee_wei": fee,
                  "dispute_window_s": window}

    def plain(tag: str, outcome: int = 1):
        mid, receipt = dep.register_market(creator, spec_hash=keccak_hex(tag.encode()), model_id=model, resolve_at=1,
                                           outcome_count=2, quorum=1, dispute_window=window, fee=fee)
        return Resolution(mid, 0, outcome, 600_000, model, keccak_hex(b"i" + tag.encode()),
                          keccak_hex(b"p" + tag.encode())), receipt

    def propose(r):
        return dep.resolve(submitter, r, [k.sign_message(signable(dep.domain, r)) for k in keys[:7]])["gasUsed"]

    w, receipt = plain("court-final")
    rows["register_with_fee_gas"] = receipt["gasUsed"]
    x, _ = plain("court-vote", outcome=1)  # proposed 1; the escalated quorum rules 0
    y, _ = plain("court-arbiter")
    z, _ = plain("court-timeout")
    v, _ = plain("court-emergency")  # never proposed: governance resolves it
    zk_markets = {}
    if "error" not in zk:
        from oracle.bundle import felt_to_uint
        from oracle.models import inputs_hash
        from validators.checks import rule_decision

        record, spec, bundle, art = zk
        verifier = chain.deploy(deployer, art)
        dep.register_verifier(deployer, record.model_id, verifier.address, record.circuit(1).vk, record.n_inputs)
        values = record.row(list(bundle.instances[0]), list(bundle.input_preimage), 1, 0)
        instances = [felt_to_uint(f) for f in bundle.instances[0]]
        for label, w_s in (("agrees", window), ("overturned", window + 1)):  # two market ids, one proof
            s = replace(spec, dispute_window=w_s)
            dep.register_market(creator, **s.onchain(), fee=fee)  # its rule's hash is part of its id
            rows.setdefault("set_rule_gas", court.set_rule(submitter, s.market_id, s.zk_rule().as_tuple())["gasUsed"])
            final = s.round(s.final_round)
            d = rule_decision(s, final, record, record.circuit(1), values.outputs)
            outcome = d.outcome if label == "agrees" else 1 - d.outcome
            zk_markets[label] = Resolution(s.market_id, final.index, outcome, d.probability_ppm, record.model_id,
                                           inputs_hash(list(bundle.instances[0][: record.n_inputs])), bundle.proof_hash)

    # governance: an arbiter, behind the public delay
    rows["queue_parameters_gas"] = court.queue_parameters(deployer, replace(params, arbiter=arbiter.address))["gasUsed"]
    chain.advance_time(2 * 86400 + 1)
    rows["execute_parameters_gas"] = court.execute_parameters(submitter)["gasUsed"]
    rows["queue_emergency_gas"] = court.queue_emergency_resolution(deployer, v.market_id)["gasUsed"]
    if zk_markets:
        chain.advance_time(max(0, spec.resolve_at_unix - chain.timestamp()))

    rows["propose_gas_7of10"] = propose(w)
    for r in (x, y, z, *zk_markets.values()):
        propose(r)
    rows["dispute_gas"] = court.dispute(disputer, x.market_id)["gasUsed"]
    for r in (y, z, *zk_markets.values()):
        court.dispute(disputer, r.market_id)
    if zk_markets:
        rows["settle_by_proof_overturned_gas"] = court.settle_by_proof(submitter, zk_markets["overturned"].market_id,
                                                                       bundle.proof_bytes, instances)["gasUsed"]
        try:  # a proof that agrees with the proposal settles nothing: its observations may be made up
            court.settle_by_proof(submitter, zk_markets["agrees"].market_id, bundle.proof_bytes, instances)
            rows["settle_by_proof_agreeing"] = "settled"
        except ChainError as err:
            rows["settle_by_proof_agreeing"] = f"reverted: {err.error}"
        agrees = zk_markets["agrees"]
        rulings = [court.ruling_signature(k, agrees.market_id, agrees.outcome) for k in keys[:8]]
        rows["settle_by_vote_upheld_gas"] = court.settle_by_vote(submitter, agrees.market_id, agrees.outcome,
                                                                 rulings)["gasUsed"]
        rows["zk_rulings"] = {k: court.case_of(r.market_id).ruling for k, r in zk_markets.items()}
    else:
        rows["settle_by_proof"] = zk
    e = court.escalated_quorum(x.market_id)
    rulings = [court.ruling_signature(k, x.market_id, 0) for k in keys[:e]]
    rows["settle_by_vote_overturned_gas"] = court.settle_by_vote(submitter, x.market_id, 0, rulings)["gasUsed"]
    rows["settle_by_vote_signatures"] = e
    rows["settle_by_arbiter_gas"] = court.settle_by_arbiter(arbiter, y.market_id, y.outcome)["gasUsed"]

    # the undisputed proposal: final after the window; its fee paid out
    chain.advance_time(window + 1)
    rows["finalize_gas"] = court.finalize(submitter, w.market_id)["gasUsed"]
    votes = [k.sign_message(signable(dep.domain, w)) for k in keys[:7]]
    recording = dep.members_of_epoch(dep.resolution_of(w.market_id).epoch)  # the set that recorded it
    rows["claim_signer_fee_first_gas"] = court.claim_signer_fee(submitter, w.market_id, votes[0], recording)["gasUsed"]
    rows["claim_signer_fee_gas"] = court.claim_signer_fee(submitter, w.market_id, votes[1], recording)["gasUsed"]
    credits = [(k.address, court.prover_credit_signature(k, w.market_id, w.proof_hash, prover.address))
               for k in keys[:6]]  # a strict majority of the recording set (and the market's quorum)
    rows["claim_prover_fee_gas"] = court.claim_prover_fee(submitter, w.market_id, prover.address, credits,
                                                          recording)["gasUsed"]
    rows["prover_credits"] = len(credits)
    rows["prover_share_wei"] = court.owed(prover.address)
    rows["signer_share_wei"] = court.owed(keys[0].address)
    rows["withdraw_gas"] = court.withdraw(keys[0])["gasUsed"]

    # nothing settles a dispute in time: INVALID, the bond burned, the fee back to the creator; a due
    # emergency resolution (INVALID)
    chain.advance_time(7 * 86400 + 1)
    rows["settle_by_timeout_gas"] = court.settle_by_timeout(submitter, z.market_id)["gasUsed"]
    rows["refund_fee_gas"] = court.refund_fee(creator, z.market_id)["gasUsed"]
    rows["execute_emergency_gas"] = court.execute_emergency_resolution(submitter, v.market_id)["gasUsed"]
    rows["queue_pause_gas"] = court.queue_pause(deployer)["gasUsed"]
    chain.advance_time(2 * 86400 + 1)
    rows["execute_pause_gas"] = court.execute_pause(submitter)["gasUsed"]
    rows["unpause_gas"] = court.unpause(deployer)["gasUsed"]

    # the signers of an overturned resolution lose their bonds (the set is re-installed on the oracle)
    overturned = zk_markets.get("overturned", x)
    sig = keys[0].sign_message(signable(dep.domain, overturned))
    rows["slashed_bond_wei"] = staking.bond_of(keys[0].address).bond
    rows["slash_overturned_gas_n10"] = staking.slash_overturned(submitter, overturned.market_id, sig)["gasUsed"]
    rows["slashed_is_member"] = keys[0].address in staking.members()
    rows["disputer_owed_wei"] = court.owed(disputer.address)
    return rows


def _replay_chain(kind: str, fn):
    """`fn(chain)` on a fresh replay chain (genesis REPLAY_START) of `kind`: embedded or anvil (stopped after)."""
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    if kind != "anvil":
        return fn(Chain.embedded(start=REPLAY_START))
    node = start_anvil(log_dir=Path(tempfile.mkdtemp()), timestamp=REPLAY_START)
    try:
        return fn(Chain.rpc(node.url))
    finally:
        node.stop()


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
    # the verifier's profile: the same call sent as a transaction, traced (anvil)
    verify_receipt = chain.transact(deployer, verifier.functions.verifyProof(bundle.proof_bytes, instances))
    verify_profile = profile(chain, verify_receipt, {verifier.address[2:].lower(): "verifier"})
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
            "verify_proof_gas": verify_gas, "resolve_zk_gas_7of10": resolve_gas,
            "public_instances": len(instances), "proof_bytes": len(bundle.proof_bytes),
            "verify_proof_profile": verify_profile}


def run(chain, zk=None) -> dict:
    from oracle.batch import batch_signable, leaf, merkle_proof, merkle_root
    from oracle.eip712 import signable

    # first: its market must still be trading (requireZk), and the staking rows wait out an unbonding
    zk_rows = zk_path(chain, zk) if zk else None
    zk_floor = zk_minimal_verifier(chain) if zk else None

    ecdsa = {}
    for t, n in ((3, 4), (5, 7), (7, 10), (13, 20), (67, 100)):
        dep, keys, creator, submitter = setup(chain, n, t)
        (r,) = markets(dep, creator, 1, f"t{t}-")
        sigs = [k.sign_message(signable(dep.domain, r)) for k in keys[:t]]
        receipt = dep.resolve(submitter, r, sigs)
        ecdsa[t] = receipt["gasUsed"]
        if t == 7:
            ecdsa_profile = profile(chain, receipt, _names(dep))
            ecdsa_calldata = calldata_gas(chain, receipt)
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
    ctf = ctf_settlement_rows(chain)
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
        "zk_path": zk_rows,
        "ctf_settlement_batch64": ctf,
        "issue15_goals": issue15_goals(ecdsa[7], ecdsa_profile, ecdsa_calldata, blsr, ctf, zk_rows, zk_floor),
    }


def goals_rows(chain, zk) -> dict:
    """Issue 15's rows alone (`--only goals`): the 7-of-10 ECDSA and BLS one-market resolves with their
    profiles, the CTF settlement of 64 markets, the ZK path with the smallest circuit's verifier (its floor)."""
    from oracle.batch import leaf, merkle_root
    from oracle.eip712 import signable

    zk_rows = zk_path(chain, zk) if zk else None  # first: its market must still be trading (requireZk)
    zk_floor = zk_minimal_verifier(chain) if zk else None
    dep, keys, creator, submitter = setup(chain, 10, 7)
    (r,) = markets(dep, creator, 1, "goal-ecdsa-")
    receipt = dep.resolve(submitter, r, [k.sign_message(signable(dep.domain, r)) for k in keys[:7]])
    ecdsa_profile, ecdsa_calldata = profile(chain, receipt, _names(dep)), calldata_gas(chain, receipt)
    dep, bkeys, creator, submitter = bls_setup(chain, 10, 7)
    (b,) = markets(dep, creator, 1, "goal-bls-")
    bls_receipt = dep.resolve_batch_bls(submitter, [b], *bls_sign(dep, bkeys, range(7), merkle_root([leaf(b)]), 1))
    blsr = {"resolve_gas_by_t": {7: bls_receipt["gasUsed"]},
            "profile_resolve_7of10": profile(chain, bls_receipt, _names(dep))}
    ctf = ctf_settlement_rows(chain)
    return {"issue15_goals": issue15_goals(receipt["gasUsed"], ecdsa_profile, ecdsa_calldata, blsr, ctf, zk_rows,
                                           zk_floor),
            "ctf_settlement_batch64": ctf, "zk_path": zk_rows}


def ctf_settlement_rows(chain, size: int = 64) -> dict:
    """Full settlement of `size` markets linked to Conditional Tokens conditions (7-of-10): one
    `resolveBatch` recording every market, then one `CTFAdapter.reportBatch` reporting every payout
    vector (a zero dispute window: final as recorded), per market. The CTF is `ConditionalTokensLite`,
    whose `reportPayouts` writes what Gnosis' does per condition (each payout numerator, the payout
    denominator); its own cost is measured alone too: `reportPayouts` of one prepared condition sent by
    its oracle (an account), less the 21,000 of the transaction."""
    from network.provision import deploy, fund
    from oracle.batch import batch_signable, leaf, merkle_root
    from oracle.canonical import keccak_hex, to_bytes32
    from oracle.signer import LocalSigner

    deployer, creator, submitter = (LocalSigner.create() for _ in range(3))
    fund(chain, (deployer, creator, submitter), amount=10**21)
    keys = sorted((LocalSigner.create() for _ in range(10)), key=lambda k: int(k.address, 16))
    dep = deploy(chain, deployer, keys, 7, ctf="dev")
    adapter = chain.contract("CTFAdapter", dep.addresses["CTFAdapter"])
    ctf = chain.contract("ConditionalTokensLite", dep.addresses["ConditionalTokens"])
    rs = markets(dep, creator, size, "ctf-")
    link_gas = [chain.transact(creator, adapter.functions.prepare(to_bytes32(r.market_id),
                                                                  to_bytes32(keccak_hex(b"q%d" % i))))["gasUsed"]
                for i, r in enumerate(rs)]
    root = merkle_root([leaf(r) for r in rs])
    resolve = dep.resolve_batch(submitter, rs, [k.sign_message(batch_signable(dep.domain, root, size))
                                                for k in keys[:7]])["gasUsed"]
    ids = [to_bytes32(r.market_id) for r in rs]
    report = chain.transact(submitter, adapter.functions.reportBatch(ids), gas=200_000 + 120_000 * size)["gasUsed"]
    assert all(adapter.functions.reported(i).call() for i in ids)
    # one more market reported alone (its own transaction), and the CTF's floor: reportPayouts by its oracle
    (one,) = markets(dep, creator, 1, "ctf-one-")
    chain.transact(creator, adapter.functions.prepare(to_bytes32(one.market_id), to_bytes32(keccak_hex(b"q-one"))))
    one_root = leaf(one)
    dep.resolve_batch(submitter, [one], [k.sign_message(batch_signable(dep.domain, one_root, 1)) for k in keys[:7]])
    report_one = chain.transact(submitter, adapter.functions.report(to_bytes32(one.market_id)))["gasUsed"]
    question = to_bytes32(keccak_hex(b"floor"))
    chain.transact(submitter, ctf.functions.prepareCondition(submitter.address, question, 2))
    floor = chain.transact(submitter, ctf.functions.reportPayouts(question, [0, 1]))["gasUsed"] - 21_000
    return {"markets": size, "link_per_market_gas": round(sum(link_gas) / size),
            "resolve_batch_per_market_gas": round(resolve / size),
            "report_batch_per_market_gas": round(report / size),
            "settlement_per_market_gas": round((resolve + report) / size),
            "report_one_market_gas": report_one,
            "ctf_report_payouts_alone_gas": floor}


def issue15_goals(ecdsa7: int, ecdsa_profile, ecdsa_calldata: dict, blsr: dict, ctf: dict, zk,
                  zk_floor: dict | None = None) -> dict:
    """Issue 15's gas goals, measured / goal, each with what bounds it: the profile of the measured
    transaction (anvil's opcode trace) and the floor the EVM's prices put under it. `zk_floor`: the
    smallest circuit's verifier (`zk_minimal_verifier`), the ZK row's floor."""
    def row(name: str, measured: int, **more) -> dict:
        goal = GOALS_15[name]
        return {"measured": measured, "goal": goal, "measured_over_goal": round(measured / goal, 3),
                "met": measured <= goal, **more}

    ecdsa_floor = (ecdsa_calldata["intrinsic_gas"] + ecdsa_calldata["calldata_gas"] + 7 * ECRECOVER_GAS
                   + RECORD_SLOTS * FRESH_SLOT_GAS)
    # the checks a resolve cannot drop, each at its cheapest possible form: that the 7 signers are members
    # (the 10-member set passed in calldata and hashed against one stored slot, cheaper than 7 cold reads),
    # that the market is registered and due (one cold slot, were the registry in the oracle itself), and
    # the event that carries the resolution to readers (the two-slot record keeps only its hash; the
    # event's cost by the EVM's prices, from the receipt)
    member_set_calldata = 10 * (12 * 4 + 20 * 16)  # 10 addresses, each 12 zero and 20 non-zero bytes
    checks = {"member_set_in_calldata": member_set_calldata, "member_set_hash_slot": COLD_SLOAD_GAS,
              "registration_slot": COLD_SLOAD_GAS, "resolved_event": ecdsa_calldata["logs_gas"]}
    bls_profile = blsr.get("profile_resolve_7of10")
    out = {
        "ecdsa_resolve_7of10": row(
            "ecdsa_resolve_7of10", ecdsa7, profile=ecdsa_profile, bounds={
                "floor_gas": ecdsa_floor,
                "floor_is": "21,000 + this transaction's calldata (7 signatures, the resolution) + 7 ecrecover "
                            f"(3,000) + the record's {RECORD_SLOTS} fresh slots ({FRESH_SLOT_GAS:,} each), before "
                            "any read (7 members' isValidator, the market's 2 registry slots), the event or logic",
                "floor_with_checks_gas": ecdsa_floor + sum(checks.values()),
                "checks": checks,
                "floor_with_checks_is": "the floor + the checks no design can drop, each in its cheapest form: "
                                        "membership of the signers (the member set in calldata against one "
                                        "stored hash), the market's registration (one slot, were the registry "
                                        "inside the oracle) and the event carrying the resolution. Above the "
                                        "goal before any ABI decoding, EIP-712 hashing or loop: 110k cannot be "
                                        "met with these checks"}),
        "bls_resolve_7of10": row(
            "bls_resolve_7of10", blsr["resolve_gas_by_t"][7], profile=bls_profile, bounds={
                "pairing_2_pairs_gas": BLS_PAIRING_2_GAS,
                "fresh_slots": RECORD_SLOTS + 2,
                "fresh_slots_are": "the record (2), the accepted root and its BLS signer bitmap (2: the bitmap "
                                   "names who signed, for slashing)",
                "floor_is": "21,000 + calldata (the 10 members' 128-byte keys, the 256-byte signature) + the "
                            "pairing + hash-to-G2 (2 map_fp2_to_g2 + expand_message sha256) + the fresh slots"}),
        "settlement_with_ctf_report_per_market_batch64": row(
            "settlement_with_ctf_report_per_market_batch64", ctf["settlement_per_market_gas"], bounds={
                "ctf_report_payouts_alone_gas": ctf["ctf_report_payouts_alone_gas"],
                "record_fresh_slots_gas": RECORD_SLOTS * FRESH_SLOT_GAS,
                "floor_per_market_gas": ctf["ctf_report_payouts_alone_gas"] + RECORD_SLOTS * FRESH_SLOT_GAS,
                "floor_is": "the CTF's own reportPayouts (a fresh payout numerator and denominator per "
                            "condition, as Gnosis' contract writes them) + the oracle's record of the market: "
                            "above the goal before any check, read or the batch's share of its signatures"}),
    }
    if isinstance(bls_profile, dict):
        h2c = sum(bls_profile.get(k, 0) for k in ("sha256", "bls_map_fp2_to_g2", "bls_g2add"))
        out["bls_resolve_7of10"]["bounds"]["hash_to_g2_gas"] = h2c
        out["bls_resolve_7of10"]["bounds"]["floor_gas"] = (bls_profile["intrinsic_gas"] + bls_profile["calldata_gas"]
                                                           + BLS_PAIRING_2_GAS + h2c
                                                           + (RECORD_SLOTS + 2) * FRESH_SLOT_GAS)
        # under any design: the transaction, the pairing, hashing the message to G2 and the record, with no
        # calldata, no key, no root and no signer bitmap at all
        any_design = 21_000 + BLS_PAIRING_2_GAS + h2c + RECORD_SLOTS * FRESH_SLOT_GAS
        out["bls_resolve_7of10"]["bounds"].update(
            floor_any_design_gas=any_design,
            floor_any_design_is="21,000 + the 2-pair pairing + hash to G2 + the record's 2 fresh slots, before any "
                                "calldata (signature, keys), key aggregation, root or signer bitmap: "
                                + ("above" if any_design > GOALS_15["bls_resolve_7of10"] else "within")
                                + f" the {GOALS_15['bls_resolve_7of10']:,} goal")
    if isinstance(zk, dict) and "verify_proof_gas" in zk:
        out["zk_path_per_proof"] = row(
            "zk_path_per_proof", zk["resolve_zk_gas_7of10"], verify_proof_gas=zk["verify_proof_gas"],
            bounds={"verifier_alone_gas": zk["verify_proof_gas"], "verifier_profile": zk.get("verify_proof_profile"),
                    "public_instances": zk.get("public_instances"),
                    "floor_is": "the generated ezkl (halo2 KZG) verifier's verifyProof alone, before the "
                                "quorum and the record; its profile: BN254 scalar multiplications (one per "
                                "commitment the circuit's columns and lookups open) and the pairing are most of "
                                "it, then the proof's calldata. The circuit has only `public_instances` public "
                                "instances: hashing them into one saves little; what would cut it is a circuit "
                                "with fewer committed columns, not done in this change"})
        if zk_floor is not None:
            out["zk_path_per_proof"]["bounds"].update(_zk_floor(zk, zk_floor))
    else:
        out["zk_path_per_proof"] = {"goal": GOALS_15["zk_path_per_proof"], "measured": None, "why": zk}
    return out


def _zk_floor(zk: dict, floor: dict) -> dict:
    """The ZK row's floor: the smallest verifier measured plus what resolveZk spends around its own."""
    goal = GOALS_15["zk_path_per_proof"]
    overhead = zk["resolve_zk_gas_7of10"] - zk["verify_proof_gas"]
    measured = {k: v for k, v in floor.get("variants", {}).items() if "verify_proof_gas" in v}
    if not measured:
        return {"smallest_circuit_verifier": floor}
    label, least = min(measured.items(), key=lambda kv: kv[1]["verify_proof_gas"])
    v = least["verify_proof_gas"]
    bound = v + overhead
    prof = least.get("verify_proof_profile")
    precompiles = sum(prof.get(k, 0) for k in ("bn254_pairing", "bn254_mul")) if isinstance(prof, dict) else 0
    return {
        "smallest_circuit_verifier": floor,
        "resolve_zk_overhead_gas": overhead,
        "smallest_verifier_gas": v,
        "floor_gas": bound,
        "verifier_budget_under_goal_gas": goal - overhead,
        "floor_is": f"the smallest circuit ezkl {_ezkl_version()} makes here ({least['circuit']}; "
                    f"{least['proof_bytes']} proof bytes, {least['public_instances']} public instances; variant "
                    f"{label!r}) verifies for {v:,} gas; resolveZk spends {overhead:,} around its verifier "
                    f"({zk['resolve_zk_gas_7of10']:,} - {zk['verify_proof_gas']:,}: the quorum, the inputs check, "
                    f"the record), so a ZK resolve costs at least {v:,} + {overhead:,} = {bound:,} gas, "
                    + (f"{bound - goal:,} over the {goal:,} goal: the verifier alone would have to cost "
                       f"{goal - overhead:,} or less, {v - (goal - overhead):,} under ezkl's smallest, whose "
                       f"pairing check and BN254 scalar multiplications alone take {precompiles:,}. Not reachable "
                       "with ezkl's halo2 KZG verifier (the leanest variant even drops the range checks on the "
                       "public inputs and output: a lower bound, not a proposal)"
                       if bound > goal else f"within the {goal:,} goal")}


def _ezkl_version() -> str:
    import ezkl

    return ezkl.__version__


def zk_inputs():
    """The resolver's circuit record, "BTC above $4,000 on 2019-03-23?" as a plain market (quorum 1), a real
    proof of it from the bundled providers, and the generated verifier's artifact (or {"error": why})."""
    from dataclasses import replace

    from markets.demo import DEMO_MARKETS, demo_spec
    from markets.feeds import load_source
    from oracle import config
    from oracle.errors import ProvingError
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.evm import evm_verifier
    from provers.prover import EzklProver
    from provers.resolvers import compile_resolver

    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="gas-")) / "store")
    above = replace(DEMO_MARKETS[0], forecast=None)
    circuit = compile_resolver(store, config.cache_dir(), above.width)
    spec = demo_spec(above, lambda width: circuit.model_id, None, quorum=1)
    bundle = EzklProver(circuit, LocalSigner.create()).prove(spec, load_source)
    try:
        return (circuit.record, spec, bundle, evm_verifier(circuit, store)[1])
    except ProvingError as e:
        return {"error": f"resolver {circuit.model_id}: {e}"}


# the run args of the smallest circuit: the resolver's (scale 0, logrows 11, range checks in base 2^10
# over 3 legs), then ezkl's leanest: one inner column, no range checks on the public inputs and output
FLOOR_VARIANTS = {
    "project_run_args": {},
    "ezkl_minimal": {"num_inner_cols": 1, "ignore_range_check_inputs_outputs": True},
}


def zk_minimal_verifier(chain) -> dict:
    """verifyProof of the smallest circuit ezkl makes for this project's settings, each variant of
    FLOOR_VARIANTS compiled through `compile_model` (public inputs and output, fixed params, scale 0,
    logrows 11), proven on one input (mock, then prove in a child process with a timeout), its generated
    verifier compiled with the pinned solc and deployed on `chain`. The first variant's figures at the
    top; every variant under "variants" (or {"error": why})."""
    import torch

    from network.provision import fund
    from oracle import config
    from oracle.bundle import felt_to_uint
    from oracle.errors import ProvingError
    from oracle.signer import LocalSigner
    from oracle.store import ArtifactStore
    from provers.circuit import compile_model
    from provers.evm import evm_verifier
    from provers.prover import EzklProver
    from provers.resolvers import DECOMP_BASE, DECOMP_LEGS, LOGROWS

    class FloorSub(torch.nn.Module):
        """The smallest circuit a resolver can be: [x, c] -> [x - c] (the resolver at one comparison)."""

        def forward(self, x):
            return x[:, :1] - x[:, 1:2]

    store = ArtifactStore(Path(tempfile.mkdtemp(prefix="gas-floor-")) / "store")
    deployer = LocalSigner.create()
    fund(chain, (deployer,), amount=10**21)
    base = {"input_scale": 0, "param_scale": 0, "logrows": LOGROWS, "decomp_base": DECOMP_BASE,
            "decomp_legs": DECOMP_LEGS}
    variants = {}
    for label, extra in FLOOR_VARIANTS.items():
        run_args = {**base, **extra}
        try:
            model = compile_model(FloorSub(), name=f"zk-floor-minimal-{label}", family="resolver", n_inputs=2,
                                  recipe="zk_floor_v1", calibration=[[5.0, 3.0], [-7.0, 2.0], [0.0, 0.0]],
                                  input_bound=float(1 << 20), cache=config.cache_dir(), store=store, scales=(),
                                  run_args=run_args)
            settings = json.loads((model.directories[1] / "settings.json").read_text())
            # the project's own prove path: witness, mock, prove in a child process with its timeout
            bundle = EzklProver(model, deployer).prove_features("0x" + "00" * 32, [5.0, 3.0])
            art = evm_verifier(model, store)[1]
        except ProvingError as e:
            variants[label] = {"error": f"{type(e).__name__}: {e}"}
            continue
        proof_bytes = bundle.proof_bytes
        instances = [felt_to_uint(f) for f in bundle.instances[0]]
        verifier = chain.deploy(deployer, art)
        gas = verifier.functions.verifyProof(proof_bytes, instances).estimate_gas({"from": deployer.address}) - 21_000
        receipt = chain.transact(deployer, verifier.functions.verifyProof(proof_bytes, instances))
        variants[label] = {
            "circuit": "[x, c] -> [x - c] (torch x[:, :1] - x[:, 1:2]), public inputs and output, fixed params, "
                       f"scale 0, run args {json.dumps({k: v for k, v in run_args.items() if 'scale' not in k})}",
            "logrows": settings["run_args"]["logrows"], "num_rows": settings.get("num_rows"),
            "required_range_checks": settings.get("required_range_checks"),
            "public_instances": len(instances), "proof_bytes": len(proof_bytes),
            "verifier_bytes": (len(art["deployedBytecode"]) - 2) // 2,
            "verify_proof_gas": gas,
            "verify_proof_profile": profile(chain, receipt, {verifier.address[2:].lower(): "verifier"})}
    first = variants[next(iter(FLOOR_VARIANTS))]
    return {**first, "variants": variants}


def court_and_happy_path(kind: str, zk) -> dict:
    import subprocess

    try:  # the "before" side is read from git history: a shallow clone lacks it
        _artifact_before_court("MarketRegistry")
        happy = _replay_chain(kind, happy_path_rows)
    except subprocess.CalledProcessError as e:
        happy = {"error": f"contracts of {BEFORE_COURT} not in this clone's history: {e.stderr.strip()[:200]}"}
    return {"court": _replay_chain(kind, lambda chain: court_rows(chain, zk)), "dispute_window_happy_path": happy}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", default="embedded,anvil")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gas.json"))
    ap.add_argument("--only", choices=["staking", "court", "goals"],
                    help="Only these rows, printed (the results file is kept).")
    args = ap.parse_args()
    if args.only == "staking":
        print(json.dumps({"benchmark": "gas", "only": "staking", "chains": {
            kind: _on_chain(kind, staking_rows) for kind in args.chains.split(",")}}, indent=2))
        return
    zk = zk_inputs()
    if args.only == "goals":
        print(json.dumps({"benchmark": "gas", "only": "goals", "chains": {
            kind: _on_chain(kind, lambda chain: goals_rows(chain, zk), start=REPLAY_START)
            for kind in args.chains.split(",")}}, indent=2))
        return
    if args.only == "court":
        print(json.dumps({"benchmark": "gas", "only": "court", "chains": {
            kind: court_and_happy_path(kind, zk) for kind in args.chains.split(",")}}, indent=2))
        return
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    result = {"benchmark": "gas", "chains": {}}
    for kind in args.chains.split(","):
        if kind == "anvil":
            node = start_anvil(log_dir=Path(tempfile.mkdtemp()), timestamp=REPLAY_START, steps_tracing=True)
            try:
                result["chains"]["anvil"] = run(Chain.rpc(node.url), zk)
            finally:
                node.stop()
        else:
            result["chains"]["embedded"] = run(Chain.embedded(start=REPLAY_START), zk)
        result["chains"][kind].update(court_and_happy_path(kind, zk))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _on_chain(kind: str, fn, start: int | None = None):
    """`fn(chain)` on a fresh embedded chain or a fresh anvil (stopped after; it traces opcodes), whose
    genesis is at `start` if given."""
    from oracle.anvil import start_anvil
    from oracle.chain import Chain

    if kind != "anvil":
        return fn(Chain.embedded(start=start))
    node = start_anvil(log_dir=Path(tempfile.mkdtemp()), timestamp=start, steps_tracing=True)
    try:
        return fn(Chain.rpc(node.url))
    finally:
        node.stop()


if __name__ == "__main__":
    main()
