"""Feeds refuse bad data with a specific reason; features are deterministic and read exactly their window."""

from __future__ import annotations

import pandas as pd
import pytest

from markets.features import CLIP, FeatureSpec, TrailingReturns
from markets.feeds import load_source, validate_frame
from oracle.errors import DataError

from conftest import ROOT


def _frame(rows):
    return pd.DataFrame(rows, columns=["Date", "Close"])


def test_bundled_btc_loads(frame):
    assert frame.index[0] == pd.Timestamp("2014-09-17") and frame.index[-1] == pd.Timestamp("2022-03-01")
    assert len(frame) == 2723 and frame.index.is_monotonic_increasing


@pytest.mark.parametrize(
    "rows, match",
    [
        ([("2021-01-01", 1.0), ("2021-01-01", 2.0)], r"test: 2021-01-01 appears more than once with conflicting"),
        ([("2021-01-02", 1.0), ("2021-01-01", 2.0)], "not increasing at row 2 \\(2021-01-01 after 2021-01-02\\)"),
        ([("2021-01-01", 1.0), ("2021-01-02", 3.0), ("2021-01-01", 1.0)], "not increasing"),
        ([("2021-01-01", 1.0), ("2021-01-02", float("nan"))], "column 'Close' has a missing or non-numeric value on 2021-01-02"),
        ([("2021-01-01", 1.0), ("2021-01-02", "n/a")], "missing or non-numeric"),
        ([("01/02/2021", 1.0)], "row 1: unparseable time '01/02/2021'"),
        ([("2021-01-01 13:00:00", 1.0)], "row 1: time 2021-01-01 13:00:00 is not at midnight"),
    ],
)
def test_bad_frames_are_refused(rows, match):
    with pytest.raises(DataError, match=match):
        validate_frame(_frame(rows), ["Close"], origin="test")


def test_identical_repeats_merge_and_gaps_stay():
    rows = [("2021-01-01", 1.0), ("2021-01-01", 1.0), ("2021-01-02", 2.0), ("2021-01-04", 4.0)]
    got = validate_frame(_frame(rows), ["Close"], origin="test")
    assert list(got.index.strftime("%Y-%m-%d")) == ["2021-01-01", "2021-01-02", "2021-01-04"]
    assert list(got["Close"]) == [1.0, 2.0, 4.0]


def test_the_frame_contract(frame):
    assert frame.index.name == "Date" and frame.index.tz is None and frame.index.is_unique
    assert list(frame.columns) == ["close", "Close"] and (frame["close"] == frame["Close"]).all()
    assert all(t == t.normalize() for t in frame.index[:5])


def test_missing_file_is_retryable(tmp_path):
    with pytest.raises(DataError) as e:
        load_source({"kind": "csv", "uri": str(tmp_path / "none.csv")})
    assert e.value.retry


