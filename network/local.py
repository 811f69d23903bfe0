"""Every role in one process on one chain: the local network the demo, the tests, the benchmarks
and the notebooks all run on.

Deploys the contract set, makes n validator keys (ascending addresses, as the contract wants
signers), funds the working accounts, and wires the validators and one aggregator whose quorums
go on-chain through one `Settler`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from oracle.chain import Chain
from oracle.deployment import Deployment
from oracle.eip712 import Resolution, signable
from oracle.pipeline import RoundReport, run_round
from oracle.settlement import Settler
from oracle.signer import LocalSigner, Signer
from validators.aggregator import Aggregator
from validators.validator import Validator

ACCOUNTS = ("deployer", "creator", "submitter", "alice", "bob")


class LocalNetwork:
    """Contracts + n validators + an aggregator settling through one Settler, on `chain` (default:
    a fresh embedded chain). The working accounts are attributes: `deployer`, `creator`,
    `submitter`, and two bettors `alice` and `bob`."""

    def __init__(self, store, *, n: int = 4, t: int = 3, chain: Chain | None = None,
                 load_data: Callable[[dict], Any] | None = None, fund_wei: int = 50 * 10**18,
                 start: int | None = None):
        """`start`: a replay chain starting at that unix time (markets on historical data)."""
        from markets.feeds import load_source

        self.store = store
        self.chain = chain or Chain.embedded(start=start)
        self.t = t
        for name in ACCOUNTS:
            signer = LocalSigner.create()
            self.chain.fund(signer.address, fund_wei)
            setattr(self, name, signer)
        self.keys: list[Signer] = sorted((LocalSigner.create() for _ in range(n)), key=lambda k: int(k.address, 16))
        self.dep = Deployment.deploy(self.chain, self.deployer, [k.address for k in self.keys], t)
        load = load_data or (lambda source: load_source(source, chain=self.chain))
        # each validator reads the chain through its own Deployment (its own caches), as its own process would
        self.validators = [Validator(k, store, self.dep.domain, load,
                                     registry=Deployment(self.chain, self.dep.addresses, from_block=self.dep.from_block))
                           for k in self.keys]
        self.settler = Settler(self.dep, self.submitter)
        self.aggregator = Aggregator(self.dep.domain, [k.address for k in self.keys], t, self.settler,
                                     court_domain=self.dep.court.domain)

    @property
    def members(self) -> list[str]:
        return [k.address for k in self.keys]

    def register(self, spec) -> str:
        """Register a market from its spec (as the creator); the on-chain id must be the spec's."""
        market_id, _ = self.dep.register_market(self.creator, **spec.onchain())
        if market_id != spec.market_id:
            raise AssertionError(f"on-chain market id {market_id} is not the spec's {spec.market_id}")
        return market_id

    def advance_to(self, when: int) -> int:
        """Move the chain's clock to `when` (unix seconds) if it is behind: time passes."""
        now = self.chain.timestamp()
        return self.chain.advance_time(when - now) if when > now else now

    def run_round(self, spec, frame, prover, **kwargs) -> RoundReport:
        """Prove (unless `bundle=` is given), have every validator review, aggregate and settle."""
        return run_round(spec, frame, prover, self.validators, self.aggregator, **kwargs)

    def sign(self, key: Signer, resolution: Resolution) -> bytes:
        """A member's raw EIP-712 signature over a resolution (tests build quorums by hand)."""
        return key.sign_message(signable(self.dep.domain, resolution))

    def signatures(self, resolution: Resolution, keys: Sequence[Signer] | None = None) -> list[bytes]:
        """Signatures of `keys` (default: the first t members), in the ascending order the contract wants."""
        return [self.sign(k, resolution) for k in (keys if keys is not None else self.keys[: self.t])]
