"""Evidence on the real bundled providers' files (markets/data/SOURCE.md), no mocks: every shape decides
on real dates, the median outvotes a bad provider, partial and missing bars never count, time zones
set the day boundary, and ticks compare exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest

from markets.demo import SOURCES
from markets.evidence import EvidenceMissing, gather
from markets.feeds import load_source
from markets.spec import MarketSpec, _window
from oracle.eip712 import INVALID_OUTCOME

RESOLVER = "0x" + "11" * 32
LATE = datetime.fromisoformat("2030-01-01T00:00:00+00:00")  # long after every bundled bar
YAHOO, BITSTAMP, COINBASE, BINANCE = (SOURCES[n]["uri"] for n in
                                      ("btc-yahoo", "btc-bitstamp", "btc-coinbase", "btc-binance"))
BTC_2019 = ("btc-yahoo", "btc-bitstamp", "btc-coinbase", "btc-binance")
BTC_2021 = ("btc-yahoo", "btc-bitstamp", "btc-binance")
NDX = ("ndx-yahoo", "ndx-stooq")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def market(shape: dict, names, *, outcomes=("YES", "NO"), resolve_at: str | None = None, **observe) -> MarketSpec:
    """A resolve market on the named bundled sources (or source dicts), trading closed long before,
    resolvable as soon as its evidence can exist (unless `resolve_at`)."""
    doc = {
        "version": 2, "question": "a question about real data", "outcomes": list(outcomes), "kind": "resolve",
        "observe": {"sources": [SOURCES[n] if isinstance(n, str) else n for n in names],
                    "min_sources": min(2, len(names)), "tolerance": 0.01, **observe},
        "shape": shape, "resolver": RESOLVER, "close_at": "2010-01-01T00:00:00Z",
        "resolve_at": resolve_at or "2100-01-01T00:00:00Z", "quorum": 1,
    }
    if resolve_at is None:
        first = MarketSpec.parse(doc)
        doc["resolve_at"] = _window(first.observe, first.other, first.shape)[1].strftime("%Y-%m-%dT%H:%M:%SZ")
    return MarketSpec.parse(doc)


def above(at: str, value, names=BTC_2019, **kw) -> MarketSpec:
    inclusive = kw.pop("inclusive", False)
    return market({"kind": "above", "at": at, "value": value, "above": "YES", "below": "NO", "inclusive": inclusive},
                  names, **kw)


def outcome(spec: MarketSpec, now: datetime = LATE) -> str:
    return spec.shape.decide(gather(spec, load_source, now).outputs).outcome_name


def missing(spec: MarketSpec, now: datetime = LATE) -> EvidenceMissing:
    with pytest.raises(EvidenceMissing) as e:
        gather(spec, load_source, now)
    assert e.value.retry == (not e.value.invalid)
    return e.value


# ------------------------------------------------------------------ the median outvotes bad providers
def test_march_2019_median_outvotes_yahoo():
    spec = above("2019-03-23", 4000)
    ev = gather(spec, load_source, LATE)
    (obs,) = ev.observations
    # Bitstamp 3,982.52 and Binance 4,006.01 are the middle pair; Yahoo sits 1.04 % above it
    assert obs.median == Decimal("3994.265")
    assert obs.readings == {YAHOO: Decimal("4035.83"), BITSTAMP: Decimal("3982.52"),
                            COINBASE: Decimal("3975.01"), BINANCE: Decimal("4006.01")}
    assert obs.deviants == [YAHOO]
    assert ev.deviants == [{"bar": "2019-03-23 00:00:00", "field": "close", "source": YAHOO,
                            "value": "4035.83", "median": "3994.265"}]
    assert ev.inputs[1] == 400000 and spec.shape.decide(ev.outputs).outcome_name == "NO"
    # Yahoo alone would have said YES
    assert outcome(above("2019-03-23", 4000, ("btc-yahoo",))) == "YES"


def test_coinbase_stale_segment_is_reported_and_too_few_agreeing_sources_is_not_evidence():
    # 2019-03-30: Coinbase still publishes 2019-03-19's 3,975.01, 3.07 % under the median
    ev = gather(above("2019-03-30", 4000), load_source, LATE)
    assert [d["source"] for d in ev.deviants] == [COINBASE] and ev.observations[0].readings[COINBASE] == Decimal(
        "3975.01")
    assert outcome(above("2019-03-30", 4000)) == "YES"
    # 2019-03-20: Yahoo 1.24 % above, Coinbase 1.54 % below: two sources agree
    ev = gather(above("2019-03-20", 4000), load_source, LATE)
    assert sorted(d["source"] for d in ev.deviants) == sorted([YAHOO, COINBASE])
    three = above("2019-03-20", 4000, min_sources=3)
    early = missing(three, three.deadline - timedelta(seconds=1))
    assert not early.invalid and "2 agreeing source(s), the spec needs 3" in str(early)
    assert "too early" in str(early)
    late = missing(three, three.deadline)
    assert late.invalid and "INVALID: deadline passed" in str(late)
    assert three.deadline == utc("2019-03-28T00:00:00Z")  # the bar's end + 7 days


# ------------------------------------------------------------------ every shape on real dates
def test_above_on_hourly_bars_is_utc():
    spec = above("2021-01-29T15:00Z", 37147.36, ("btc-bitstamp-1h",), interval="1h")
    assert spec.observe.bar_end(spec.shape.params["_at"]) == utc("2021-01-29T16:00:00Z")
    assert missing(spec, utc("2021-01-29T15:59:59Z")).retry
    ev = gather(spec, load_source, utc("2021-01-29T16:00:00Z"))
    assert ev.observations[0].median == Decimal("37147.36")  # the row opening at 15:00
    assert ev.bars == ("2021-01-29T15:00Z",)
    assert spec.shape.decide(ev.outputs).outcome_name == "NO"  # exactly at the value: not above


def test_up_down_weeks():
    def week(a, b, names=BTC_2021, **kw):
        return market({"kind": "up_down", "from": a, "to": b, "up": "Up", "down": "Down"}, names,
                      outcomes=("Up", "Down"), **kw)

    up = gather(week("2021-01-25", "2021-01-31"), load_source, LATE)
    assert [o.need.field for o in up.observations] == ["open", "close"]
    assert [o.median for o in up.observations] == [Decimal("32285.80"), Decimal("33114.36")]
    assert week("2021-01-25", "2021-01-31").shape.decide(up.outputs).outcome_name == "Up"
    # 2021-02-22 open 57,4xx .. 2021-02-28 close 45,2xx
    assert outcome(week("2021-02-22", "2021-02-28")) == "Down"
    # an index week, days in New York: Monday open 2021-01-25 .. Friday close 2021-01-29 (down 3.6 %)
    ndx = week("2021-01-25", "2021-01-29", NDX, timezone="America/New_York")
    assert ndx.resolve_at == utc("2021-01-30T05:00:00Z") and outcome(ndx) == "Down"


def test_range_buckets_on_the_nasdaq_close_in_new_york():
    buckets = ("below 12,500", "12,500-13,000", "13,000-13,500", "13,500 or above")
    spec = market({"kind": "range", "at": "2021-01-29", "bounds": [12500, 13000, 13500]}, NDX, outcomes=buckets,
                  timezone="America/New_York")
    ev = gather(spec, load_source, LATE)
    # Yahoo publishes 12,925.379883 (a float32 artefact), Stooq 12,925.38: each reading is rounded to the tick
    assert set(ev.observations[0].readings.values()) == {Decimal("12925.38")}
    assert ev.observations[0].median == Decimal("12925.38") and ev.inputs == [1292538, 1250000, 1300000, 1350000]
    assert spec.shape.decide(ev.outputs).outcome_name == "12,500-13,000"
    # a bucket holds its lower bound: the close exactly at 12,925.38 is in [12,925.38, 13,000)
    at_bound = market({"kind": "range", "at": "2021-01-29", "bounds": [12925.37, 12925.38, 13000]}, NDX,
                      outcomes=("a", "b", "c", "d"), timezone="America/New_York")
    assert outcome(at_bound) == "c"
    first = market({"kind": "range", "at": "2021-01-29", "bounds": [13000]}, NDX, outcomes=("low", "high"),
                   timezone="America/New_York")
    assert outcome(first) == "low"


def touch(level, a="2021-01-25", b="2021-02-14", names=BTC_2021, direction="up", **kw) -> MarketSpec:
    return market({"kind": "touch", "from": a, "to": b, "level": level, "direction": direction, "yes": "YES",
                   "no": "NO"}, names, **kw)


def test_touch_resolves_early_the_first_day_the_level_is_reached():
    spec = touch(40000)
    assert spec.resolve_at == utc("2021-01-26T00:00:00Z")  # could already resolve after the first day
    e = missing(spec, utc("2021-02-06T23:59:59Z"))
    assert not e.invalid and "has not been reached by 2021-02-05" in str(e)
    ev = gather(spec, load_source, utc("2021-02-07T00:00:00Z"))  # 2021-02-06's high median: 40,955.51
    assert ev.bars == ("2021-01-25", "2021-02-06") and ev.inputs == [4095551, 4000000]
    assert spec.shape.decide(ev.outputs).outcome_name == "YES"
    # read later, the same bars and bytes: nothing after the first touching day is read
    assert gather(spec, load_source, LATE).snapshot() == ev.snapshot()


def test_touch_says_no_only_after_the_window():
    spec = touch(50000)  # highest median high in the window: 49,707.43 on 2021-02-14
    assert missing(spec, utc("2021-02-14T23:59:59Z")).retry
    ev = gather(spec, load_source, utc("2021-02-15T00:00:00Z"))
    assert ev.bars == ("2021-01-25", "2021-02-14") and len(ev.observations) == 21
    assert ev.inputs == [4970743, 5000000] and spec.shape.decide(ev.outputs).outcome_name == "NO"


def test_touch_down_reads_the_lows():
    spec = touch(30000, direction="down")  # 2021-01-27 low median 29,241.72
    ev = gather(spec, load_source, LATE)
    assert [o.need.field for o in ev.observations] == ["low"] * 3 and ev.bars[1] == "2021-01-27"
    assert ev.inputs == [3000000, 2924172] and spec.shape.decide(ev.outputs).outcome_name == "YES"
    assert outcome(touch(29000, direction="down")) == "NO"


def test_touch_on_an_index_skips_closed_sessions():
    """NDX has no bar on weekends: with `sessions: exchange` a closed session, not missing evidence
    (it used to make the market INVALID at its deadline)."""
    spec = touch(13600, "2021-01-29", "2021-02-12", NDX, timezone="America/New_York", sessions="exchange")
    ev = gather(spec, load_source, LATE)
    assert ev.bars == ("2021-01-29", "2021-02-05")  # the high first passes 13,600 on Friday 2021-02-05
    assert [str(o.need.bar.date()) for o in ev.observations] == [
        "2021-01-29", "2021-02-01", "2021-02-02", "2021-02-03", "2021-02-04", "2021-02-05"]
    assert spec.shape.decide(ev.outputs).outcome_name == "YES"
    weekend = touch(13600, "2021-01-30", "2021-01-31", NDX, timezone="America/New_York", sessions="exchange")
    assert not missing(weekend, weekend.deadline - timedelta(seconds=1)).invalid
    assert "no source has a bar in 2021-01-30 .. 2021-01-31" in str(missing(weekend))
    assert missing(weekend).invalid


def versus(a="2021-02-01", b="2021-02-26", names=BTC_2021, other=NDX, other_tz="America/New_York"):
    return market({"kind": "versus", "from": a, "to": b, "a": "Bitcoin", "b": "NASDAQ-100",
                   "other": {"sources": [SOURCES[n] for n in other], "timezone": other_tz}}, names,
                  outcomes=("Bitcoin", "NASDAQ-100"), min_sources=min(2, len(names), len(other)))


def test_versus_compares_gains_across_time_zones():
    spec = versus()
    # the NASDAQ's 2021-02-26 ends at New York midnight, 05:00 UTC
    assert spec.resolve_at == utc("2021-02-27T05:00:00Z")
    assert "bar 2021-02-26 ends 2021-02-27T05:00:00Z" in str(missing(spec, utc("2021-02-27T04:59:59Z")))
    ev = gather(spec, load_source, utc("2021-02-27T05:00:00Z"))
    btc_open, btc_close, ndx_open, ndx_close = (Fraction(o.median) for o in ev.observations)
    gain_btc, gain_ndx = (btc_close / btc_open - 1) * 10**6, (ndx_close / ndx_open - 1) * 10**6
    assert ev.inputs[1] == round(gain_ndx) and abs(ev.inputs[0] - gain_btc) < 1
    assert spec.shape.decide(ev.outputs).outcome_name == "Bitcoin"


def test_versus_tie_is_invalid():
    same = versus(names=("btc-bitstamp",), other=("btc-bitstamp",), other_tz="UTC")
    ev = gather(same, load_source, LATE)
    assert ev.inputs[0] == ev.inputs[1] and ev.outputs == [0]
    d = same.shape.decide(ev.outputs)
    assert (d.outcome, d.outcome_name) == (INVALID_OUTCOME, "INVALID")
    # the same BTC series against itself through two providers: no tie, a decision
    assert outcome(versus(names=("btc-bitstamp",), other=("btc-binance",), other_tz="UTC")) in ("Bitcoin",
                                                                                                "NASDAQ-100")


def test_versus_from_a_closed_day_is_missing_then_invalid():
    spec = versus("2021-01-30", "2021-02-26")  # a Saturday: the NASDAQ has no open
    early = missing(spec, spec.deadline - timedelta(seconds=1))
    assert not early.invalid and "open of bar 2021-01-30: no source has it" in str(early)
    assert missing(spec, spec.deadline).invalid


# ------------------------------------------------------------------ what never counts
def test_a_partial_last_row_never_resolves():
    # Coinbase's file ends on 2020-11-20, exported while that day was still trading
    alone = above("2020-11-20", 18000, ("btc-coinbase",))
    e = missing(alone, alone.deadline - timedelta(seconds=1))
    assert not e.invalid and "too early" in str(e) and "last bar (may be partial)" in str(e)
    assert missing(alone).invalid
    ev = gather(above("2020-11-20", 18000, ("btc-coinbase", "btc-bitstamp"), min_sources=1), load_source, LATE)
    readings = ev.observations[0].readings
    assert readings[COINBASE].startswith("last bar") and isinstance(readings[BITSTAMP], Decimal)
    assert ev.observations[0].median == readings[BITSTAMP]
    # the hourly file's last row (2022-08-20 00:00, in progress when exported) neither
    hour = above("2022-08-20T00:00Z", 20000, ("btc-bitstamp-1h",), interval="1h")
    assert "last bar" in str(missing(hour, utc("2022-08-21T00:00:00Z")))
    assert outcome(above("2022-08-19T23:00Z", 20000, ("btc-bitstamp-1h",), interval="1h")) == "YES"


def test_a_missing_bar_counts_as_missing():
    # Coinbase read by its Timestamp column: the stale rows repeat 2019-03-19 and merge into it
    by_time = {**SOURCES["btc-coinbase"], "time": "Timestamp"}
    spec = above("2019-03-23", 4000, (by_time,), min_sources=1)
    early = missing(spec, spec.deadline - timedelta(seconds=1))
    assert not early.invalid and f"{COINBASE}: no bar" in str(early)
    assert missing(spec).invalid
    # the same with a second source: one reading is enough at min_sources 1, the gap is reported
    ev = gather(above("2019-03-23", 4000, (by_time, "btc-bitstamp"), min_sources=1), load_source, LATE)
    assert ev.observations[0].readings[COINBASE] == "no bar" and ev.observations[0].median == Decimal("3982.52")
    # an index on a Saturday: never guessed from Friday or Monday
    sat = market({"kind": "above", "at": "2021-01-30", "value": 13000, "above": "YES", "below": "NO"}, NDX,
                 timezone="America/New_York")
    assert "no source has it" in str(missing(sat, sat.deadline - timedelta(seconds=1)))
    assert missing(sat).invalid


def test_nothing_counts_before_the_bar_is_over():
    spec = above("2019-03-23", 4000)
    e = missing(spec, utc("2019-03-23T23:59:59Z"))
    assert not e.invalid and "too early: bar 2019-03-23 ends 2019-03-24T00:00:00Z" in str(e)
    assert gather(spec, load_source, utc("2019-03-24T00:00:00Z")).inputs == gather(spec, load_source, LATE).inputs


def test_a_new_york_day_ends_at_new_york_midnight():
    spec = market({"kind": "above", "at": "2021-01-29", "value": 13000, "above": "YES", "below": "NO"}, NDX,
                  timezone="America/New_York")
    bar = spec.shape.params["_at"]
    assert spec.observe.bar_open(bar) == utc("2021-01-29T05:00:00Z")
    assert spec.observe.bar_end(bar) == utc("2021-01-30T05:00:00Z")  # EST: UTC-5
    assert missing(spec, utc("2021-01-30T04:59:59Z")).retry
    assert outcome(spec, utc("2021-01-30T05:00:00Z")) == "NO"  # 12,925.38
    summer = market({"kind": "above", "at": "2021-07-01", "value": 14560.05, "above": "YES", "below": "NO",
                     "inclusive": True}, NDX, timezone="America/New_York")
    assert summer.observe.bar_end(summer.shape.params["_at"]) == utc("2021-07-02T04:00:00Z")  # EDT: UTC-4
    assert outcome(summer, utc("2021-07-02T04:00:00Z")) == "YES"


# ------------------------------------------------------------------ ticks are exact
def test_a_close_exactly_at_the_value():
    assert outcome(above("2019-03-23", 3982.52, ("btc-bitstamp",))) == "NO"  # strictly above: no
    assert outcome(above("2019-03-23", 3982.52, ("btc-bitstamp",), inclusive=True)) == "YES"
    assert outcome(above("2019-03-23", 3982.51, ("btc-bitstamp",))) == "YES"
    assert outcome(above("2019-03-23", 3982.53, ("btc-bitstamp",), inclusive=True)) == "NO"


def test_a_median_between_two_ticks_compares_exactly():
    """Bitstamp 3,982.52 and Binance 4,006.01: the median 3,994.265 lies between ticks. Rounding it
    to the nearest (even) tick, 3,994.26, said NO to "above 3,994.26". (min_sources 1: the two
    sources, read alone, disagree on these lines; with 2 there would be no vote, see below.)"""
    pair = ("btc-bitstamp", "btc-binance")
    assert gather(above("2019-03-23", 4000, pair, min_sources=1), load_source, LATE).observations[0].median == \
        Decimal("3994.265")
    assert outcome(above("2019-03-23", 3994.26, pair, min_sources=1)) == "YES"
    assert outcome(above("2019-03-23", 3994.27, pair, inclusive=True, min_sources=1)) == "NO"
    assert outcome(above("2019-03-23", 3994.26, pair, inclusive=True, min_sources=1)) == "YES"
    assert outcome(above("2019-03-23", 3994.27, pair, min_sources=1)) == "NO"
    three = ("btc-bitstamp", "btc-binance", "btc-coinbase")  # Coinbase 3,975.01: the median is Bitstamp's
    rng = market({"kind": "range", "at": "2019-03-23", "bounds": [3982.52, 3982.53]}, three,
                 outcomes=("lo", "mid", "hi"), min_sources=1)
    assert outcome(rng) == "mid"


def test_no_outcome_that_too_few_sources_give_alone():
    """A median can cross a line that the sources, each read alone, do not agree it crossed: two
    sources straddling $3,994.26 (Bitstamp below, Binance above) with min_sources 2 give no vote
    (too early; INVALID at the deadline), never an outcome only one of them shows. A stale source
    within the tolerance cannot flip an outcome the honest sources agree on: 2019-03-23 with
    Coinbase frozen at 3,975.01 still resolves NO (Bitstamp and Coinbase alone say NO)."""
    pair = ("btc-bitstamp", "btc-binance")
    spec = above("2019-03-23", 3994.26, pair)
    early = missing(spec, spec.deadline - timedelta(seconds=1))
    assert not early.invalid and "only 1 source(s) read alone give" in str(early)
    assert missing(spec).invalid
    assert outcome(above("2019-03-23", 4000)) == "NO"
    # a bucket between the two: the median is in it, no source alone is
    rng = market({"kind": "range", "at": "2019-03-23", "bounds": [3994.26, 3994.27]}, pair, outcomes=("lo", "mid", "hi"),
                 min_sources=1)
    assert "only 0 source(s) read alone give" in str(missing(rng))


@pytest.mark.parametrize("inclusive", [False, True])
def test_every_march_2019_day_decides_as_the_exact_median(inclusive):
    """For every day and constants one tick either side of the median, the integer comparison the
    circuit makes agrees with the exact one."""
    for day in range(1, 32):
        at = f"2019-03-{day:02d}"
        med = gather(above(at, 4000), load_source, LATE).observations[0].median
        for value in {med.quantize(Decimal("0.01"), rounding=r) for r in ("ROUND_FLOOR", "ROUND_CEILING")}:
            expected = "YES" if (med >= value if inclusive else med > value) else "NO"
            assert outcome(above(at, float(value), inclusive=inclusive)) == expected, (at, value)


def test_evidence_is_the_same_whenever_it_is_read():
    spec = above("2019-03-23", 4000)
    a = gather(spec, load_source, utc("2019-03-24T00:00:00Z"))
    b = gather(spec, load_source, LATE)
    assert a.snapshot() == b.snapshot() and a.inputs == b.inputs
    assert b"3994.265" in a.snapshot() and b"evidence_compare_v1" in a.snapshot()


def test_sources_that_can_never_be_read_are_an_error_not_too_early(monkeypatch):
    """Every source refused (outside the operator's allow-policy): no retry can help, and the error
    says so instead of "too early"."""
    from markets.evidence import EvidenceMissing, gather
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.errors import DataError

    from conftest import spec_doc

    doc = spec_doc("0x" + "11" * 32)
    doc["observe"]["sources"] = [{"kind": "http_json", "uri": "http://127.0.0.1:9/a", "column": "close"},
                                 {"kind": "http_json", "uri": "http://127.0.0.1:9/b", "column": "close"}]
    spec = MarketSpec.parse(doc)
    monkeypatch.setenv("ORACLE_SOURCE_ALLOW", "bundled")
    with pytest.raises(DataError) as e:
        gather(spec, load_source, datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert not isinstance(e.value, EvidenceMissing) and not e.value.retry
    assert "can be read" in str(e.value) and "allow-policy" in str(e.value)


def test_a_bar_missing_from_every_source_of_a_continuous_series_is_missing_evidence():
    """BTC trades around the clock: a day no source has is missing evidence, never a closed session
    stepped over (the touch on 2019-05-26 must not be skipped into a NO)."""
    week = ("2019-05-20", "2019-05-26")
    spec = touch(8210, *week, ("btc-yahoo", "btc-bitstamp", "btc-binance"))
    assert spec.observe.sessions == "continuous"
    assert spec.shape.decide(gather(spec, load_source, LATE).outputs).outcome_name == "YES"
    names = [s["uri"] for s in spec.observe.sources]

    def without_sunday(source):
        f = load_source(source)
        return f.drop(index=[pd.Timestamp("2019-05-26")]) if source["uri"] in names else f

    with pytest.raises(EvidenceMissing):
        gather(spec, without_sunday, LATE)
    exchange = touch(8210, *week, ("btc-yahoo", "btc-bitstamp", "btc-binance"), sessions="exchange")
    assert exchange.shape.decide(gather(exchange, without_sunday, LATE).outputs).outcome_name == "NO"
