"""Decision rules: how a model's proven output becomes a market outcome."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from oracle.eip712 import INVALID_OUTCOME, PPM
from oracle.errors import SpecError


@dataclass(frozen=True)
class Decision:
    outcome: int  # index into the spec's outcomes, or INVALID_OUTCOME
    outcome_name: str
    probability: float  # the probability the rule acted on, in [0, 1]

    @property
    def probability_ppm(self) -> int:
        return int(round(min(max(self.probability, 0.0), 1.0) * PPM))


@dataclass(frozen=True)
class ThresholdRule:
    """One output p in [0, 1]: `above` when p >= threshold, else `below`.

    Within `invalid_band` of the threshold the model is too unsure and the
    market resolves INVALID (stakes refunded / 50-50 payouts).
    """

    threshold: float
    above: str
    below: str
    invalid_band: float = 0.0
    kind: str = "threshold"

    n_outputs = 1

    def decide(self, outputs: Sequence[float], outcomes: Sequence[str]) -> Decision:
        p = float(outputs[0])
        if not math.isfinite(p):
            return Decision(INVALID_OUTCOME, "INVALID", 0.0)
        p = min(max(p, 0.0), 1.0)
        if self.invalid_band and abs(p - self.threshold) < self.invalid_band:
            return Decision(INVALID_OUTCOME, "INVALID", p)
        name = self.above if p >= self.threshold else self.below
        return Decision(list(outcomes).index(name), name, p)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "threshold": self.threshold, "above": self.above, "below": self.below}
        if self.invalid_band:
            d["invalid_band"] = self.invalid_band
        return d


NOT_PINNED = 0xFFFF  # QuorumOracle.NOT_PINNED: no input is pinned


@dataclass(frozen=True)
class ZkRule:
    """`QuorumOracle.ZkRule`: q >= above_from -> above; q >= invalid_from -> INVALID; else below.
    `pinned_input` (NOT_PINNED: none) is the proof's input instance that must equal `pinned_value`,
    the market's own constant as a field element."""

    invalid_from: int
    above_from: int
    above: int
    below: int
    pinned_input: int = NOT_PINNED
    pinned_value: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        return (self.invalid_from, self.above_from, self.above, self.below, self.pinned_input, self.pinned_value)


@dataclass(frozen=True)
class ArgmaxRule:
    """One output per outcome: the largest wins; its value is the probability."""

    kind: str = "argmax"

    def decide(self, outputs: Sequence[float], outcomes: Sequence[str]) -> Decision:
        if len(outputs) != len(outcomes) or not all(math.isfinite(o) for o in outputs):
            return Decision(INVALID_OUTCOME, "INVALID", 0.0)
        i = max(range(len(outputs)), key=lambda j: outputs[j])
        return Decision(i, outcomes[i], min(max(float(outputs[i]), 0.0), 1.0))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind}


Rule = ThresholdRule | ArgmaxRule


def parse_rule(d: Any, outcomes: Sequence[str]) -> Rule:
    if not isinstance(d, dict):
        raise SpecError("rule", "must be an object")
    kind = d.get("kind")
    if kind == "threshold":
        allowed = {"kind", "threshold", "above", "below", "invalid_band"}
        for k in d:
            if k not in allowed:
                raise SpecError(f"rule.{k}", "unknown field")
        if len(outcomes) != 2:
            raise SpecError("outcomes", "a threshold rule needs exactly 2 outcomes")
        t = d.get("threshold")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 < t < 1:
            raise SpecError("rule.threshold", "must be a number strictly between 0 and 1")
        for k in ("above", "below"):
            if d.get(k) not in outcomes:
                raise SpecError(f"rule.{k}", f"must name one of the outcomes {list(outcomes)}")
        if d["above"] == d["below"]:
            raise SpecError("rule.below", "must differ from rule.above")
        band = d.get("invalid_band", 0.0)
        if not isinstance(band, (int, float)) or isinstance(band, bool) or not 0 <= band < 0.5:
            raise SpecError("rule.invalid_band", "must be a number in [0, 0.5)")
        return ThresholdRule(float(t), d["above"], d["below"], float(band))
    if kind == "argmax":
        for k in d:
            if k != "kind":
                raise SpecError(f"rule.{k}", "unknown field")
        return ArgmaxRule()
    raise SpecError("rule.kind", f"must be 'threshold' or 'argmax', got {kind!r}")
