"""Market sources mapped into specs: Polymarket Gamma and Manifold (local HTTP server), spec folders."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from markets.sources import LocalFolderSource, ManifoldSource, PolymarketSource, parse_price_question
from oracle.errors import DataError

MODEL = "0x" + "cd" * 32

# Shapes as the Gamma API returns them: list fields are JSON strings.
GAMMA = [
    {"id": "501", "question": "Will Bitcoin close above $45,000 on February 20, 2021?",
     "description": "Resolves YES if the BTC-USD daily close ...", "outcomes": "[\"Yes\", \"No\"]",
     "outcomePrices": "[\"0.62\", \"0.38\"]", "endDate": "2021-02-21T00:00:00Z", "closed": False,
     "conditionId": "0x" + "aa" * 32, "questionID": "0x" + "bb" * 32, "umaResolutionStatuses": "[]",
     "negRisk": False, "active": True},
    {"id": "502", "question": "Will BTC be above $30k on 2021-01-30?", "outcomes": "[\"Yes\", \"No\"]",
     "outcomePrices": "[\"0.5\", \"0.5\"]", "endDate": "2021-01-31T00:00:00Z", "closed": False,
     "questionID": "0x" + "cc" * 32, "umaResolutionStatuses": "[\"proposed\"]", "negRisk": False},
    {"id": "503", "question": "Will Bitcoin close above $50,000 on March 1, 2021?", "outcomes": "[\"Yes\", \"No\"]",
     "outcomePrices": "[\"1\", \"0\"]", "endDate": "2021-03-02T00:00:00Z", "closed": True,
     "umaResolutionStatuses": "[\"resolved\"]", "negRisk": False},
    {"id": "504", "question": "Will Bitcoin close above $60,000 on April 1, 2021?", "outcomes": "[\"Yes\", \"No\"]",
     "outcomePrices": "[\"0.2\", \"0.8\"]", "endDate": "2021-04-02T00:00:00Z", "closed": False,
     "umaResolutionStatuses": "[\"proposed\", \"resolved\"]", "negRisk": False},
    {"id": "505", "question": "Bitcoin above $40,000 on February 5, 2021?", "outcomes": "[\"Yes\", \"No\"]",
     "endDate": "2021-02-06T00:00:00Z", "closed": False, "umaResolutionStatuses": "[]", "negRisk": True},
    {"id": "506", "question": "Who will win the 2024 US presidential election?",
     "outcomes": "[\"Trump\", \"Harris\", \"Other\"]", "endDate": "2024-11-06T00:00:00Z", "closed": False,
     "umaResolutionStatuses": "[]", "negRisk": False},
    {"id": "507", "question": "Will ETH close above $2,000 on February 20, 2021?", "outcomes": "[\"Yes\", \"No\"]",
     "endDate": "2021-02-21T00:00:00Z", "closed": False, "umaResolutionStatuses": "[]", "negRisk": False},
    {"id": "508", "question": "Will Bitcoin close above $45,000 on February 20, 2021?", "outcomes": "not json",
     "endDate": "2021-02-21T00:00:00Z", "closed": False, "umaResolutionStatuses": "[]", "negRisk": False},
]

MANIFOLD = [
    {"id": "m1", "question": "Will BTC close above $35,000 on January 25, 2021?", "outcomeType": "BINARY",
     "closeTime": 1611619200000, "isResolved": False, "probability": 0.44, "mechanism": "cpmm-1"},
    {"id": "m2", "question": "Will BTC close above $35,000 on January 26, 2021?", "outcomeType": "BINARY",
     "closeTime": 1611705600000, "isResolved": True, "resolution": "NO"},
    {"id": "m3", "question": "Which coin will pump?", "outcomeType": "MULTIPLE_CHOICE", "closeTime": 1611705600000,
     "isResolved": False},
    {"id": "m4", "question": "Will it rain in London tomorrow?", "outcomeType": "BINARY",
     "closeTime": 1611705600000, "isResolved": False},
]


@pytest.fixture(scope="module")
def platform():
    """Recorded-shape payloads on a loopback server (never the internet); state["down"] fails it."""
    from conftest import JsonServer

    healthy = {"/gamma/markets": (200, GAMMA), "/manifold/v0/markets": (200, MANIFOLD)}
    state = {}

    class Switch(dict):
        def get(self, key, default=None):
            return (503, {}) if state.get("down") else healthy.get(key, default)

    with JsonServer(Switch()) as server:
        yield server.url, state


def test_question_parser():
    assert parse_price_question("Will Bitcoin close above $45,000 on February 20, 2021?") == (
        45000.0, datetime(2021, 2, 20, tzinfo=timezone.utc))
    assert parse_price_question("Will BTC be above $30k on 2021-01-30?")[0] == 30000.0
    assert parse_price_question("Will BTC close above $35,000 on Jan. 25th, 2021?")[1].day == 25
    assert parse_price_question("Will ETH close above $2,000 on February 20, 2021?") is None


def test_polymarket_mapping(platform):
    base, _ = platform
    result = PolymarketSource(base + "/gamma", model_id=MODEL, quorum=3).pull()
    found = {d.external_id: d.spec for d in result.found}
    assert set(found) == {"501", "502"}
    spec = found["501"]
    assert spec.outcomes == ("Yes", "No") and spec.rule.above == "Yes"
    assert spec.features.threshold_price == 45000.0
    assert str(spec.features.target_date.date()) == "2021-02-20" and spec.features.horizon_days == 7
    assert spec.ctf_question_id == "0x" + "bb" * 32 and spec.model == MODEL and spec.quorum == 3
    assert found["502"].features.threshold_price == 30000.0
    reasons = {s.external_id: s.reason for s in result.skipped}
    assert reasons["503"] == "closed"
    assert reasons["504"] == "already resolved through UMA"
    assert "negRisk" in reasons["505"]
    assert "not binary Yes/No" in reasons["506"]
    assert "not a BTC close-above-price question" in reasons["507"]
    assert "malformed market object" in reasons["508"]


def test_manifold_mapping(platform):
    base, _ = platform
    result = ManifoldSource(base + "/manifold", model_id=MODEL, quorum=4).pull()
    (d,) = result.found
    assert d.external_id == "m1" and d.spec.outcomes == ("YES", "NO") and d.spec.quorum == 4
    assert d.spec.features.threshold_price == 35000.0
    reasons = {s.external_id: s.reason for s in result.skipped}
    assert reasons == {"m2": "already resolved", "m3": "outcomeType 'MULTIPLE_CHOICE' is not BINARY",
                       "m4": "not a BTC close-above-price question this oracle's models can compute"}


def test_platform_down_is_retryable(platform):
    base, state = platform
    state["down"] = True
    try:
        with pytest.raises(DataError, match="HTTP 503") as e:
            PolymarketSource(base + "/gamma", model_id=MODEL, quorum=3).pull()
        assert e.value.retry
    finally:
        state["down"] = False
    with pytest.raises(DataError, match="is down") as e:
        ManifoldSource("http://127.0.0.1:9", model_id=MODEL, quorum=3, timeout=0.5).pull()
    assert e.value.retry


def test_local_folder(tmp_path):
    from conftest import spec_doc

    (tmp_path / "good.json").write_text(json.dumps(spec_doc(MODEL, resolve_in_s=3600)))
    (tmp_path / "bad.json").write_text(json.dumps({**spec_doc(MODEL), "outcomes": ["YES"]}))
    (tmp_path / "notes.txt").write_text("ignored")
    result = LocalFolderSource(tmp_path).pull()
    assert [d.external_id for d in result.found] == ["good.json"]
    (skip,) = result.skipped
    assert skip.external_id == "bad.json" and "field 'outcomes'" in skip.reason
