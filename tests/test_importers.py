"""Platform importers on real wording: Polymarket Gamma events and Manifold markets (fixtures in
tests/data, see SOURCE.md) served by a loopback server, mapped into version-2 specs of every shape, the
rest skipped with a reason; and real-worded questions on 2021 dates resolved from the bundled evidence."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from markets.questions import default_assets, nyse_holidays
from markets.sources import ManifoldSource, PolymarketSource

DATA = Path(__file__).parent / "data"
EVENTS = json.loads((DATA / "polymarket_events.json").read_text())
MANIFOLD = json.loads((DATA / "manifold_markets.json").read_text())
RESOLVERS = {1: "0x" + "c1" * 32, 6: "0x" + "c6" * 32}


def resolver_of(width: int) -> str:
    return RESOLVERS.get(width, "0x" + f"{width:02x}" * 32)


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def platform():
    from conftest import JsonServer

    with JsonServer({"/gamma/events": (200, EVENTS), "/manifold/v0/markets": (200, MANIFOLD)}) as server:
        yield server.url


@pytest.fixture(scope="module")
def assets():
    return default_assets()


def poly(base, assets, now=utc(2025, 2, 27)):
    return PolymarketSource(base + "/gamma", resolver_of=resolver_of, quorum=3, assets=assets, now=now).pull()


def by_question(result):
    return {d.spec.question: d.spec for d in result.found}


def test_polymarket_shapes(platform, assets):
    result = poly(platform, assets)
    specs = by_question(result)
    # daily "above" members: the price at noon ET (EDT on March 14, 2025) = close of the 15:00Z hourly bar
    above = specs["Will the price of Bitcoin be above $84,000 on March 14?"]
    assert above.observe.interval == "1h" and above.observe.timezone == "UTC"
    assert above.to_json()["shape"] == {"kind": "above", "at": "2025-03-14T15:00Z", "value": 84000, "above": "Yes",
                                        "below": "No", "inclusive": False}
    assert above.close_at == utc(2025, 3, 14, 15) and above.resolve_at == utc(2025, 3, 14, 16)
    assert above.resolver == resolver_of(1) and above.quorum == 3 and above.ctf_question_id.startswith("0x")
    assert [s["uri"] for s in above.observe.to_json()["sources"]] == ["bundled:btc_usd_hourly_bitstamp.csv"]
    # daily up/down: noon ET the day before -> noon ET on the day
    ud = specs["Bitcoin Up or Down on March 14?"].to_json()["shape"]
    assert (ud["from"], ud["to"], ud["up"], ud["inclusive"]) == ("2025-03-13T16:00Z", "2025-03-14T15:00Z", "Up", True)
    # hourly: the 12PM ET candle is the 16:00Z bar
    hr = specs["Bitcoin Up or Down - March 14, 12PM ET"].to_json()["shape"]
    assert (hr["from"], hr["to"]) == ("2025-03-14T16:00Z", "2025-03-14T16:00Z")
    # the ET month (EST until March 9, EDT after): 05:00Z March 1 .. the bar ending 04:00Z April 1
    reach = specs["Will Bitcoin reach $100,000 in March?"]
    assert reach.to_json()["shape"] | {} == {"kind": "touch", "from": "2025-03-01T05:00Z", "to": "2025-04-01T03:00Z",
                                             "level": 100000, "direction": "up", "yes": "Yes", "no": "No"}
    assert reach.resolve_at == utc(2025, 3, 1, 6)  # a touch can resolve on its first bar
    assert specs["Will Bitcoin dip to $70,000 in March?"].shape.params["direction"] == "down"
    # the negRisk bucket group: one range market, buckets in price order, outcomes from groupItemTitle
    rng = specs["Bitcoin price on March 14?"]
    assert rng.to_json()["shape"] == {"kind": "range", "at": "2025-03-14T15:00Z",
                                      "bounds": [80000, 82000, 84000, 86000, 88000, 90000]}
    assert rng.outcomes == ("<80k", "80-82k", "82-84k", "84-86k", "86-88k", "88-90k", ">90k")
    assert rng.resolver == resolver_of(6)
    ext = {d.spec.question: d.external_id for d in result.found}
    assert ext["Bitcoin price on March 14?"] == "event:20005"


def test_polymarket_skips_with_reasons(platform, assets):
    result = poly(platform, assets)
    reasons = {s.external_id: s.reason for s in result.skipped}
    questions = {str(m["id"]): m["question"] for e in EVENTS for m in e["markets"]}
    by_q = {questions.get(k, k): v for k, v in reasons.items()}
    assert "more than a range resolver reads (9)" in reasons["event:20006"]
    assert "do not tile" in reasons["event:20007"]
    assert "not a price bucket" in reasons["event:20014"]
    assert by_q["Will the price of Ethereum be above $2,200 on March 14?"].startswith("no source for Ethereum")
    assert "finest bars are 1 hour" in by_q["Bitcoin Up or Down - March 14, 2:05PM-2:10PM ET"]
    assert "time-weighted average" in by_q["Bitcoin Up or Down - March 14, 12PM-4PM ET"]
    assert "since the market opened (2024-11-24" in by_q["Will Bitcoin reach $150,000 by December 31, 2025?"]
    assert "not after now" in by_q["Will the price of Bitcoin be above $90,000 on February 26?"]
    assert by_q["Will the price of Bitcoin be above $95,000 on March 1?"] == "closed"
    assert by_q["Will the price of Bitcoin be above $85,000 on March 1?"] == "already resolved through UMA"
    assert "not a price question" in by_q["Will the Fed decrease interest rates by 25 bps after the March 2025 meeting?"]
    # every market of the fixture is accounted for, once
    members = sum(len(e["markets"]) for e in EVENTS if not (e["negRisk"] and len(e["markets"]) > 1))
    groups = sum(1 for e in EVENTS if e["negRisk"] and len(e["markets"]) > 1)
    assert len(result.found) + len(result.skipped) == members + groups


def test_now_decides_what_is_still_open(platform, assets):
    """The same payload a fortnight later: March has begun, the monthly touch ladder is skipped."""
    later = by_question(poly(platform, assets, now=utc(2025, 3, 10)))
    assert "Will Bitcoin reach $100,000 in March?" not in later
    assert "Bitcoin price on March 14?" in later
    past = poly(platform, assets, now=utc(2025, 3, 14, 15, 30))
    # 11:30 ET: the noon price's hour has begun (skipped); the 12PM candle has not opened (still mapped)
    assert [d.spec.question for d in past.found if "March 14" in d.spec.question] == [
        "Bitcoin Up or Down - March 14, 12PM ET"]
    reasons = {s.reason for s in past.skipped}
    assert any(r.startswith("its observation window opened at 2025-03-14T15:00:00Z") for r in reasons)


def test_manifold_shapes_and_skips(platform, assets):
    result = ManifoldSource(platform + "/manifold", resolver_of=resolver_of, quorum=4, assets=assets,
                            now=utc(2024, 12, 20)).pull()
    specs = by_question(result)
    close = specs["Will BTC close above $100k on Dec 31, 2025?"]
    assert close.to_json()["shape"]["at"] == "2025-12-31" and close.observe.interval == "1d"
    assert close.observe.timezone == "UTC" and close.observe.min_sources == 2 and len(close.observe.sources) == 4
    assert close.outcomes == ("YES", "NO") and close.quorum == 4
    vs = specs["Will Bitcoin outperform the Nasdaq-100 in 2025?"]
    s = vs.to_json()["shape"]
    assert (s["from"], s["to"], s["a"], s["b"]) == ("2025-01-02", "2025-12-31", "YES", "NO")  # NYSE trades Jan 2
    assert s["other"]["timezone"] == "America/New_York" and vs.close_at == utc(2025, 1, 2)
    ndx = specs["Will the Nasdaq-100 close above 22,000 on March 14, 2025?"]
    assert ndx.observe.timezone == "America/New_York" and ndx.close_at == utc(2025, 3, 14, 4)  # platform close first
    below = specs["Will Bitcoin be below $60,000 on January 31, 2025?"].to_json()["shape"]
    assert (below["above"], below["below"], below["inclusive"]) == ("NO", "YES", True)
    dip = specs["Will Bitcoin dip to $50,000 in March 2025?"].to_json()["shape"]
    assert (dip["from"], dip["to"], dip["direction"]) == ("2025-03-01", "2025-03-31", "down")
    reasons = {m["question"]: r for m in MANIFOLD for s in result.skipped if s.external_id == m["id"]
               for r in [s.reason]}
    assert reasons["Will the Nasdaq 100 close higher than the S&P 500 in 2025?"].startswith("no source for S&P 500")
    assert reasons["Will the Nasdaq-100 close above 22,000 on March 15, 2025?"].startswith(
        "2025-03-15 is not a trading day of NASDAQ-100")
    assert "since the market opened" in reasons["Will Bitcoin reach $100k by end of 2025?"]
    assert "not after now" in reasons["Will Bitcoin outperform the Nasdaq-100 in 2024?"]
    assert reasons["Will ETH close above $4,000 on Dec 31, 2025?"].startswith("no source for Ethereum")
    assert reasons["Will BTC close above $100k on Dec 31, 2024?"] == "already resolved"
    assert "is not BINARY" in reasons["Which crypto will perform best in 2025?"]
    assert "not a price question" in reasons["Will it snow in London on Christmas Day 2025?"]
    assert len(result.found) + len(result.skipped) == len(MANIFOLD)


def test_asset_table_is_configuration(platform, assets):
    """Without an hourly source the noon-ET questions are skipped for that reason; without BTC at all,
    every Bitcoin question says the node has no source for it."""
    daily_only = {k: v for k, v in assets.items()}
    btc = assets["BTC"]
    from dataclasses import replace

    daily_only["BTC"] = replace(btc, series={"1d": btc.series["1d"]})
    r = poly(platform, daily_only)
    reasons = Counter(s.reason.split(":")[0] for s in r.skipped)
    assert any("needs hourly bars" in s.reason for s in r.skipped)
    assert "Bitcoin price on March 14?" not in by_question(r)
    ndx_only = {"NDX": assets["NDX"]}
    r = poly(platform, ndx_only)
    assert not r.found and reasons
    assert any(s.reason.startswith("no source for Bitcoin") for s in r.skipped)
    with pytest.raises(ValueError, match="asset table"):
        PolymarketSource(platform + "/gamma", resolver_of=resolver_of, quorum=3, assets={})


def test_nyse_calendar():
    assert {d.isoformat() for d in nyse_holidays(2025)} == {
        "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19",
        "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25"}


# ------------------------------------------------------------ imported questions resolve from the evidence
def _outcome(spec, load, now):
    from markets.evidence import gather

    ev = gather(spec, load, now)
    return spec.shape.decide([ev.inputs[0] - c for c in ev.inputs[1:]]).outcome_name, ev


def test_imported_questions_resolve_to_what_happened(assets, load):
    """Polymarket wording on February 2021 dates (no year: from endDate), mapped, then resolved from the
    bundled providers; each outcome checked against the provider data read directly."""
    from conftest import JsonServer

    from markets.feeds import load_source

    noon = ('This market will resolve to "Yes" if the Binance 1 minute candle for BTC/USDT 12:00 in the ET '
            'timezone (noon) on the date specified in the title has a final "Close" price higher than the price '
            'specified in the title.')
    hourly = ('This market will resolve to "Up" if the close price is greater than or equal to the open price for '
              'the BTC/USDT 1 hour candle that begins on the time and date specified in the title.')

    def m(i, q, end, desc, outcomes=("Yes", "No"), **kw):
        return {"id": str(i), "question": q, "endDate": end, "description": desc, "outcomes": json.dumps(outcomes),
                "closed": False, "umaResolutionStatuses": "[]", **kw}

    F10 = "2021-02-10T17:00:00Z"  # noon EST
    buckets = [("less than $44,000", "<44k"), ("between $44,000 and $46,000", "44-46k"),
               ("between $46,000 and $48,000", "46-48k"), ("greater than $48,000", ">48k")]
    events = [
        {"id": "1", "title": "Bitcoin above ___ on February 10?", "negRisk": False,
         "markets": [m(11, "Will the price of Bitcoin be above $45,000 on February 10?", F10, noon)]},
        {"id": "2", "title": "Bitcoin Up or Down - February 10, 12PM ET", "negRisk": False,
         "markets": [m(12, "Bitcoin Up or Down - February 10, 12PM ET", "2021-02-10T18:00:00Z", hourly, ("Up", "Down"))]},
        {"id": "3", "title": "Bitcoin price on February 10?", "negRisk": True,
         "markets": [m(20 + i, f"Will the price of Bitcoin be {b} on February 10?", F10, noon, groupItemTitle=g)
                     for i, (b, g) in enumerate(buckets)]},
        {"id": "4", "title": "What price will Bitcoin hit in February?", "negRisk": False,
         "markets": [m(13, "Will Bitcoin reach $50,000 in February?", "2021-03-01T05:00:00Z",
                       'resolve to "Yes" if any Binance 1 minute candle for BTC/USDT during the month specified in '
                       'the title (ET timezone) has a final "High" price equal to or greater than the price')]},
    ]
    with JsonServer({"/events": (200, events)}) as server:
        result = PolymarketSource(server.url, resolver_of=resolver_of, quorum=3, assets=assets,
                                  now=utc(2021, 1, 25)).pull()
    assert not result.skipped, result.skipped
    specs = by_question(result)
    hourly_frame = load_source(assets["BTC"].series["1h"].sources[0])
    close_noon = hourly_frame.loc["2021-02-10 16:00", "close"]  # the hour ending 12:00 EST (17:00Z)
    after = utc(2021, 3, 10)

    outcome, _ = _outcome(specs["Will the price of Bitcoin be above $45,000 on February 10?"], load, after)
    assert outcome == ("Yes" if close_noon > 45000 else "No")
    bar = hourly_frame.loc["2021-02-10 17:00"]
    outcome, _ = _outcome(specs["Bitcoin Up or Down - February 10, 12PM ET"], load, after)
    assert outcome == ("Up" if bar["close"] >= bar["open"] else "Down")
    outcome, _ = _outcome(specs["Bitcoin price on February 10?"], load, after)
    expect = "<44k" if close_noon < 44000 else "44-46k" if close_noon < 46000 else "46-48k" if close_noon < 48000 else ">48k"
    assert outcome == expect
    touch = specs["Will Bitcoin reach $50,000 in February?"]
    outcome, ev = _outcome(touch, load, after)
    feb = hourly_frame.loc["2021-02-01 05:00":"2021-03-01 04:00"]
    first = feb.index[feb["high"] >= 50000][0]
    assert outcome == "Yes" and ev.bars[-1] == first.strftime("%Y-%m-%dT%H:%MZ")  # resolved the hour it touched
