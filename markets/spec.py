"""The market spec: a versioned, validated description of a question resolved from evidence.

Canonical JSON of the spec -> spec hash (keccak256) -> market id, together with every
on-chain parameter (model, resolve time, outcome count, quorum): the same derivation
`MarketRegistry.marketIdOf` does on-chain, so other parameters make another market.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from eth_utils import keccak

from oracle.canonical import (
    canonical_json,
    check_document,
    hash_json,
    is_bytes32,
    to_bytes32,
)
from oracle.errors import SpecError

from .features import FeatureSpec
from .fields import _iso, _parse_time, parse_source

SPEC_VERSION = 2
MAX_ROUNDS = 1000
MARKET_ID_DOMAIN = keccak(text="ai-oracle/market/v4")
# `MarketRegistry.MAX_DISPUTE_WINDOW`: the longest a quorum resolution may stay disputable
MAX_DISPUTE_WINDOW = 7 * 86400
KINDS = ("resolve", "forecast")
from .fields import SOURCE_KINDS  # noqa: E402,F401  (one list, re-exported)
ZERO_ID = "0x" + "00" * 32

_FIELDS = {
    "version", "question", "description", "outcomes", "kind", "observe", "shape", "resolver", "close_at",
    "resolve_at", "quorum", "ctf_question_id", "forecast", "dispute_window",
}
_REQUIRED = _FIELDS - {"description", "ctf_question_id", "forecast", "dispute_window"}
_FORECAST_FIELDS = {"model", "source", "features", "every_days"}
_FORECAST_OPTIONAL = {"hourly_source"}  # required when the recipe reads hourly bars


@dataclass(frozen=True)
class ForecastSchedule:
    """A forecast market posts its forecaster's probability of the shape's first answer every
    `every_days` from the features' as_of until trading closes."""

    model: str
    source: dict[str, Any]
    features: FeatureSpec
    every_days: int
    hourly_source: dict[str, Any] | None = None  # the hourly bars a recipe such as the hourly-volatility one reads

    def load_inputs(self, load, features: FeatureSpec) -> tuple[list[float], bytes, str]:
        """One forecast round's (features, snapshot bytes, rows read) from the sources this schedule
        names, loaded by `load` (source dict -> frame): the same call for provers and validators."""
        frame = load(self.source)
        hourly = load(self.hourly_source) if features.reads_hourly else None
        window = features.window(frame)
        rows = f"rows {window.index[0].date()}..{window.index[-1].date()}"
        if hourly is not None:
            bars = features.hourly_window(hourly)
            rows += f", hourly bars {bars.index[0]:%Y-%m-%d %H:%M}..{bars.index[-1]:%Y-%m-%d %H:%M}"
        return features.compute(frame, hourly), features.snapshot(frame, hourly), rows


@dataclass(frozen=True)
class Round:
    index: int
    due_at: int  # unix seconds: when the round's data exists
    final: bool  # the final round is the market's resolution, from the evidence
    features: FeatureSpec | None  # a forecast round's features; None for the evidence round
    model: str  # the model that answers this round: the forecaster, or the resolver for the final round

    @property
    def recipe(self) -> str:
        from .evidence import RECIPE

        return self.features.recipe if self.features is not None else RECIPE


def market_id_of(spec_hash: str, model_id: str, forecaster_id: str, close_at: int, resolve_at: int,
                 outcome_count: int, quorum: int, dispute_window: int = 0, rule_hash: str = ZERO_ID) -> str:
    """`MarketRegistry.marketIdOf`: the id binds the spec and the parameters registered with it."""
    from eth_abi import encode as abi_encode

    words = abi_encode(["bytes32", "bytes32", "bytes32", "bytes32", "uint64", "uint64", "uint16", "uint16", "uint32",
                        "bytes32"],
                       [MARKET_ID_DOMAIN, to_bytes32(spec_hash), to_bytes32(model_id), to_bytes32(forecaster_id),
                        close_at, resolve_at, outcome_count, quorum, dispute_window, to_bytes32(rule_hash)])
    return "0x" + keccak(words).hex()


def rule_hash_of(rule: tuple) -> str:
    """keccak256(abi.encode(ZkRule)): what `MarketRegistry` commits for the dispute court's ZK path."""
    from eth_abi import encode as abi_encode

    return "0x" + keccak(abi_encode(["int256", "int256", "uint16", "uint16", "uint16", "uint256"], list(rule))).hex()


def _model_id(v: Any, field: str) -> str:
    if not is_bytes32(v) or int(v, 16) == 0:
        raise SpecError(field, "must be a model id (0x-prefixed 32-byte hex, not zero)")
    return v.lower()


