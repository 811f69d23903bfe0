"""The market spec: a versioned, validated description of an AI-resolved question.

Canonical JSON of the spec -> spec hash (keccak256) -> market id, together with every
on-chain parameter (model, resolve time, outcome count, quorum): the same derivation
`MarketRegistry.marketIdOf` does on-chain, so other parameters make another market.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from eth_utils import keccak

from oracle.canonical import canonical_json, check_document, hash_json, is_bytes32, to_bytes32
from oracle.errors import SpecError

from .features import FeatureSpec
from .rules import Rule, parse_rule

SPEC_VERSION = 1
MAX_ROUNDS = 1000
MARKET_ID_DOMAIN = keccak(text="ai-oracle/market/v2")
KINDS = ("resolve", "forecast")
SOURCE_KINDS = ("csv", "parquet", "http_json", "chain")

_FIELDS = {
    "version", "question", "description", "outcomes", "kind", "source", "features",
    "model", "rule", "resolve_at", "quorum", "ctf_question_id", "forecast",
}
_REQUIRED = _FIELDS - {"description", "ctf_question_id", "forecast"}
SOURCE_FIELDS = {"kind", "uri", "column", "sha3", "address", "function"}


@dataclass(frozen=True)
class ForecastSchedule:
    """A forecast market posts a probability every `every_days` until `close_at`."""

    every_days: int
    close_at: datetime


@dataclass(frozen=True)
class Round:
    index: int
    due_at: int  # unix seconds: when the round's data exists
    final: bool  # the final round is the market's resolution
    features: FeatureSpec


def market_id_of(spec_hash: str, model_id: str, resolve_at: int, outcome_count: int, quorum: int) -> str:
    """`MarketRegistry.marketIdOf`: the id binds the spec and the parameters registered with it."""
    from eth_abi import encode as abi_encode

    words = abi_encode(["bytes32", "bytes32", "bytes32", "uint64", "uint16", "uint16"],
                       [MARKET_ID_DOMAIN, to_bytes32(spec_hash), to_bytes32(model_id), resolve_at, outcome_count,
                        quorum])
    return "0x" + keccak(words).hex()


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise SpecError(field, "must be an ISO-8601 time string such as 2021-06-08T00:00:00Z")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(field, f"not an ISO-8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise SpecError(field, "must carry a timezone (e.g. trailing Z for UTC)")
    return t.astimezone(timezone.utc)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class MarketSpec:
    question: str
    outcomes: tuple[str, ...]
    kind: str
    source: dict[str, Any]
    features: FeatureSpec
    model: str
    rule: Rule
    resolve_at: datetime
    quorum: int
    description: str = ""
    ctf_question_id: str | None = None
    version: int = SPEC_VERSION
    forecast: ForecastSchedule | None = None

    # ------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, d: Any, *, now: datetime | None = None) -> "MarketSpec":
        """Validate a spec object. `now` set: refuse a resolve time already past."""
        if not isinstance(d, dict):
            raise SpecError("spec", "must be a JSON/YAML object")
        check_document(d, fields=_FIELDS, required=_REQUIRED, version=SPEC_VERSION, kind="spec", error=SpecError)
        q = d["question"]
        if not isinstance(q, str) or not q.strip():
            raise SpecError("question", "must be a non-empty string")
        if len(q) > 500:
            raise SpecError("question", "longer than 500 characters")
        desc = d.get("description", "")
        if not isinstance(desc, str):
            raise SpecError("description", "must be a string")
        outcomes = d["outcomes"]
        if not isinstance(outcomes, list) or not all(isinstance(o, str) and o.strip() for o in outcomes):
            raise SpecError("outcomes", "must be a list of non-empty strings")
        if not 2 <= len(outcomes) <= 256:
            raise SpecError("outcomes", f"must have 2..256 entries, got {len(outcomes)}")
        if len(set(outcomes)) != len(outcomes):
            raise SpecError("outcomes", "names must be unique")
        if d["kind"] not in KINDS:
            raise SpecError("kind", f"must be one of {list(KINDS)}, got {d['kind']!r}")
        source = d["source"]
        if not isinstance(source, dict) or source.get("kind") not in SOURCE_KINDS:
            raise SpecError("source.kind", f"must be one of {list(SOURCE_KINDS)}")
        for k in source:
            if k not in SOURCE_FIELDS:
                raise SpecError(f"source.{k}", "unknown field")
            if not isinstance(source[k], str):
                raise SpecError(f"source.{k}", "must be a string")
        source = dict(source)
        if source["kind"] == "chain":
            address = source.get("address")
            if not isinstance(address, str) or not address.startswith("0x") or len(address) != 42:
                raise SpecError("source.address", "must be a 0x-prefixed 20-byte contract address")
            from eth_utils import is_hex_address, to_checksum_address

            if not is_hex_address(address):
                raise SpecError("source.address", "must be a 0x-prefixed 20-byte contract address")
            # one address, one spec hash: always its EIP-55 checksum form
            source["address"] = to_checksum_address(address)
        else:
            from .feeds import SourceRefused, check_source_uri

            if not isinstance(source.get("uri"), str) or not source["uri"]:
                raise SpecError("source.uri", "must be a non-empty string")
            try:  # /dev/zero, a FIFO, a non-http URL: refused here, whatever reads the spec later
                check_source_uri(source["kind"], source["uri"])
            except SourceRefused as e:
                raise SpecError(e.field, e.field_reason) from None
        column = source.get("column", "Close")
        if not isinstance(column, str):
            raise SpecError("source.column", "must be a string")
        if "sha3" in source and not (is_bytes32(source["sha3"]) and source["sha3"] == source["sha3"].lower()):
            raise SpecError("source.sha3", "must be 0x + 64 lowercase hex digits")
        features = FeatureSpec.parse(d["features"], column=column)
        if not is_bytes32(d["model"]):
            raise SpecError("model", "must be a model id (0x-prefixed 32-byte hex)")
        rule = parse_rule(d["rule"], outcomes)
        resolve_at = _parse_time(d["resolve_at"], "resolve_at")
        as_of = features.as_of.tz_localize("UTC").to_pydatetime()
        if resolve_at < as_of:
            raise SpecError("resolve_at", f"is before the features' as_of date {features.as_of.date()}")
        if now is not None and resolve_at < now:
            raise SpecError("resolve_at", f"{_iso(resolve_at)} is in the past (now {_iso(now)})")
        quorum = d["quorum"]
        if not isinstance(quorum, int) or isinstance(quorum, bool) or not 1 <= quorum <= 1000:
            raise SpecError("quorum", "must be an integer in [1, 1000]")
        ctf = d.get("ctf_question_id")
        if ctf is not None and not is_bytes32(ctf):
            raise SpecError("ctf_question_id", "must be 0x-prefixed 32-byte hex or null")
        if ctf is not None:
            ctf = ctf.lower()  # one question id, one spec hash (as `model` below)
        forecast = None
        if d["kind"] == "forecast":
            f = d.get("forecast")
            if not isinstance(f, dict):
                raise SpecError("forecast", "a forecast market needs {every_days, close_at}")
            for k in f:
                if k not in ("every_days", "close_at"):
                    raise SpecError(f"forecast.{k}", "unknown field")
            every = f.get("every_days")
            if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 365:
                raise SpecError("forecast.every_days", "must be an integer in [1, 365]")
            close_at = _parse_time(f.get("close_at"), "forecast.close_at")
            if close_at > resolve_at:
                raise SpecError("forecast.close_at", "must not be after resolve_at")
            first_due = as_of + timedelta(days=1)
            if close_at < first_due:
                raise SpecError("forecast.close_at", f"is before the first round is due ({_iso(first_due)})")
            forecast = ForecastSchedule(every, close_at)
        elif "forecast" in d:
            raise SpecError("forecast", "only a market of kind 'forecast' has a forecast schedule")
        spec = cls(
            question=q, outcomes=tuple(outcomes), kind=d["kind"], source=dict(source),
            features=features, model=d["model"].lower(), rule=rule, resolve_at=resolve_at,
            quorum=quorum, description=desc, ctf_question_id=ctf, version=d["version"], forecast=forecast,
        )
        if spec.kind == "forecast" and len(spec.rounds()) > MAX_ROUNDS:
            raise SpecError("forecast.every_days", f"schedule has more than {MAX_ROUNDS} rounds")
        return spec

    @classmethod
    def load(cls, path: str | Path, *, now: datetime | None = None) -> "MarketSpec":
        """Read a spec from a .json, .yaml or .yml file."""
        p = Path(path)
        if not p.exists():
            raise SpecError("file", f"{p} does not exist")
        text = p.read_text()
        try:
            if p.suffix in (".yaml", ".yml"):
                import yaml

                obj = yaml.safe_load(text)
            else:
                obj = json.loads(text)
        except Exception as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise SpecError("file", f"{p.name} is not valid {'YAML' if p.suffix in ('.yaml', '.yml') else 'JSON'}: {first}") from None
        return cls.parse(obj, now=now)

    # -------------------------------------------------------------- codec
    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "version": self.version,
            "question": self.question,
            "description": self.description,
            "outcomes": list(self.outcomes),
            "kind": self.kind,
            "source": self.source,
            "features": self.features.to_json(),
            "model": self.model,
            "rule": self.rule.to_json(),
            "resolve_at": _iso(self.resolve_at),
            "quorum": self.quorum,
        }
        if self.ctf_question_id:
            d["ctf_question_id"] = self.ctf_question_id
        if self.forecast:
            d["forecast"] = {"every_days": self.forecast.every_days, "close_at": _iso(self.forecast.close_at)}
        return d

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def spec_hash(self) -> str:
        return hash_json(self.to_json())

    @property
    def market_id(self) -> str:
        return market_id_of(self.spec_hash, self.model, self.resolve_at_unix, len(self.outcomes), self.quorum)

    @property
    def resolve_at_unix(self) -> int:
        return int(self.resolve_at.timestamp())

    def rounds(self) -> list[Round]:
        """Round 0 only for a `resolve` market; one per `every_days` until close_at for a forecast.

        A forecast round r asks the same question from as_of + r x every_days
        (same target date, shorter horizon). Its last round is the resolution.
        """
        if self.forecast is None:
            return [Round(0, self.resolve_at_unix, True, self.features)]
        out: list[Round] = []
        day = self.features.as_of
        while True:
            due = day.tz_localize("UTC").to_pydatetime() + timedelta(days=1)
            if due > self.forecast.close_at or (self.features.target_date - day).days < 1:
                break
            out.append(Round(len(out), int(due.timestamp()), False, self.features.at(day)))
            day = day + pd.Timedelta(days=self.forecast.every_days)
        last = out[-1]
        out[-1] = Round(last.index, max(last.due_at, self.resolve_at_unix), True, last.features)
        return out

    def round(self, index: int) -> Round:
        rounds = self.rounds()
        if not 0 <= index < len(rounds):
            raise SpecError("round", f"market has rounds 0..{len(rounds) - 1}, not {index}")
        return rounds[index]

    def compute_features(self, frame: pd.DataFrame, round: int = 0) -> list[float]:
        return self.round(round).features.compute(frame)

    def check_model(self, record) -> None:
        """Refuse a spec whose model cannot answer it (outputs, recipe)."""
        if record.recipe != self.features.recipe:
            raise SpecError("features.recipe", f"model {record.model_id[:10]}… reads recipe {record.recipe}, "
                            f"not {self.features.recipe}")
        needed = 1 if self.rule.kind == "threshold" else len(self.outcomes)
        if record.n_outputs != needed:
            raise SpecError("outcomes", f"rule '{self.rule.kind}' over {len(self.outcomes)} outcomes needs "
                            f"{needed} model output(s); model {record.model_id[:10]}… gives {record.n_outputs}")
