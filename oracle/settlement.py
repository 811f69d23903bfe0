"""Settlement: a quorum's result goes on-chain here, and only here.

One `Settler` per submitting account serves every path the oracle contract offers: a final round
(`resolve`), a forecast round (`postForecast`), several markets at once (`resolveBatch`), a batch
root (`acceptBatchRoot`), and the BLS aggregate paths (`resolveBatchBls`, `acceptBatchRootBls`).
Every path answers a `Settlement`, never a magic string:

- `settled`: our transaction landed (hash and gas used);
- `already`: the chain already holds the round (another aggregator was faster), recognised by
  asking the chain first and by the decoded custom error (`AlreadyResolved`, `ForecastAlreadyPosted`), never
  by the text of a message;
- `deferred`: this path does not settle the round (final rounds settle by BLS aggregate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .eip712 import Resolution
from .errors import ChainError
from .signer import Signer

# The contract's answers that mean "someone already put this round on-chain".
COMPETITOR_ERRORS = frozenset({"AlreadyResolved", "ForecastAlreadyPosted"})

SETTLED, ALREADY, DEFERRED = "settled", "already", "deferred"


def tx_hash_of(receipt: Any) -> str:
    """0x-hex hash of a receipt's transaction."""
    return "0x" + bytes(receipt["transactionHash"]).hex()


@dataclass(frozen=True)
class Settlement:
    status: str  # SETTLED | ALREADY | DEFERRED
    tx_hash: str | None = None
    gas_used: int | None = None
    reason: str = ""

    @property
    def on_chain(self) -> bool:
        """The round is on-chain now (by us or by someone else)."""
        return self.status in (SETTLED, ALREADY)

    @classmethod
    def of(cls, receipt: Any) -> "Settlement":
        return cls(SETTLED, tx_hash_of(receipt), receipt["gasUsed"])


class Settler:
    """Submits quorum results for one submitter account.

    A resolution's `final` flag (part of what its signers signed: a final round is an EIP-712
    `Resolution`, a forecast round a `Forecast`) picks the path: `resolve` or `postForecast`.
    `bls_final`: final rounds settle by BLS aggregate, so an ECDSA quorum for one is `deferred`.
    `log(event, **fields)` hears every submission and every round found settled by someone else.
    """

    def __init__(self, deployment, submitter: Signer, *, bls_final: bool = False,
                 log: Callable[..., None] = lambda event, **fields: None):
        self.dep = deployment
        self.submitter = submitter
        self.bls_final = bls_final
        self.log = log

    # ------------------------------------------------------------- one round
    def __call__(self, resolution: Resolution, signatures: Sequence[bytes]) -> Settlement:
        """Settle one round with t ECDSA signatures (ascending signers)."""
        if resolution.final and self.bls_final:
            return Settlement(DEFERRED, reason="final rounds settle by BLS aggregate")
        send = self.dep.resolve if resolution.final else self.dep.post_forecast
        return self._submit([resolution], lambda: send(self.submitter, resolution, signatures),
                            outcome=resolution.outcome)

    # ----------------------------------------------------------- many rounds
    def batch(self, resolutions: Sequence[Resolution], signatures: Sequence[bytes]) -> Settlement:
        """Several final rounds under one set of signatures over their batch digest."""
        return self._submit(resolutions, lambda: self.dep.resolve_batch(self.submitter, resolutions, signatures),
                            markets=len(resolutions))

    def batch_bls(self, resolutions: Sequence[Resolution], signer_bitmap: int, aggregate_signature: bytes,
                  key_set: bytes | None = None) -> Settlement:
        """Final rounds under one BLS aggregate (bit i of the bitmap: member i signed)."""
        return self._submit(resolutions, lambda: self.dep.resolve_batch_bls(
            self.submitter, resolutions, signer_bitmap, aggregate_signature, key_set),
            scheme="bls", signer_bitmap=signer_bitmap, markets=len(resolutions))

    def root(self, root: bytes, count: int, signatures: Sequence[bytes]) -> Settlement:
        """Accept a batch root; each market is then claimed with its inclusion proof."""
        return self._submit([], lambda: self.dep.accept_batch_root(self.submitter, root, count, signatures),
                            root="0x" + bytes(root).hex(), markets=count)

    def root_bls(self, root: bytes, count: int, signer_bitmap: int, aggregate_signature: bytes,
                 key_set: bytes | None = None) -> Settlement:
        return self._submit([], lambda: self.dep.accept_batch_root_bls(
            self.submitter, root, count, signer_bitmap, aggregate_signature, key_set),
            scheme="bls", root="0x" + bytes(root).hex(), markets=count, signer_bitmap=signer_bitmap)

    # -------------------------------------------------------------- the one way
    def _submit(self, resolutions: Sequence[Resolution], send: Callable[[], Any], **fields: Any) -> Settlement:
        where = ({"market_id": resolutions[0].market_id, "round": resolutions[0].round}
                 if len(resolutions) == 1 else {})
        if resolutions and all(self._on_chain(r) for r in resolutions):
            self.log("skipped_settled", **where, **fields)
            return Settlement(ALREADY, reason="found on-chain before submitting")
        try:
            receipt = send()
        except ChainError as e:
            if e.error in COMPETITOR_ERRORS:
                self.log("duplicate_submission", **where, reason=e.reason, **fields)
                return Settlement(ALREADY, reason=e.reason)
            raise
        done = Settlement.of(receipt)
        self.log("settled", **where, tx=done.tx_hash, gas=done.gas_used, **fields)
        return done

    def _on_chain(self, r: Resolution) -> bool:
        return self.dep.round_result(r.market_id, r.round, final=r.final) is not None