def _hourly_source(value: Any, features: FeatureSpec, source: dict[str, Any]) -> dict[str, Any] | None:
    """`forecast.hourly_source`: named exactly when the recipe reads hourly bars, a file or HTTP
    source of interval 1h, other than the daily `forecast.source`."""
    field = "forecast.hourly_source"
    if not features.reads_hourly:
        if value is not None:
            raise SpecError(field, f"recipe {features.recipe} reads no hourly bars")
        return None
    if value is None:
        raise SpecError(field, f"recipe {features.recipe} reads the volatility from hourly bars: name their "
                        "source (e.g. {kind: csv, uri: bundled:btc_usd_hourly_bitstamp.csv, column: close, "
                        "interval: 1h})")
    hourly = parse_source(value, field)
    if hourly["kind"] == "chain":
        raise SpecError(f"{field}.kind", "an on-chain PriceFeed holds daily closes, not hourly bars")
    if hourly.get("interval") != "1h":
        raise SpecError(f"{field}.interval", f"must be '1h' (hourly bars), got {hourly.get('interval', '1d')!r}")
    if hourly == source:
        raise SpecError(field, "is the daily forecast.source itself")
    return hourly


def _window(observe, other, shape) -> tuple[datetime, datetime, datetime]:
    """(when the first observed bar opens, when the earliest deciding bar ends, when the last ends),
    over both series of a versus market."""
    obs = [observe] + ([other] if other is not None else [])
    return (min(o.bar_open(shape.first_bar()) for o in obs), max(o.bar_end(shape.earliest_bar()) for o in obs),
            max(o.bar_end(shape.last_bar()) for o in obs))


