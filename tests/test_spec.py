"""Market spec: canonical hashing, market id derivation, and one clear error per bad field."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from markets.spec import MarketSpec, market_id_of
from oracle.errors import SpecError

MODEL = "0x" + "ab" * 32
GOOD = {
    "version": 1,
    "question": "Will BTC close above $40,000 on 2021-02-01?",
    "outcomes": ["YES", "NO"],
    "kind": "resolve",
    "source": {"kind": "csv", "uri": "bundled:btc_usd_daily.csv"},
    "features": {"recipe": "trailing_returns_v1",
                 "params": {"as_of": "2021-01-25", "horizon_days": 7, "threshold_ratio": 1.05}},
    "model": MODEL,
    "rule": {"kind": "threshold", "threshold": 0.5, "above": "YES", "below": "NO"},
    "resolve_at": "2021-02-02T00:00:00Z",
    "quorum": 3,
}


def test_round_trip_and_hash_are_canonical():
    spec = MarketSpec.parse(GOOD)
    again = MarketSpec.parse(spec.to_json())
    assert again == spec and again.spec_hash == spec.spec_hash
    reordered = dict(reversed(list(GOOD.items())))
    assert MarketSpec.parse(reordered).spec_hash == spec.spec_hash
    changed = copy.deepcopy(GOOD)
    changed["quorum"] = 4
    assert MarketSpec.parse(changed).market_id != spec.market_id
    assert spec.market_id == market_id_of(spec.spec_hash, spec.model, spec.resolve_at_unix, len(spec.outcomes),
                                          spec.quorum)


def test_market_id_matches_registry_contract(network):
    spec = MarketSpec.parse(GOOD)
    assert network.dep.market_id_of(spec.spec_hash, spec.model, spec.resolve_at_unix, len(spec.outcomes),
                                    spec.quorum) == spec.market_id


def _bad(path: str, value, *, delete=False):
    d = copy.deepcopy(GOOD)
    keys = path.split(".")
    target = d
    for k in keys[:-1]:
        target = target[k]
    if delete:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return d


@pytest.mark.parametrize(
    "spec, field, reason",
    [
        (_bad("colour", "red"), "colour", "unknown field"),
        (_bad("question", None, delete=True), "question", "missing"),
        (_bad("version", 2), "version", "unsupported"),
        (_bad("question", ""), "question", "non-empty"),
        (_bad("outcomes", ["YES"]), "outcomes", "2..256"),
        (_bad("outcomes", ["YES", "YES"]), "outcomes", "unique"),
        (_bad("outcomes", ["A", "B", "C"]), "outcomes", "exactly 2"),
        (_bad("kind", "guess"), "kind", "must be one of"),
        (_bad("source.kind", "ftp"), "source.kind", "must be one of"),
        (_bad("features.recipe", "magic"), "features.recipe", "unknown recipe"),
        (_bad("features.params.as_of", "yesterday"), "features.params.as_of", "YYYY-MM-DD"),
        (_bad("features.params.horizon_days", "7"), "features.params.horizon_days", "integer"),
        (_bad("features.params.threshold_ratio", 0), "features.params.threshold_ratio", "[0.2, 5]"),
        (_bad("model", "resnet"), "model", "model id"),
        (_bad("rule.threshold", 1.5), "rule.threshold", "between 0 and 1"),
        (_bad("rule.above", "MAYBE"), "rule.above", "one of the outcomes"),
        (_bad("rule.kind", "vibes"), "rule.kind", "threshold"),
        (_bad("resolve_at", "2021-02-02"), "resolve_at", "timezone"),
        (_bad("resolve_at", "soon"), "resolve_at", "ISO-8601"),
        (_bad("resolve_at", "2021-01-01T00:00:00Z"), "resolve_at", "before the features"),
        (_bad("quorum", 0), "quorum", "[1, 1000]"),
        (_bad("quorum", True), "quorum", "integer"),
        (_bad("ctf_question_id", "0x12"), "ctf_question_id", "32-byte"),
    ],
)
def test_bad_spec_names_field(spec, field, reason):
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(spec)
    assert e.value.field == field
    assert reason in e.value.reason


def test_resolve_time_in_the_past_is_refused_when_registering_live():
    with pytest.raises(SpecError, match="in the past") as e:
        MarketSpec.parse(GOOD, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert e.value.field == "resolve_at"


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
