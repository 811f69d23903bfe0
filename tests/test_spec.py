"""Market spec v2: canonical hashing, market id derivation, rounds, and one clear error per bad field."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from conftest import forecast_doc, spec_doc
from markets.demo import SOURCES
from markets.spec import MarketSpec, market_id_of, rule_hash_of
from oracle.errors import SpecError

RESOLVER = "0x" + "ab" * 32
FORECASTER = "0x" + "cd" * 32
GOOD = spec_doc(RESOLVER)  # "BTC above $4,000 on 2019-03-23 (UTC)?" from four providers
NDX = [SOURCES["ndx-yahoo"], SOURCES["ndx-stooq"]]


def test_round_trip_and_hash_are_canonical():
    spec = MarketSpec.parse(GOOD)
    again = MarketSpec.parse(spec.to_json())
    assert again == spec and again.spec_hash == spec.spec_hash and again.canonical() == spec.canonical()
    assert MarketSpec.parse(dict(reversed(list(GOOD.items())))).spec_hash == spec.spec_hash
    # defaults written out, a number written as 4000.0 or "4000", an address in lower case: one market
    same = copy.deepcopy(GOOD)
    same["shape"]["value"] = 4000.0
    same["shape"]["inclusive"] = False
    same["observe"].update(interval="1d", timezone="UTC", decimals=2)
    same["resolver"] = RESOLVER.upper().replace("0X", "0x")
    assert MarketSpec.parse(same).spec_hash == spec.spec_hash
    assert MarketSpec.parse({**GOOD, "shape": {**GOOD["shape"], "value": "4000"}}).spec_hash == spec.spec_hash


def test_hash_is_stable():
    """The spec hash is part of every market id on-chain: the canonical form never drifts."""
    spec = MarketSpec.parse(GOOD)
    assert spec.spec_hash == "0x0aa547c02b47e2b09b9973363cc7fa396e84e820ecdbecee69d939e7ac05832a"


@pytest.mark.parametrize("path, value", [
    ("quorum", 4), ("close_at", "2019-03-22T00:00:00Z"), ("resolve_at", "2019-03-25T00:00:00Z"),
    ("shape.value", 4001), ("shape.inclusive", True), ("observe.tolerance", 0.02), ("observe.min_sources", 3),
    ("observe.decimals", 3), ("question", "Another?"),
])
def test_every_field_makes_another_market(path, value):
    base = MarketSpec.parse(GOOD)
    other = MarketSpec.parse(_set(GOOD, path, value))
    assert other.market_id != base.market_id
    assert other != base


def test_market_id_binds_every_onchain_parameter():
    spec = MarketSpec.parse(forecast_doc(RESOLVER, FORECASTER))
    assert spec.model == spec.resolver == RESOLVER and spec.forecaster == FORECASTER
    assert spec.onchain() == {"spec_hash": spec.spec_hash, "model_id": RESOLVER, "forecaster_id": FORECASTER,
                              "close_at": spec.close_at_unix, "resolve_at": spec.resolve_at_unix,
                              "outcome_count": 2, "quorum": 3, "dispute_window": 0,
                              "rule_hash": rule_hash_of(spec.zk_rule().as_tuple())}
    assert spec.market_id == market_id_of(**{k: v for k, v in spec.onchain().items()})
    assert MarketSpec.parse(GOOD).forecaster == "0x" + "00" * 32
    # the dispute window is part of the market: another window is another market (and another spec hash),
    # so nobody can register a market's id with a shorter window than its creator chose
    windowed = MarketSpec.parse({**forecast_doc(RESOLVER, FORECASTER), "dispute_window": 7200})
    assert windowed.onchain()["dispute_window"] == 7200 and windowed.market_id != spec.market_id
    assert market_id_of(**{**spec.onchain(), "dispute_window": 7200}) != spec.market_id
    for bad in (-1, 7 * 86400 + 1, 1.5, True, "2h"):
        with pytest.raises(SpecError, match="dispute_window"):
            MarketSpec.parse({**forecast_doc(RESOLVER, FORECASTER), "dispute_window": bad})


def test_market_id_matches_registry_contract(network):
    spec = MarketSpec.parse(forecast_doc(RESOLVER, FORECASTER))
    o = spec.onchain()
    assert network.dep.market_id_of(o["spec_hash"], o["model_id"], o["resolve_at"], o["outcome_count"], o["quorum"],
                                    forecaster_id=o["forecaster_id"], close_at=o["close_at"],
                                    rule_hash=o["rule_hash"]) == spec.market_id
    windowed = MarketSpec.parse({**forecast_doc(RESOLVER, FORECASTER), "dispute_window": 3600})
    w = windowed.onchain()
    assert network.dep.market_id_of(w["spec_hash"], w["model_id"], w["resolve_at"], w["outcome_count"], w["quorum"],
                                    forecaster_id=w["forecaster_id"], close_at=w["close_at"],
                                    dispute_window=3600, rule_hash=w["rule_hash"]) == windowed.market_id


def test_rounds_forecasts_then_the_evidence():
    spec = MarketSpec.parse(forecast_doc(RESOLVER, FORECASTER, as_of="2019-03-17", every_days=2))
    rounds = spec.rounds()
    assert [str(r.features.as_of.date()) for r in rounds[:-1]] == ["2019-03-17", "2019-03-19", "2019-03-21"]
    assert [r.features.horizon_days for r in rounds[:-1]] == [6, 4, 2]
    assert all(not r.final and r.model == FORECASTER and r.recipe == "trailing_returns_v1" for r in rounds[:-1])
    final = spec.round(spec.final_round)
    assert final.final and final.features is None and final.model == RESOLVER
    assert final.recipe == "evidence_compare_v1" and final.due_at == spec.resolve_at_unix
    with pytest.raises(SpecError, match="rounds 0..3"):
        spec.round(4)
    resolve_only = MarketSpec.parse(GOOD).rounds()
    assert len(resolve_only) == 1 and resolve_only[0].final


def _set(doc: dict, path: str, value, *, delete: bool = False) -> dict:
    d = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target = d
    for k in parents:
        target = target[int(k)] if isinstance(target, list) else target[k]
    if delete:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return d


def _range(**shape) -> dict:
    d = _set(GOOD, "observe.sources", NDX)
    d["observe"]["timezone"] = "America/New_York"
    d["outcomes"] = ["low", "mid", "high"]
    d["shape"] = {"kind": "range", "at": "2019-03-22", "bounds": [7000, 7500], **shape}
    d["close_at"], d["resolve_at"] = "2019-03-22T04:00:00Z", "2019-03-23T04:00:00Z"
    return d


def _touch(**shape) -> dict:
    d = copy.deepcopy(GOOD)
    d["shape"] = {"kind": "touch", "from": "2019-03-23", "to": "2019-03-30", "level": 4100, "direction": "up",
                  "yes": "YES", "no": "NO", **shape}
    return d


V1 = {"version": 1, "question": "q", "outcomes": ["YES", "NO"], "kind": "resolve",
      "source": {"kind": "csv", "uri": "bundled:btc_usd_daily.csv"}, "model": RESOLVER,
      "rule": {"kind": "threshold", "threshold": 0.5, "above": "YES", "below": "NO"},
      "resolve_at": "2021-02-02T00:00:00Z", "quorum": 3}


@pytest.mark.parametrize(
    "spec, field, reason",
    [
        (V1, "version", "version 1 specs resolved markets from a model's forecast"),
        (_set(GOOD, "version", 3), "version", ""),
        (_set(GOOD, "colour", "red"), "colour", "unknown field"),
        (_set(GOOD, "question", None, delete=True), "question", "missing"),
        (_set(GOOD, "question", ""), "question", "non-empty"),
        (_set(GOOD, "outcomes", ["YES"]), "outcomes", "2..256"),
        (_set(GOOD, "outcomes", ["YES", "YES"]), "outcomes", "unique"),
        (_set(GOOD, "outcomes", ["YES", "NO", "MAYBE"]), "outcomes", "exactly 2 outcomes"),
        (_range(bounds=[7000, 7500, 8000]), "outcomes", "3 bounds make 4 buckets, the spec names 3"),
        (_set(GOOD, "kind", "guess"), "kind", "must be one of"),
        (_set(GOOD, "resolver", "resnet"), "resolver", "model id"),
        (_set(GOOD, "resolver", "0x" + "00" * 32), "resolver", "not zero"),
        # when
        (_set(GOOD, "close_at", "2019-03-23T00:00:01Z"), "close_at", "after the observation window opens"),
        (_set(GOOD, "resolve_at", "2019-03-23T23:59:59Z"), "resolve_at", "before the evidence can exist"),
        (_set(GOOD, "resolve_at", "2019-03-24"), "resolve_at", "timezone"),
        (_set(GOOD, "resolve_at", "soon"), "resolve_at", "ISO-8601"),
        (_set(GOOD, "observe.deadline", "2019-03-23T12:00:00Z"), "observe.deadline", "before the observation window ends"),
        (_set(_set(GOOD, "observe.deadline", "2019-03-24T00:00:00Z"), "resolve_at", "2019-03-25T00:00:00Z"),
         "observe.deadline", "before resolve_at"),
        # a New York day opens at 04:00 UTC in summer time (from 2019-03-10)
        (_set(_range(), "close_at", "2019-03-22T04:00:01Z"), "close_at", "after the observation window opens"),
        # observe
        (_set(GOOD, "observe.timezone", "Mars/Olympus"), "observe.timezone", "unknown time zone"),
        (_set(GOOD, "observe.sources", [SOURCES["btc-yahoo"], SOURCES["btc-yahoo"]]), "observe.sources[1]",
         "same source as observe.sources[0]"),
        (_set(GOOD, "observe.sources", [SOURCES["btc-coinbase"], {**SOURCES["btc-coinbase"], "time": "Timestamp"}]),
         "observe.sources[1]", "independent sources"),
        (_set(GOOD, "observe.sources", []), "observe.sources", "non-empty"),
        (_set(GOOD, "observe.sources.0.kind", "ftp"), "observe.sources[0].kind", "must be one of"),
        (_set(GOOD, "observe.sources.0.colour", "red"), "observe.sources[0].colour", "unknown field"),
        (_set(GOOD, "observe.min_sources", 5), "observe.min_sources", "[1, 4]"),
        (_set(GOOD, "observe.tolerance", 0), "observe.tolerance", "(0, 0.5]"),
        (_set(GOOD, "observe.decimals", 9), "observe.decimals", "[0, 8]"),
        (_set(GOOD, "observe.interval", "1m"), "observe.interval", "must be one of"),
        (_set(GOOD, "observe.sources", [SOURCES["btc-bitstamp-1h"]]), "observe.sources[0].interval",
         "the observable's bars are '1d'"),
        (_set(_set(_set(GOOD, "observe.interval", "1h"), "observe.sources", [SOURCES["btc-bitstamp-1h"]]),
              "observe.timezone", "America/New_York"), "observe.timezone", "hourly bars are UTC"),
        # shape
        (_set(GOOD, "shape.kind", "vibes"), "shape.kind", "must be one of"),
        (_set(GOOD, "shape.colour", "red"), "shape.colour", "unknown field"),
        (_set(GOOD, "shape.at", "23/03/2019"), "shape.at", "YYYY-MM-DD"),
        (_set(GOOD, "shape.value", 4000.005), "shape.value", "more than observe.decimals=2 decimal places"),
        (_set(GOOD, "shape.value", 1e9), "shape.value", "beyond the resolver's range"),
        (_set(GOOD, "shape.value", True), "shape.value", "must be a number"),
        (_set(GOOD, "shape.above", "MAYBE"), "shape.above", "one of the outcomes"),
        (_set(GOOD, "shape.below", "YES"), "shape.below", "must differ from shape.above"),
        (_set(GOOD, "shape.inclusive", "yes"), "shape.inclusive", "true or false"),
        (_range(bounds=[7500, 7000]), "shape.bounds", "strictly increasing"),
        (_range(bounds=[7000, 7000]), "shape.bounds", "strictly increasing"),
        (_range(bounds=[]), "shape.bounds", "list of 1..8"),
        (_range(bounds=[7000, 7500.125]), "shape.bounds[1]", "more than observe.decimals"),
        (_touch(to="2019-03-22"), "shape.to", "before shape.from"),
        (_touch(to="2021-04-07"), "shape.to", "at most 744 bars"),
        (_touch(direction="sideways"), "shape.direction", "'up'"),
        (_set(_touch(), "shape.level", "high"), "shape.level", "not a number"),
        (_set(GOOD, "shape", {"kind": "versus", "from": "2019-03-23", "to": "2019-03-29", "a": "YES", "b": "NO"}),
         "shape.other", "is required"),
        (_set(GOOD, "shape", {"kind": "versus", "from": "2019-03-23", "to": "2019-03-29", "a": "YES", "b": "NO",
                              "other": {"sources": NDX, "timezone": "Nowhere/City"}}),
         "shape.other.timezone", "unknown time zone"),
        (_set(GOOD, "quorum", 0), "quorum", "[1, 1000]"),
        (_set(GOOD, "quorum", True), "quorum", "integer"),
        (_set(GOOD, "ctf_question_id", "0x12"), "ctf_question_id", "32-byte"),
        # forecasts
        (forecast_doc(RESOLVER, RESOLVER), "forecast.model", "not the market's resolver"),
        (_set(forecast_doc(RESOLVER, FORECASTER), "kind", "resolve"), "forecast", "only a market of kind 'forecast'"),
        (_set(forecast_doc(RESOLVER, FORECASTER), "forecast.every_days", 0), "forecast.every_days", "[1, 365]"),
        (_set(forecast_doc(RESOLVER, FORECASTER), "forecast.source", None, delete=True), "forecast.source",
         "is required"),
        (_set(forecast_doc(RESOLVER, FORECASTER), "forecast", None, delete=True), "forecast", "needs {model"),
        ({**_range(), "close_at": "2019-03-22T00:00:00Z", "kind": "forecast",
          "forecast": forecast_doc(RESOLVER, FORECASTER, as_of="2019-03-17", at="2019-03-21")["forecast"]},
         "kind", "binary markets only"),
        (_set(forecast_doc(RESOLVER, FORECASTER), "close_at", "2019-03-17T12:00:00Z"), "close_at",
         "before the first forecast is due"),
    ],
)
def test_bad_spec_names_field(spec, field, reason):
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(spec)
    assert e.value.field == field, e.value
    assert reason in e.value.reason


def test_a_market_must_open_before_its_outcome_can_be_known():
    """At registration (`now`), trading must still be open: after close_at the evidence may exist."""
    good = MarketSpec.parse(GOOD, now=datetime(2019, 3, 22, 23, 59, 59, tzinfo=timezone.utc))
    assert good.close_at == datetime(2019, 3, 23, tzinfo=timezone.utc)
    for now in (datetime(2019, 3, 23, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)):
        with pytest.raises(SpecError, match="not in the future") as e:
            MarketSpec.parse(GOOD, now=now)
        assert e.value.field == "close_at"


def test_every_shape_round_trips():
    docs = [GOOD, _touch(), _set(_range(), "close_at", "2019-03-22T00:00:00Z"),
            _set(GOOD, "shape", {"kind": "up_down", "from": "2019-03-23", "to": "2019-03-29", "up": "YES",
                                 "down": "NO", "inclusive": False}),
            _set(GOOD, "shape", {"kind": "versus", "from": "2019-03-25", "to": "2019-03-29", "a": "YES", "b": "NO",
                                 "other": {"sources": NDX, "timezone": "America/New_York"}}),
            forecast_doc(RESOLVER, FORECASTER)]
    docs[-3]["resolve_at"], docs[-2]["resolve_at"] = "2019-03-30T00:00:00Z", "2019-03-30T04:00:00Z"
    hashes = set()
    for d in docs:
        spec = MarketSpec.parse(d)
        again = MarketSpec.parse(spec.to_json())
        assert again == spec and again.spec_hash == spec.spec_hash and again.market_id == spec.market_id
        hashes.add(spec.spec_hash)
    assert len(hashes) == len(docs)


def test_load_reports_malformed_file(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("{ not json")
    with pytest.raises(SpecError, match="not valid JSON") as e:
        MarketSpec.load(p)
    assert e.value.field == "file"
    y = tmp_path / "m.yaml"
    import yaml

    y.write_text(yaml.safe_dump(GOOD))
    assert MarketSpec.load(y).spec_hash == MarketSpec.parse(GOOD).spec_hash
    with pytest.raises(SpecError, match="not in the future"):
        MarketSpec.load(y, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