@dataclass(frozen=True)
class MarketSpec:
    """A market: a question whose outcome is read from post-event evidence (`observe`, `shape`) by a
    registered resolver; a `forecast` market also posts proven forecasts while trading is open."""

    question: str
    outcomes: tuple[str, ...]
    kind: str
    observe: Any  # markets.evidence.Observe
    shape: Any  # markets.evidence.Shape
    resolver: str
    close_at: datetime
    resolve_at: datetime
    quorum: int
    description: str = ""
    ctf_question_id: str | None = None
    version: int = SPEC_VERSION
    forecast: ForecastSchedule | None = None
    other: Any = None  # markets.evidence.Observe of a versus market's second series
    dispute_window: int = 0  # seconds a quorum's resolution stays disputable before it is final

    # ------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, d: Any, *, now: datetime | None = None) -> "MarketSpec":
        """Validate a spec object. `now` set (registration): refuse a market whose trading has
        closed, hence whose outcome could already be known from its evidence."""
        from .evidence import Observe, parse_shape

        if not isinstance(d, dict):
            raise SpecError("spec", "must be a JSON/YAML object")
        if d.get("version") == 1:
            raise SpecError("version", "version 1 specs resolved markets from a model's forecast; a market now "
                            "resolves from post-event evidence: write version 2 with `observe`, `shape`, "
                            "`resolver` and `close_at` (see README)")
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
        observe = Observe.parse(d["observe"])
        other = None
        shape_doc = d["shape"]
        if isinstance(shape_doc, dict) and "other" in shape_doc:
            o = shape_doc["other"]
            if not isinstance(o, dict) or "sources" not in o or \
                    any(k not in ("sources", "timezone", "sessions") for k in o):
                raise SpecError("shape.other", "must be an object {sources, timezone, sessions}")
            try:
                other = Observe.parse({**observe.to_json(), **o})
            except SpecError as e:
                raise SpecError("shape.other" + e.field[len("observe"):], e.reason) from None
        shape = parse_shape(shape_doc, outcomes, observe, other=other)
        resolver = _model_id(d["resolver"], "resolver")
        close_at = _parse_time(d["close_at"], "close_at")
        resolve_at = _parse_time(d["resolve_at"], "resolve_at")
        window_open, earliest, last_end = _window(observe, other, shape)
        if close_at > window_open:
            raise SpecError("close_at", f"{_iso(close_at)} is after the observation window opens "
                            f"({_iso(window_open)}): positions must close before any evidence exists")
        if resolve_at < earliest:
            raise SpecError("resolve_at", f"{_iso(resolve_at)} is before the evidence can exist ({_iso(earliest)})")
        if observe.deadline is not None and observe.deadline < last_end:
            raise SpecError("observe.deadline", f"is before the observation window ends ({_iso(last_end)})")
        if observe.deadline is not None and observe.deadline < resolve_at:
            raise SpecError("observe.deadline", f"is before resolve_at ({_iso(resolve_at)}): the market would be "
                            "INVALID before anyone may resolve it")
        if now is not None and close_at <= now:
            raise SpecError("close_at", f"{_iso(close_at)} is not in the future (now {_iso(now)}): a market must "
                            "open before anything about its outcome can be known")
        quorum = d["quorum"]
        if not isinstance(quorum, int) or isinstance(quorum, bool) or not 1 <= quorum <= 1000:
            raise SpecError("quorum", "must be an integer in [1, 1000]")
        window = d.get("dispute_window", 0)
        if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= MAX_DISPUTE_WINDOW:
            raise SpecError("dispute_window", f"must be whole seconds in [0, {MAX_DISPUTE_WINDOW}] (7 days): how long "
                            "a quorum's resolution stays disputable before it is final")
        ctf = d.get("ctf_question_id")
        if ctf is not None and not is_bytes32(ctf):
            raise SpecError("ctf_question_id", "must be 0x-prefixed 32-byte hex or null")
        if ctf is not None:
            ctf = ctf.lower()  # one question id, one spec hash (as `resolver` above)
        forecast = None
        if d["kind"] == "forecast":
            f = d.get("forecast")
            if not isinstance(f, dict):
                raise SpecError("forecast", "a forecast market needs {model, source, features, every_days}")
            for k in f:
                if k not in _FORECAST_FIELDS | _FORECAST_OPTIONAL:
                    raise SpecError(f"forecast.{k}", "unknown field")
            for k in sorted(_FORECAST_FIELDS):
                if k not in f:
                    raise SpecError(f"forecast.{k}", "is required")
            if len(outcomes) != 2:
                raise SpecError("kind", "forecasts are posted for binary markets only")
            model = _model_id(f["model"], "forecast.model")
            if model == resolver:
                raise SpecError("forecast.model", "a forecaster is not the market's resolver")
            source = parse_source(f["source"], "forecast.source")
            features = FeatureSpec.parse(f["features"], column=source.get("column", "Close"))
            every = f["every_days"]
            if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 365:
                raise SpecError("forecast.every_days", "must be an integer in [1, 365]")
            first_due = features.as_of.tz_localize("UTC").to_pydatetime() + timedelta(days=1)
            if close_at < first_due:
                raise SpecError("close_at", f"is before the first forecast is due ({_iso(first_due)})")
            hourly = _hourly_source(f.get("hourly_source"), features, source)
            forecast = ForecastSchedule(model, source, features, every, hourly)
        elif "forecast" in d:
            raise SpecError("forecast", "only a market of kind 'forecast' has a forecast schedule")
        spec = cls(
            question=q, outcomes=tuple(outcomes), kind=d["kind"], observe=observe, shape=shape,
            resolver=resolver, close_at=close_at, resolve_at=resolve_at, quorum=quorum, description=desc,
            ctf_question_id=ctf, version=d["version"], forecast=forecast, other=other, dispute_window=window,
        )
        if len(spec.rounds()) > MAX_ROUNDS:
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
        if p.suffix in (".yaml", ".yml") and isinstance(obj, dict) and isinstance(obj.get("outcomes"), list) and \
                any(isinstance(o, bool) for o in obj["outcomes"]):
            raise SpecError("outcomes", "YAML reads YES/NO (and yes/no, on/off, true/false) as booleans: quote "
                            "them, e.g. outcomes: [\"YES\", \"NO\"]")
        return cls.parse(obj, now=now)

    # -------------------------------------------------------------- codec
    def to_json(self) -> dict[str, Any]:
        from .evidence import public_params

        d: dict[str, Any] = {
            "version": self.version,
            "question": self.question,
            "description": self.description,
            "outcomes": list(self.outcomes),
            "kind": self.kind,
            "observe": self.observe.to_json(),
            "shape": {"kind": self.shape.kind, **public_params(self.shape)},
            "resolver": self.resolver,
            "close_at": _iso(self.close_at),
            "resolve_at": _iso(self.resolve_at),
            "quorum": self.quorum,
        }
        if self.ctf_question_id:
            d["ctf_question_id"] = self.ctf_question_id
        if self.dispute_window:  # absent means 0: specs written before disputes keep their hash
            d["dispute_window"] = self.dispute_window
        if self.forecast:
            f = self.forecast
            d["forecast"] = {"model": f.model, "source": f.source, "features": f.features.to_json(),
                             "every_days": f.every_days}
            if f.hourly_source is not None:  # absent for a daily recipe: those specs keep their hash
                d["forecast"]["hourly_source"] = f.hourly_source
        return d

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def spec_hash(self) -> str:
        return hash_json(self.to_json())

    @property
    def model(self) -> str:
        """The model registered with the market on-chain: its resolver."""
        return self.resolver

    @property
    def forecaster(self) -> str:
        return self.forecast.model if self.forecast else ZERO_ID

    @property
    def market_id(self) -> str:
        return market_id_of(self.spec_hash, self.resolver, self.forecaster, self.close_at_unix, self.resolve_at_unix,
                            len(self.outcomes), self.quorum, self.dispute_window, self.rule_hash)

    @property
    def rule_hash(self) -> str:
        """The committed hash of `zk_rule()` (zero for a market that has none: not binary), part of the id:
        the dispute court settles by proof under this rule and no other."""
        try:
            return rule_hash_of(self.zk_rule().as_tuple())
        except SpecError:
            return ZERO_ID

    def onchain(self) -> dict[str, Any]:
        """`Deployment.register_market` keyword arguments for this market."""
        return {"spec_hash": self.spec_hash, "model_id": self.resolver, "forecaster_id": self.forecaster,
                "close_at": self.close_at_unix, "resolve_at": self.resolve_at_unix,
                "outcome_count": len(self.outcomes), "quorum": self.quorum, "dispute_window": self.dispute_window,
                "rule_hash": self.rule_hash}

    def zk_rule(self):
        """`QuorumOracle.ZkRule` for `requireZk`: the shape's rule over the resolver's first output,
        and the market's own constant pinned among the proof's inputs (SpecError: not binary)."""
        return self.shape.zk_rule(self.outcomes, self.observe.decimals)

    @property
    def resolve_at_unix(self) -> int:
        return int(self.resolve_at.timestamp())

    @property
    def close_at_unix(self) -> int:
        return int(self.close_at.timestamp())

    @property
    def window_open(self) -> datetime:
        """When the observation window opens: nothing about the outcome exists before."""
        return _window(self.observe, self.other, self.shape)[0]

    @property
    def deadline(self) -> datetime:
        """After this, missing evidence makes the market INVALID."""
        from .evidence import DEFAULT_DEADLINE

        end = _window(self.observe, self.other, self.shape)[2]
        return self.observe.deadline or max(end + DEFAULT_DEADLINE, self.resolve_at)

    @property
    def yes(self) -> str:
        """The answer a forecast's probability is about (the shape's first outcome)."""
        return self.outcomes[0]

    def rounds(self) -> list[Round]:
        """A forecast market's forecast rounds (one per `every_days` from the features' as_of while
        trading is open; same target date, shorter horizon), then the final round: the resolution
        from the evidence, by the resolver, due at resolve_at."""
        out: list[Round] = []
        if self.forecast is not None:
            fs = self.forecast.features
            day = fs.as_of
            while True:
                due = day.tz_localize("UTC").to_pydatetime() + timedelta(days=1)
                if due > self.close_at or (fs.target_date - day).days < 1:
                    break
                out.append(Round(len(out), int(due.timestamp()), False, fs.at(day), self.forecast.model))
                day = day + pd.Timedelta(days=self.forecast.every_days)
        out.append(Round(len(out), self.resolve_at_unix, True, None, self.resolver))
        return out

    def round(self, index: int) -> Round:
        rounds = self.rounds()
        if not 0 <= index < len(rounds):
            raise SpecError("round", f"market has rounds 0..{len(rounds) - 1}, not {index}")
        return rounds[index]

    @property
    def final_round(self) -> int:
        return len(self.rounds()) - 1

    def check_model(self, record) -> None:
        """Refuse a spec whose resolver (or forecaster) cannot answer it."""
        from .evidence import RECIPE

        if record.model_id == self.resolver:
            width = self.shape.n_constants
            if record.recipe != RECIPE or record.n_inputs != width + 1 or record.n_outputs != width:
                raise SpecError("resolver", f"model {record.model_id[:10]}… is not a {RECIPE} resolver over "
                                f"{width} comparison(s) (it reads {record.recipe}, {record.n_inputs} inputs, "
                                f"{record.n_outputs} outputs)")
            return
        if self.forecast is not None and record.model_id == self.forecast.model:
            if record.recipe != self.forecast.features.recipe:
                raise SpecError("forecast.features.recipe", f"model {record.model_id[:10]}… reads recipe "
                                f"{record.recipe}, not {self.forecast.features.recipe}")
            if record.n_outputs != 1:
                raise SpecError("forecast.model", f"a forecaster gives 1 output (a probability); model "
                                f"{record.model_id[:10]}… gives {record.n_outputs}")
            return
        raise SpecError("resolver", f"model {record.model_id[:10]}… is neither this market's resolver nor its forecaster")
