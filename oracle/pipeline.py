"""One round of one market through in-process roles: prove -> review by each validator -> aggregate.

The work of a round when every role is in this process (the demo, node mode's in-process work,
tests, benchmarks). Which rounds run, when, and how they are retried is `oracle.rounds.RoundDriver`'s
job; network mode does the same steps over HTTP (network/coordinator.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from .bundle import ProofBundle


class Prover(Protocol):
    def prove(self, spec: Any, frame: Any, *, round: int = 0) -> ProofBundle: ...


class Reviewer(Protocol):
    address: str

    def review(self, spec: Any, bundle: ProofBundle) -> Any: ...


class VoteSink(Protocol):
    def add(self, vote: Any, required: int | None = None) -> Any: ...


@dataclass
class RoundReport:
    market_id: str
    round: int
    bundle: ProofBundle
    reviews: list[Any]
    submission: Any
    prove_s: float

    @property
    def signed(self) -> int:
        return sum(1 for r in self.reviews if r.vote is not None)

    @property
    def refusals(self) -> list[Any]:
        return [r.refusal for r in self.reviews if r.refusal is not None]


def run_round(
    spec: Any,
    frame: Any,
    prover: Prover,
    validators: Sequence[Reviewer],
    aggregator: VoteSink,
    *,
    round: int = 0,
    on_step: Callable[[str], None] = lambda s: None,
    bundle: ProofBundle | None = None,
) -> RoundReport:
    """Prove (unless a bundle is given), have every validator review, feed votes to the aggregator."""
    t0 = time.perf_counter()
    if bundle is None:
        on_step("proving")
        bundle = prover.prove(spec, frame, round=round)
    prove_s = time.perf_counter() - t0
    reviews, submission = [], None
    for i, v in enumerate(validators):
        on_step(f"validator {i + 1}/{len(validators)} checking")
        review = v.review(spec, bundle)
        reviews.append(review)
        if review.vote is not None:
            sub = aggregator.add(review.vote, required=spec.quorum)
            submission = submission or sub
    return RoundReport(spec.market_id, round, bundle, reviews, submission, prove_s)