def test_pinned_hash_mismatch_is_refused(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("Date,Close\n2021-01-01,1\n")
    with pytest.raises(DataError, match="pinned hash"):
        load_source({"kind": "csv", "uri": str(p), "sha3": "0x" + "00" * 32})


def test_features_window_and_determinism(frame):
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-28"), 7, 1.05)
    window = fs.window(frame)
    assert len(window) == TrailingReturns().rows_needed and window.index[-1] == pd.Timestamp("2021-01-28")
    a = fs.compute(frame)
    # only the window matters: later rows and earlier rows change nothing
    b = fs.compute(frame.loc["2020-12-01":"2021-01-28"])
    assert a == b and len(a) == 17 and all(-CLIP <= x <= CLIP for x in a)


def test_features_refuse_future_and_gaps(frame):
    future = FeatureSpec("trailing_returns_v1", pd.Timestamp("2023-01-01"), 7, 1.05)
    with pytest.raises(DataError, match="no row for 2023-01-01 yet") as e:
        future.compute(frame)
    assert e.value.retry
    gap = frame.drop(pd.Timestamp("2021-01-28"))
    with pytest.raises(DataError, match="gap"):
        FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-28"), 7, 1.05).compute(gap)
    with pytest.raises(DataError, match="needs 31 rows"):
        FeatureSpec("trailing_returns_v1", pd.Timestamp("2014-09-20"), 7, 1.05).compute(frame)


def test_a_gap_never_moves_the_target_day(frame):
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-10"), 7, 1.05)
    assert fs.truth(frame) is not None
    gap = frame.drop(fs.target_date)
    # the next day (2021-01-18) is there, but the question is about 2021-01-17: unknown, not guessed
    assert pd.Timestamp("2021-01-18") in gap.index and fs.truth(gap) is None
    # the window only reads up to as_of, so the gap after it changes nothing there
    assert fs.compute(gap) == fs.compute(frame)
    with pytest.raises(DataError, match="no row for 2021-01-10: the data has a gap"):
        fs.compute(frame.drop(fs.as_of))
    assert fs.truth(frame.drop(fs.as_of)) is None


def test_window_counts_trading_days_on_an_index():
    index = load_source({"kind": "csv", "uri": "bundled:nasdaq100_daily.csv"})
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-03-01"), 4, 1.01)  # a Monday
    window = fs.window(index)
    assert len(window) == 31 and window.index[-1] == fs.as_of
    # 31 trading days: weekends and the two holidays (2021-01-18, 2021-02-15) are absent, not filled
    assert window.index[0] == pd.Timestamp("2021-01-14")
    assert len(pd.bdate_range("2021-01-14", "2021-03-01")) == 31 + 2
    assert fs.truth(index) is not None  # target 2021-03-05, a Friday
    weekend = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-02-27"), 4, 1.01)  # a Saturday
    with pytest.raises(DataError, match="gap"):
        weekend.window(index)
    assert FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-03-01"), 5, 1.01).truth(index) is None


# ------------------------------------------------------------------ other feeds
def test_parquet_and_csv_give_the_same_features(frame, tmp_path):
    raw = pd.read_csv(ROOT / "markets" / "data" / "btc_usd_daily.csv")
    raw.to_parquet(tmp_path / "btc.parquet")
    from_parquet = load_source({"kind": "parquet", "uri": str(tmp_path / "btc.parquet")})
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-12"), 7, 1.05)
    assert fs.compute(from_parquet) == fs.compute(frame)


def test_http_json_feed(frame):
    from conftest import JsonServer

    rows = [{"Date": d.strftime("%Y-%m-%d"), "Close": float(c)} for d, c in frame["Close"].items()]
    routes = {"/ok": (200, {"data": rows}), "/down": (503, {}), "/bad": (200, {"data": "nope"}),
              "/nan": (200, [{"Date": "2021-01-01", "Close": None}])}

    with JsonServer(routes) as server:
        base = server.url
        got = load_source({"kind": "http_json", "uri": base + "/ok"})
        fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-12"), 7, 1.05)
        assert fs.compute(got) == fs.compute(frame)
        with pytest.raises(DataError, match="HTTP 503") as e:
            load_source({"kind": "http_json", "uri": base + "/down"})
        assert e.value.retry
        with pytest.raises(DataError, match="list of row objects"):
            load_source({"kind": "http_json", "uri": base + "/bad"})
        with pytest.raises(DataError, match="missing or non-numeric"):
            load_source({"kind": "http_json", "uri": base + "/nan"})
    with pytest.raises(DataError, match="is down") as e:
        load_source({"kind": "http_json", "uri": "http://127.0.0.1:9/x"}, http_timeout=0.5)
    assert e.value.retry


def test_onchain_price_feed(frame):
    from oracle.chain import Chain
    from oracle.signer import LocalSigner

    chain = Chain.embedded()
    publisher = LocalSigner.create()
    chain.fund(publisher.address, 10**19)
    feed = chain.deploy(publisher, "PriceFeed", "BTC-USD daily close", 8)
    window = frame.loc["2020-11-01":"2021-01-12", "Close"]
    days = [int(d.timestamp()) // 86400 for d in window.index]
    values = [int(round(v * 10**8)) for v in window]
    chain.transact(publisher, feed.functions.publish(days, values))
    got = load_source({"kind": "chain", "address": feed.address}, chain=chain)
    assert list(got.index) == list(window.index)
    assert abs(got["Close"] - window).max() < 1e-8
    from oracle.errors import ChainError

    with pytest.raises(ChainError, match="DayNotIncreasing"):
        chain.transact(publisher, feed.functions.publish([days[0]], [1]))
    with pytest.raises(DataError, match="needs a chain"):
        load_source({"kind": "chain", "address": feed.address})


def test_snapshot_is_canonical_and_covers_exactly_the_window(frame):
    from markets.features import snapshot_bytes

    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-01-12"), 7, 1.05)
    snap = snapshot_bytes(fs.window(frame), "Close").decode().splitlines()
    assert snap[0] == "Date,Close" and len(snap) == 1 + TrailingReturns().rows_needed
    assert snap[-1].startswith("2021-01-12,")
    assert snapshot_bytes(fs.window(frame), "Close") == snapshot_bytes(fs.window(frame.copy()), "Close")


def test_forecast_rounds_share_the_target():
    from conftest import forecast_doc
    from markets.spec import MarketSpec

    spec = MarketSpec.parse(forecast_doc("0x" + "ab" * 32, "0x" + "cd" * 32, as_of="2021-01-10", at="2021-01-20",
                                         value=40000, every_days=3))
    rounds = spec.rounds()
    assert [str(r.features.as_of.date()) for r in rounds[:-1]] == ["2021-01-10", "2021-01-13", "2021-01-16",
                                                                   "2021-01-19"]
    assert [r.features.horizon_days for r in rounds[:-1]] == [10, 7, 4, 1]
    assert {r.features.target_date for r in rounds[:-1]} == {pd.Timestamp("2021-01-20")}
    assert [r.final for r in rounds] == [False] * 4 + [True]
    assert rounds[-1].due_at == spec.resolve_at_unix and rounds[-1].features is None
