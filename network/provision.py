"""Provisioning, in one place: keys from encrypted keystores, funding from a dev node, the
contract deployment (with bonded validators when asked: `ValidatorStaking` owns the oracle's set),
and validators' BLS keys registered with their proofs of possession.

Used by `oracle node init` (one operator, every role in one home), `oracle chain deploy` and
`oracle devnet up` (every role its own home).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from oracle.chain import Chain
from oracle.deployment import Deployment
from oracle.keystore import KeyStore
from oracle.signer import Signer
from oracle.staking import Staking, StakingParameters, bond_validators

ETH = 10**18


def fund(chain: Chain, signers: Iterable[Signer], *, below: int = ETH, amount: int = 100 * ETH) -> None:
    """Top up from the node's unlocked dev account every signer holding less than `below`."""
    for s in signers:
        if chain.balance(s.address) < below:
            chain.fund(s.address, amount)


def deploy(chain: Chain, deployer: Signer, validators: Sequence[Signer], threshold: int, *,
           save_to: Iterable[Path] = (), ctf: str | None = None, bond: int | None = None,
           staking: StakingParameters | None = None) -> Deployment:
    """Deploy the contract set with `validators` as the set, in the order given (a member's index
    names it in BLS signer bitmaps), and t = threshold; record the deployment in each directory of
    `save_to`. With `bond` (wei): a `ValidatorStaking` takes the oracle over, each validator bonds
    that much (funded from the dev account when short) and the first epoch installs them, with a
    threshold rule that gives t for this n (`staking`: other parameters)."""
    if not 1 <= threshold <= len(validators):
        raise ValueError(f"threshold {threshold} must be 1..{len(validators)}")
    dep = Deployment.deploy(chain, deployer, [v.address for v in validators], threshold, ctf=ctf)
    if bond is not None:
        params = staking or StakingParameters.for_threshold(len(validators), threshold, min_bond=min(bond, ETH),
                                                            epoch_length=3600, unbonding_delay=15 * 86_400)
        fund(chain, validators, below=bond + ETH, amount=bond + 10 * ETH)
        bond_validators(Staking.deploy(dep, deployer, params), list(validators), bond, deployer)
    for directory in save_to:
        dep.save(directory)
    return dep


def register_bls_keys(dep: Deployment, validators: Sequence[tuple[Signer, KeyStore, str]], password: str, *,
                      fund_first: bool = True) -> int:
    """Give each validator (its account, its keystore, its key name) a BLS key, registered on-chain
    with its proof of possession (the validator pays the gas: `fund_first` tops it up from the dev
    account). Returns how many were registered."""
    if fund_first:
        fund(dep.chain, [v for v, _, _ in validators], below=ETH // 10, amount=ETH)
    for signer, keystore, name in validators:
        key = keystore.ensure_bls(name, password)
        dep.register_bls_key(signer, key.public_key, key.proof_of_possession(signer.address))
    return len(validators)


def provision_node(home: Path, rpc_url: str, *, validators: int, threshold: int, password: str,
                   fund_keys: bool = True, bls: bool = False, ctf: str | None = None,
                   bond: int | None = None) -> tuple[Deployment, dict[str, Signer]]:
    """One operator's node: every role's key in `home/keys`, funded, the contracts deployed and
    recorded in `home/deployments`, BLS keys if asked; with `bond` (wei) the validators bond that much
    in `ValidatorStaking`, which then owns the set. Returns the deployment and the signers."""
    ks = KeyStore(home / "keys")
    validator_names = [f"validator-{i}" for i in range(validators)]
    names = ["deployer", "creator", "submitter", "prover"] + validator_names
    signers = {n: ks.ensure(n, password) for n in names}
    chain = Chain.rpc(rpc_url)
    if fund_keys:
        fund(chain, [signers[n] for n in ("deployer", "creator", "submitter", "prover")])
    dep = deploy(chain, signers["deployer"], [signers[n] for n in validator_names], threshold,
                 save_to=[home / "deployments"], ctf=ctf, bond=bond)
    if bls:
        register_bls_keys(dep, [(signers[n], ks, n) for n in validator_names], password, fund_first=fund_keys)
    return dep, signers
