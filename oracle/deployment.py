"""The deployed contract set (registry, quorum oracle, binary market) and typed calls on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from web3.logs import DISCARD

from .canonical import to_bytes32
from .chain import Chain
from .court import Court, CourtParameters
from .eip712 import RESOLUTION_TYPE, Domain, Resolution
from .errors import ChainError, NotFound
from .records import OnchainResolution, ResolvedEvent, recorded_resolution, resolved_event
from .signer import Signer
from .store import atomic_write

ZERO32 = "0x" + "00" * 32


@dataclass(frozen=True)
class MarketRecord:
    """A market as `MarketRegistry` stores it."""

    market_id: str
    spec_hash: str
    model_id: str  # the resolver
    resolve_at: int
    outcome_count: int
    quorum: int
    creator: str
    forecaster_id: str = "0x" + "00" * 32
    close_at: int = 0
    dispute_window: int = 0  # seconds a quorum resolution stays proposed (disputable) before it is final
    rule_hash: str = "0x" + "00" * 32  # the committed ZkRule's hash (zero: none)
    registered_at: int = 0  # the registering block's timestamp


@dataclass(frozen=True)
class RegisteredEvent:
    """One `MarketRegistered` log of the registry."""

    market_id: str
    spec_hash: str
    model_id: str
    creator: str
    block: int


@dataclass(frozen=True)
class OracleCall:
    """A transaction sent to the oracle, decoded: `function` is the ABI name (`resolve`,
    `resolveBatch`, `resolveZk`, ...), `args` its arguments by ABI name."""

    function: str
    args: dict[str, Any]


@dataclass(frozen=True)
class BatchAcceptedEvent:
    """One `BatchAccepted` (members' ECDSA signatures) or `BatchAcceptedBls` (one aggregate) log:
    a batch root accepted by a transaction; `tx_index` orders it within its block."""

    root: str
    count: int
    bls: bool
    tx_hash: str
    block: int
    tx_index: int


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _as_resolution(r: Resolution) -> tuple:
    """The ABI `Resolution` tuple the settling functions take (whatever signed it decides validity)."""
    return replace(r, final=True).as_tuple()


def resolution_from_abi(t: Sequence[Any]) -> Resolution:
    """A `Resolution` from the ABI struct a settlement call carries (decoded calldata: a tuple, or a
    mapping by the struct's field names)."""
    if isinstance(t, Mapping):
        t = [t[f["name"]] for f in RESOLUTION_TYPE]
    return Resolution(_hex(t[0]), t[1], t[2], t[3], _hex(t[4]), _hex(t[5]), _hex(t[6]))


class Deployment:
    """Typed access to one deployment of MarketRegistry + QuorumOracle + DisputeCourt + BinaryMarket."""

    def __init__(self, chain: Chain, addresses: dict[str, str], *, from_block: int = 0):
        self.chain = chain
        self.addresses = dict(addresses)
        self.from_block = from_block
        self.registry = chain.contract("MarketRegistry", addresses["MarketRegistry"])
        self.oracle = chain.contract("QuorumOracle", addresses["QuorumOracle"])
        self.market = chain.contract("BinaryMarket", addresses["BinaryMarket"])
        self.models = chain.contract("ModelRegistry", addresses["ModelRegistry"])
        self.court = Court(chain, addresses["DisputeCourt"])
        self._registered_at: dict[str, int] = {}
        self._resolutions: dict[str, OnchainResolution] = {}

    @classmethod
    def deploy(cls, chain: Chain, deployer: Signer, validators: Sequence[str], threshold: int, *,
               ctf: str | None = None, court: CourtParameters | None = None) -> "Deployment":
        """The contract set. `ctf`: also a `CTFAdapter` reporting to Gnosis Conditional Tokens at that
        address, or "dev" to deploy `ConditionalTokensLite` for it (development chains). `court`: the
        dispute court's parameters (default `CourtParameters()`)."""
        start = chain.block_number()
        registry = chain.deploy(deployer, "MarketRegistry")
        models = chain.deploy(deployer, "ModelRegistry")
        # two storage writes and a key-slot read per member: a big set outgrows the fixed default
        oracle = chain.deploy(deployer, "QuorumOracle", registry.address, models.address, list(validators), threshold,
                              gas=max(8_000_000, 5_000_000 + 70_000 * len(validators)))
        dispute_court = chain.deploy(deployer, "DisputeCourt", oracle.address, (court or CourtParameters()).as_tuple(),
                                     gas=8_000_000)
        # the registry refuses a quorum the oracle's set can never meet: it reads the set from here on;
        # and it hands each market's fee to the court
        chain.transact(deployer, registry.functions.bindOracle(oracle.address, dispute_court.address),
                       action="MarketRegistry.bindOracle")
        market = chain.deploy(deployer, "BinaryMarket", dispute_court.address)
        addresses = {
            "MarketRegistry": registry.address,
            "ModelRegistry": models.address,
            "QuorumOracle": oracle.address,
            "DisputeCourt": dispute_court.address,
            "BinaryMarket": market.address,
        }
        if ctf is not None:
            if ctf == "dev":
                ctf = chain.deploy(deployer, "ConditionalTokensLite").address
            addresses["ConditionalTokens"] = ctf
            addresses["CTFAdapter"] = chain.deploy(deployer, "CTFAdapter", ctf, dispute_court.address).address
        return cls(chain, addresses, from_block=start)

    # ------------------------------------------------------ deployment file
    @staticmethod
    def file_for(directory: Path, chain_id: int) -> Path:
        return Path(directory) / f"{chain_id}.json"

    def save(self, directory: Path) -> Path:
        """Record addresses in `<directory>/<chainId>.json`."""
        path = self.file_for(directory, self.chain.chain_id)
        doc = {"chain_id": self.chain.chain_id, "contracts": self.addresses, "from_block": self.from_block}
        atomic_write(path, json.dumps(doc, indent=2).encode())
        return path

    @classmethod
    def load(cls, chain: Chain, directory: Path) -> "Deployment":
        path = cls.file_for(directory, chain.chain_id)
        if not path.exists():
            raise NotFound(f"no deployment for chain {chain.chain_id} in {directory}: run `oracle chain deploy`")
        doc = json.loads(path.read_text())
        dep = cls(chain, doc["contracts"], from_block=doc.get("from_block", 0))
        if not chain.code(dep.oracle.address):
            raise ChainError("load deployment", f"no contract at {dep.oracle.address} on chain {chain.chain_id} "
                             f"(node restarted without its state?)")
        return dep

    @property
    def domain(self) -> Domain:
        return Domain(chain_id=self.chain.chain_id, verifying_contract=self.oracle.address)

    # ------------------------------------------------------------ registry
    def market_id_of(self, spec_hash: str, model_id: str, resolve_at: int, outcome_count: int, quorum: int, *,
                     forecaster_id: str = ZERO32, close_at: int | None = None, dispute_window: int = 0,
                     rule_hash: str = ZERO32) -> str:
        """The id `register` gives a market with these parameters (`markets.spec.market_id_of`)."""
        fn = self.registry.functions.marketIdOf(to_bytes32(spec_hash), to_bytes32(model_id),
                                                to_bytes32(forecaster_id),
                                                resolve_at if close_at is None else close_at, resolve_at,
                                                outcome_count, quorum, dispute_window, to_bytes32(rule_hash))
        return _hex(self.chain.call(fn, action="MarketRegistry.marketIdOf"))

    def register_market(self, creator: Signer, *, spec_hash: str, model_id: str, resolve_at: int,
                        outcome_count: int, quorum: int, forecaster_id: str = ZERO32,
                        close_at: int | None = None, dispute_window: int = 0, rule_hash: str = ZERO32,
                        fee: int | None = None) -> tuple[str, Any]:
        """`model_id` is the market's resolver; `forecaster_id` the model of its forecasts (zero:
        none); positions close at `close_at` (default: the resolve time); a quorum's resolution stays
        disputable for `dispute_window` seconds; `fee` (wei, default the court's minimum) is escrowed
        for the signers and the prover of its final resolution; `rule_hash` commits the ZkRule a dispute is
        settled by proof under (`MarketSpec.rule_hash`; zero: none)."""
        fn = self.registry.functions.register(
            to_bytes32(spec_hash), to_bytes32(model_id), to_bytes32(forecaster_id),
            resolve_at if close_at is None else close_at, resolve_at, outcome_count, quorum, dispute_window,
            to_bytes32(rule_hash)
        )
        fee = self.court.parameters().min_fee if fee is None else fee
        receipt = self.chain.transact(creator, fn, value=fee, action="MarketRegistry.register")
        event = self.registry.events.MarketRegistered().process_receipt(receipt, errors=DISCARD)[0]
        return _hex(event["args"]["marketId"]), receipt

    def registered_events(self, from_block: int, to_block: int) -> list[RegisteredEvent]:
        """Markets registered in blocks [from_block, to_block], in order."""
        logs = self.chain.logs(self.registry.events.MarketRegistered(), from_block=from_block, to_block=to_block)
        return [RegisteredEvent(_hex(log["args"]["marketId"]), _hex(log["args"]["specHash"]),
                                _hex(log["args"]["modelId"]), log["args"]["creator"], log["blockNumber"])
                for log in logs]

    def registered_at(self, market_id: str) -> int:
        """The timestamp of the block that registered the market, as the registry stored it (NotFound if
        none did). A market is registered once: the answer is kept."""
        known = self._registered_at.get(market_id)
        if known is not None:
            return known
        market = self.registered_market(market_id)
        if market is None:
            raise NotFound(f"market {market_id} is not registered")
        self._registered_at[market_id] = market.registered_at
        return market.registered_at

    def is_registered(self, market_id: str) -> bool:
        return self.chain.call(self.registry.functions.isRegistered(to_bytes32(market_id)),
                               action="MarketRegistry.isRegistered")

    def registered_market(self, market_id: str) -> MarketRecord | None:
        """The market's registration in one read (`getMarket`), or None when it is not registered."""
        try:
            return self.get_market(market_id)
        except ChainError as e:
            # a node that returns the revert without its data: ask the question that never reverts
            if e.error == "UnknownMarket" or (e.error is None and not self.is_registered(market_id)):
                return None
            raise

    def get_market(self, market_id: str) -> MarketRecord:
        m = self.chain.call(self.registry.functions.getMarket(to_bytes32(market_id)), action="getMarket")
        return MarketRecord(market_id, _hex(m[0]), _hex(m[1]), m[4], m[5], m[6], m[7], _hex(m[2]), m[3], m[8],
                            _hex(m[10]), m[9])

    # -------------------------------------------------------------- oracle
    def validators(self) -> list[str]:
        return list(self.chain.call(self.oracle.functions.validators(), action="QuorumOracle.validators"))

    def threshold(self) -> int:
        return self.chain.call(self.oracle.functions.threshold(), action="QuorumOracle.threshold")

    def validator_epoch(self) -> int:
        """Counts validator-set changes: a cheap way to notice one."""
        return self.chain.call(self.oracle.functions.validatorEpoch(), action="QuorumOracle.validatorEpoch")

    def propose_validators(self, owner: Signer, validators: Sequence[str], threshold: int) -> Any:
        """Schedule a validator-set change; `execute_validators` applies it after the public delay."""
        fn = self.oracle.functions.proposeValidators(list(validators), threshold)
        gas = 200_000 + 50_000 * len(validators) if self.chain.explicit_gas else None
        return self.chain.transact(owner, fn, gas=gas, action="QuorumOracle.proposeValidators")

    def execute_validators(self, submitter: Signer) -> Any:
        """Apply the proposed validator set once its delay has passed (anyone may)."""
        n = len(self.chain.call(self.oracle.functions.proposedValidators(), action="QuorumOracle.proposedValidators"))
        gas = 300_000 + 90_000 * (n + len(self.validators())) if self.chain.explicit_gas else None
        return self.chain.transact(submitter, self.oracle.functions.executeValidators(), gas=gas,
                                   action="QuorumOracle.executeValidators")

    def validator_set_delay(self) -> int:
        return self.chain.call(self.oracle.functions.VALIDATOR_SET_DELAY(), action="QuorumOracle.VALIDATOR_SET_DELAY")

    def transfer_ownership(self, owner: Signer, new_owner: str) -> Any:
        """First step of an ownership hand-over; `new_owner` completes it with `accept_ownership`."""
        return self.chain.transact(owner, self.oracle.functions.transferOwnership(new_owner),
                                   action="QuorumOracle.transferOwnership")

    def accept_ownership(self, new_owner: Signer) -> Any:
        return self.chain.transact(new_owner, self.oracle.functions.acceptOwnership(),
                                   action="QuorumOracle.acceptOwnership")

    def validator_set_at(self, block: int) -> tuple[list[str], int]:
        """(members, threshold) as they stood at the end of `block`."""
        members = self.chain.call(self.oracle.functions.validators(), action="QuorumOracle.validators", block=block)
        t = self.chain.call(self.oracle.functions.threshold(), action="QuorumOracle.threshold", block=block)
        return list(members), t

    def digest(self, resolution: Resolution) -> str:
        """The contract's digest for a final round (`digest`) or a forecast round (`forecastDigest`)."""
        if not resolution.final:
            return _hex(self.chain.call(self.oracle.functions.forecastDigest(resolution.as_tuple()),
                                        action="QuorumOracle.forecastDigest"))
        return _hex(self.chain.call(self.oracle.functions.digest(resolution.as_tuple()), action="QuorumOracle.digest"))

    def resolve(self, submitter: Signer, resolution: Resolution, signatures: Sequence[bytes]) -> Any:
        fn = self.oracle.functions.resolve(_as_resolution(resolution), [bytes(s) for s in signatures])
        return self.chain.transact(submitter, fn, action="QuorumOracle.resolve")

    def post_forecast(self, submitter: Signer, resolution: Resolution, signatures: Sequence[bytes]) -> Any:
        """Post a forecast round: the contract takes it as a `Forecast` (signatures over that type)."""
        fn = self.oracle.functions.postForecast(replace(resolution, final=False).as_tuple(),
                                                [bytes(s) for s in signatures])
        return self.chain.transact(submitter, fn, action="QuorumOracle.postForecast")

    def forecast_of(self, market_id: str, round: int) -> int | None:
        """Posted probability (ppm) of a forecast round; None only when the contract answers
        `NoForecast`. Anything else (node unreachable, another revert) raises ChainError."""
        try:
            return self.chain.call(self.oracle.functions.forecastOf(to_bytes32(market_id), round),
                                   action="QuorumOracle.forecastOf")
        except ChainError as e:
            if e.error == "NoForecast":
                return None
            raise

    # ------------------------------------------------------------ zk path
    def register_verifier(self, owner: Signer, model_id: str, verifier: str, vk_hash: str, input_count: int) -> Any:
        fn = self.models.functions.register(to_bytes32(model_id), verifier, to_bytes32(vk_hash), input_count)
        return self.chain.transact(owner, fn, action="ModelRegistry.register")

    def require_zk(self, creator: Signer, market_id: str, rule: tuple[int, ...]) -> Any:
        """From now on the market resolves only through `resolveZk`, to the outcome `rule` (the
        spec's rule as `QuorumOracle.ZkRule` integers: `MarketSpec.zk_rule`) gives for the proof's
        output, and only with a proof over the market's own constant (the pinned input)."""
        return self.chain.transact(creator, self.oracle.functions.requireZk(to_bytes32(market_id), tuple(rule)),
                                   action="QuorumOracle.requireZk")

    def zk_required(self, market_id: str) -> bool:
        return self.chain.call(self.oracle.functions.zkRequired(to_bytes32(market_id)), action="QuorumOracle.zkRequired")

    def zk_rule_of(self, market_id: str) -> tuple[int, ...]:
        """The market's on-chain ZkRule (invalidFrom, aboveFrom, above, below, pinnedInput,
        pinnedValue); zeros if none."""
        return tuple(self.chain.call(self.oracle.functions.zkRuleOf(to_bytes32(market_id)),
                                     action="QuorumOracle.zkRuleOf"))

    def resolve_zk(self, submitter: Signer, resolution: Resolution, signatures: Sequence[bytes], proof: bytes,
                   instances: Sequence[int]) -> Any:
        fn = self.oracle.functions.resolveZk(_as_resolution(resolution), [bytes(s) for s in signatures], proof,
                                             list(instances))
        return self.chain.transact(submitter, fn, action="QuorumOracle.resolveZk")

    def post_forecast_zk(self, submitter: Signer, resolution: Resolution, signatures: Sequence[bytes], proof: bytes,
                         instances: Sequence[int]) -> Any:
        """A forecast round of a zk-required market: posted only with a proof its verifier accepts."""
        fn = self.oracle.functions.postForecastZk(replace(resolution, final=False).as_tuple(),
                                                  [bytes(s) for s in signatures], proof, list(instances))
        return self.chain.transact(submitter, fn, action="QuorumOracle.postForecastZk")

    # ------------------------------------------------------------ batches
    def resolve_batch(self, submitter: Signer, resolutions: Sequence[Resolution], signatures: Sequence[bytes]) -> Any:
        fn = self.oracle.functions.resolveBatch([_as_resolution(r) for r in resolutions], [bytes(s) for s in signatures])
        # the embedded chain's fixed default is sized for one market; a batch stores one record each
        gas = 400_000 + 180_000 * len(resolutions) if self.chain.explicit_gas else None
        return self.chain.transact(submitter, fn, gas=gas, action="QuorumOracle.resolveBatch")

    def accept_batch_root(self, submitter: Signer, root: bytes, count: int, signatures: Sequence[bytes]) -> Any:
        fn = self.oracle.functions.acceptBatchRoot(root, count, [bytes(s) for s in signatures])
        return self.chain.transact(submitter, fn, action="QuorumOracle.acceptBatchRoot")

    def verify_inclusion(self, resolution: Resolution, proof: Sequence[bytes], root: bytes) -> bool:
        return self.chain.call(self.oracle.functions.verifyInclusion(_as_resolution(resolution), list(proof), root),
                               action="QuorumOracle.verifyInclusion")

    def claim(self, submitter: Signer, resolution: Resolution, proof: Sequence[bytes], root: bytes) -> Any:
        fn = self.oracle.functions.claim(_as_resolution(resolution), list(proof), root)
        return self.chain.transact(submitter, fn, action="QuorumOracle.claim")

    # ------------------------------------------------------- BLS quorum
    def register_bls_key(self, validator: Signer, public_key: bytes, proof_of_possession: bytes) -> Any:
        """`public_key`/`proof_of_possession`: the library's compressed forms (48 / 96 bytes)."""
        from .bls import to_eip2537_g1, to_eip2537_g2

        fn = self.oracle.functions.registerBlsKey(to_eip2537_g1(public_key), to_eip2537_g2(proof_of_possession))
        # the contract re-hashes every member's key slot: gas grows with the set
        gas = 450_000 + 16_000 * len(self.validators()) if self.chain.explicit_gas else None
        return self.chain.transact(validator, fn, gas=gas, action="QuorumOracle.registerBlsKey")

    def bls_key_set(self) -> bytes:
        """Every member's registered key (EIP-2537 encoding) in member order: the `publicKeys` argument."""
        return bytes(self.chain.call(self.oracle.functions.blsPublicKeys(), action="QuorumOracle.blsPublicKeys"))

    def accept_batch_root_bls(self, submitter: Signer, root: bytes, count: int, signer_bitmap: int,
                              aggregate_signature: bytes, key_set: bytes | None = None) -> Any:
        keys, signature = self._bls_args(aggregate_signature, key_set)
        fn = self.oracle.functions.acceptBatchRootBls(root, count, signer_bitmap, keys, signature)
        return self.chain.transact(submitter, fn, gas=self._bls_gas(keys, 0), action="QuorumOracle.acceptBatchRootBls")

    def resolve_batch_bls(self, submitter: Signer, resolutions: Sequence[Resolution], signer_bitmap: int,
                          aggregate_signature: bytes, key_set: bytes | None = None) -> Any:
        keys, signature = self._bls_args(aggregate_signature, key_set)
        fn = self.oracle.functions.resolveBatchBls([_as_resolution(r) for r in resolutions], signer_bitmap, keys, signature)
        return self.chain.transact(submitter, fn, gas=self._bls_gas(keys, len(resolutions)),
                                   action="QuorumOracle.resolveBatchBls")

    def _bls_args(self, aggregate_signature: bytes, key_set: bytes | None) -> tuple[bytes, bytes]:
        """(`publicKeys`, EIP-2537 signature): the registered key set unless one is given."""
        from .bls import to_eip2537_g2

        return (self.bls_key_set() if key_set is None else key_set), to_eip2537_g2(aggregate_signature)

    def _bls_gas(self, keys: bytes, stored: int) -> int | None:
        # the embedded chain's fixed default is too small: pairing + one key per member + stored records
        return 600_000 + 2_000 * (len(keys) // 128) + 180_000 * stored if self.chain.explicit_gas else None

    def batch_digest(self, root: bytes, count: int) -> bytes:
        """The 32 bytes members BLS-sign: `QuorumOracle.batchDigest(root, count)`, computed locally."""
        from .batch import batch_digest

        return batch_digest(self.domain, root, count)

    def round_result(self, market_id: str, round: int, *, final: bool) -> dict | None:
        """What the chain holds for a round, None if nothing yet: the final round's outcome and
        probability, a forecast round's posted probability, or `moot` for a forecast round that can
        no longer post: the market resolved first, or its resolve time has come (`ForecastClosed`)."""
        if final:
            if not self.is_resolved(market_id):
                return None
            res = self.resolution_of(market_id).resolution
            return {"outcome": res.outcome, "probability_ppm": res.probability_ppm}
        p = self.forecast_of(market_id, round)
        if p is None:
            closed = (self.is_resolved(market_id)
                      or self.chain.timestamp() >= self.get_market(market_id).resolve_at)
            return {"probability_ppm": None, "moot": True} if closed else None
        return {"probability_ppm": p}

    def is_resolved(self, market_id: str) -> bool:
        return self.chain.call(self.oracle.functions.isResolved(to_bytes32(market_id)),
                               action="QuorumOracle.isResolved")

    def resolution_of(self, market_id: str) -> OnchainResolution:
        """The recorded resolution, whole: the oracle's record (`recordOf`) joined with the `Resolved`
        log that carries it (the contract keeps only its struct hash of the other fields)."""
        known = self._resolutions.get(market_id)
        if known is None:  # a market is recorded once (AlreadyResolved): what was read stays true
            known = self._resolutions[market_id] = recorded_resolution(self.chain, self.oracle, market_id,
                                                                       from_block=self.from_block)
        return known

    # ------------------------------------------------------------- history
    def resolved_events(self, market_id: str) -> list[ResolvedEvent]:
        """Every `Resolved` log for a market since the deployment (more than one would be a double
        settlement)."""
        logs = self.chain.logs(self.oracle.events.Resolved(), from_block=self.from_block,
                               argument_filters={"marketId": to_bytes32(market_id)})
        return [resolved_event(log) for log in logs]

    def batch_accepted_events(self, root: str, *, to_block: int | str = "latest") -> list[BatchAcceptedEvent]:
        """Every acceptance of a batch root (`BatchAccepted` and `BatchAcceptedBls`) since the
        deployment up to `to_block`, in chain order."""
        found = []
        kinds = ((self.oracle.events.BatchAccepted(), False), (self.oracle.events.BatchAcceptedBls(), True))
        for event, bls in kinds:
            for log in self.chain.logs(event, from_block=self.from_block, to_block=to_block,
                                       argument_filters={"root": to_bytes32(root)}):
                found.append((log["logIndex"], BatchAcceptedEvent(
                    _hex(log["args"]["root"]), log["args"]["count"], bls, _hex(log["transactionHash"]),
                    log["blockNumber"], log["transactionIndex"])))
        return [e for _, e in sorted(found, key=lambda p: (p[1].block, p[1].tx_index, p[0]))]

    def members_of_epoch(self, epoch: int) -> list[str]:
        """The validator set of oracle epoch `epoch` (the oracle keeps only its hash: `setHashAt`), from the
        `ValidatorSetChanged` logs: the deployment's set is epoch 1, each change the next."""
        logs = self.chain.logs(self.oracle.events.ValidatorSetChanged(), from_block=self.from_block)
        if not 1 <= epoch <= len(logs):
            raise NotFound(f"no validator set for oracle epoch {epoch} ({len(logs)} sets since the deployment)")
        return list(logs[epoch - 1]["args"]["validators"])

    def validator_epoch_at(self, block: int) -> int:
        """`validatorEpoch` at the end of `block`: bumped by every validator-set change."""
        return self.chain.call(self.oracle.functions.validatorEpoch(), action="QuorumOracle.validatorEpoch",
                               block=block)

    def bls_keys_hash_at(self, block: int) -> str:
        """`blsKeysHash` at the end of `block`: keccak of the members' key set a BLS quorum must pass."""
        return _hex(self.chain.call(self.oracle.functions.blsKeysHash(), action="QuorumOracle.blsKeysHash",
                                    block=block))

    def transaction_position(self, tx_hash: str) -> tuple[int, int]:
        """(block, index in block) of a mined transaction; NotFound if the chain knows none."""
        tx = self.chain.transaction(tx_hash)
        return tx["blockNumber"], tx["transactionIndex"]

    def market_resolved_by(self, tx_hash: str) -> str | None:
        """The market a transaction resolved on this oracle (the first, for a batch), None if it resolved
        none; NotFound if the chain knows no such transaction."""
        receipt = self.chain.receipt(tx_hash)
        # only this oracle's logs: any contract can emit an event with the same signature
        ours = {**receipt, "logs": [log for log in receipt["logs"]
                                    if log["address"].lower() == self.oracle.address.lower()]}
        events = self.oracle.events.Resolved().process_receipt(ours, errors=DISCARD)
        return _hex(events[0]["args"]["marketId"]) if events else None

    def settlement_call(self, tx_hash: str) -> OracleCall:
        """The oracle function a transaction called, with its decoded arguments; NotFound if the
        transaction is unknown or was not a call to this oracle."""
        tx = self.chain.transaction(tx_hash)
        if (tx.get("to") or "").lower() != self.oracle.address.lower():
            raise NotFound(f"transaction {tx_hash} was not sent to the oracle at {self.oracle.address}")
        try:
            fn, args = self.oracle.decode_function_input(tx["input"])
        except ValueError:
            raise NotFound(f"transaction {tx_hash} calls no function of the oracle") from None
        return OracleCall(fn.fn_name, dict(args))

    # -------------------------------------------------------------- market
    def deposit(self, account: Signer, market_id: str, outcome: int, wei: int) -> Any:
        fn = self.market.functions.deposit(to_bytes32(market_id), outcome)
        return self.chain.transact(account, fn, value=wei, action="BinaryMarket.deposit")

    def refundable_at(self, market_id: str) -> int:
        """When the stakes of a market the quorum has not resolved become refundable (unix time)."""
        return self.chain.call(self.market.functions.refundableAt(to_bytes32(market_id)),
                               action="BinaryMarket.refundableAt")

    def expired(self, market_id: str) -> bool:
        """True once the market pays refunds because no resolution landed before its deadline."""
        return self.chain.call(self.market.functions.expired(to_bytes32(market_id)), action="BinaryMarket.expired")

    def payout_of(self, market_id: str, account: str) -> int:
        return self.chain.call(self.market.functions.payoutOf(to_bytes32(market_id), account),
                               action="BinaryMarket.payoutOf")

    def pools(self, market_id: str) -> list[int]:
        return list(self.chain.call(self.market.functions.pools(to_bytes32(market_id)), action="BinaryMarket.pools"))

    def redeem(self, account: Signer, market_id: str) -> tuple[int, Any]:
        fn = self.market.functions.redeem(to_bytes32(market_id))
        receipt = self.chain.transact(account, fn, action="BinaryMarket.redeem")
        event = self.market.events.Redeemed().process_receipt(receipt)[0]
        return event["args"]["amount"], receipt
