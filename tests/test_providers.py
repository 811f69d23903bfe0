"""Several real providers' files load through the one loader, each as its own layout says; the
loader merges exact repeats, refuses conflicts and off-interval times, and never fixes data."""

from __future__ import annotations

import pandas as pd
import pytest

from markets.features import FeatureSpec
from markets.feeds import SOURCE_FIELDS, load_source
from oracle.errors import DataError

from conftest import ROOT

DATA = ROOT / "markets" / "data"

# file, source fields beyond kind/uri, first, last, rows: as markets/data/SOURCE.md states them
PROVIDERS = [
    ("btc_usd_daily.csv", {"column": "Close"}, "2014-09-17", "2022-03-01", 2723),
    ("btc_usd_daily_bitstamp.csv", {"column": "close", "time": "Date", "interval": "1d"},
     "2014-11-28", "2022-08-20", 2823),
    ("btc_usd_daily_coinbase.csv", {"column": "Close", "time": "Date", "interval": "1d"},
     "2014-12-01", "2020-11-20", 2182),
    ("btc_usdt_daily_binance.csv", {"column": "close", "time": "Date", "interval": "1d"},
     "2017-08-17", "2026-01-06", 3065),
    ("btc_usd_hourly_bitstamp.csv", {"column": "close", "time": "Date", "interval": "1h"},
     "2018-05-15 06:00", "2022-08-20 00:00", 37387),
    ("nasdaq100_daily.csv", {"column": "Close"}, "2014-09-17", "2022-03-01", 1877),
    ("nasdaq100_daily_stooq.csv", {"column": "Close", "time": "Date", "interval": "1d"},
     "1985-10-01", "2025-03-11", 9938),
]


def _load(name: str, **fields) -> pd.DataFrame:
    return load_source({"kind": "csv", "uri": f"bundled:{name}", **fields})


@pytest.mark.parametrize("name, fields, first, last, rows", PROVIDERS, ids=[p[0] for p in PROVIDERS])
def test_each_bundled_provider_loads(name, fields, first, last, rows):
    frame = _load(name, **fields)
    assert frame.index.name == "Date" and frame.index.tz is None
    assert frame.index[0] == pd.Timestamp(first) and frame.index[-1] == pd.Timestamp(last)
    assert len(frame) == rows and frame.index.is_monotonic_increasing and frame.index.is_unique
    assert set(frame.columns) == {"close", fields["column"]}
    assert (frame["close"] == frame[fields["column"]]).all() and (frame["close"] > 0).all()


@pytest.mark.parametrize("name, step", [("btc_usd_daily.csv", "1D"), ("btc_usd_daily_bitstamp.csv", "1D"),
                                        ("btc_usd_daily_coinbase.csv", "1D"), ("btc_usdt_daily_binance.csv", "1D"),
                                        ("btc_usd_hourly_bitstamp.csv", "1h")])
def test_crypto_files_have_no_gaps(name, step):
    fields = {"column": "Close" if name in ("btc_usd_daily.csv", "btc_usd_daily_coinbase.csv") else "close",
              "interval": "1h" if step == "1h" else "1d"}
    frame = _load(name, **fields)
    assert frame.index.equals(pd.date_range(frame.index[0], frame.index[-1], freq=step, name="Date"))


def test_open_high_low_get_canonical_names():
    bitstamp = _load("btc_usd_daily_bitstamp.csv", column="close", open="open", high="high", low="low")
    coinbase = _load("btc_usd_daily_coinbase.csv", column="Close", open="Open", high="High", low="Low")
    assert list(bitstamp.columns) == ["close", "open", "high", "low"]
    assert list(coinbase.columns) == ["close", "Close", "open", "high", "low"]
    for f in (bitstamp, coinbase):
        assert (f["high"] >= f["low"]).all()
    day = pd.Timestamp("2014-11-28")
    assert bitstamp.loc[day].to_dict() == {"close": 376.28, "open": 363.59, "high": 381.34, "low": 360.57}


def test_unix_seconds_and_text_times_agree():
    by_text = _load("btc_usd_hourly_bitstamp.csv", column="close", interval="1h")
    by_unix = _load("btc_usd_hourly_bitstamp.csv", column="close", interval="1h", time="unix")
    assert by_text.equals(by_unix)
    assert _load("btc_usd_daily_bitstamp.csv", column="close", time="unix").equals(
        _load("btc_usd_daily_bitstamp.csv", column="close"))


def test_hourly_bars_open_at_their_hour_and_the_last_one_closes_the_day():
    hourly = _load("btc_usd_hourly_bitstamp.csv", column="close", interval="1h")
    daily = _load("btc_usd_daily_bitstamp.csv", column="close")
    # the 23:00 bar opens at 23:00 and closes with the day (SOURCE.md: median difference 0.000%)
    last_bar = hourly.loc["2021-06-01 23:00", "close"]
    assert last_bar == daily.loc["2021-06-01", "close"]


def test_stooq_and_yahoo_carry_the_same_nasdaq_trading_days():
    yahoo = _load("nasdaq100_daily.csv")
    stooq = _load("nasdaq100_daily_stooq.csv").loc["2014-09-17":"2022-03-01"]
    assert stooq.index.equals(yahoo.index)
    assert ((stooq["Close"] / yahoo["Close"] - 1).abs() < 0.01).all()


def test_coinbase_stale_rows_are_loaded_as_published():
    """The loader does not fix data: 2019-03-20..31 repeat 2019-03-19's close, and stay."""
    frame = _load("btc_usd_daily_coinbase.csv")
    stale = frame.loc["2019-03-19":"2019-03-31", "Close"]
    assert len(stale) == 13 and set(stale) == {3975.01}
    assert frame.loc["2019-04-01", "Close"] != 3975.01


def test_coinbase_by_its_unix_column_merges_the_stale_rows_and_leaves_the_gap():
    """By `Timestamp` those 12 rows are exact repeats of 2019-03-19: merged into it, and the days
    they claimed are then absent (a gap, never filled)."""
    frame = _load("btc_usd_daily_coinbase.csv", time="Timestamp")
    assert len(frame) == 2182 - 12
    assert list(frame.loc["2019-03-18":"2019-04-01"].index.strftime("%m-%d")) == ["03-18", "03-19", "04-01"]
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2019-03-25"), 7, 1.05)
    with pytest.raises(DataError, match="gap"):
        fs.compute(frame)


def test_features_compute_from_every_daily_btc_provider():
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2020-06-01"), 7, 1.05, column="close")
    vectors = {name: fs.compute(_load(name, column=column)) for name, column in [
        ("btc_usd_daily.csv", "Close"), ("btc_usd_daily_bitstamp.csv", "close"),
        ("btc_usd_daily_coinbase.csv", "Close"), ("btc_usdt_daily_binance.csv", "close")]}
    assert all(len(v) == 17 for v in vectors.values())
    # independent exchanges, same market: close but not identical
    assert vectors["btc_usd_daily_bitstamp.csv"] != vectors["btc_usd_daily_coinbase.csv"]
    assert max(abs(a - b) for a, b in zip(vectors["btc_usd_daily_bitstamp.csv"],
                                          vectors["btc_usd_daily_coinbase.csv"])) < 0.5


def test_features_refuse_an_hourly_frame():
    hourly = _load("btc_usd_hourly_bitstamp.csv", column="close", interval="1h")
    fs = FeatureSpec("trailing_returns_v1", pd.Timestamp("2021-06-01"), 7, 1.05, column="close")
    with pytest.raises(DataError, match="intraday"):
        fs.window(hourly)
    with pytest.raises(DataError, match="intraday"):
        fs.truth(hourly)


# ------------------------------------------------------------------ hygiene on real rows
def _rows(name: str, start: int, stop: int) -> tuple[str, list[str]]:
    lines = (DATA / name).read_text().splitlines()
    return lines[0], lines[start:stop]


def _write(tmp_path, header: str, rows: list[str]) -> str:
    p = tmp_path / "rows.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    return str(p)


def test_identical_repeated_rows_are_merged(tmp_path):
    header, rows = _rows("btc_usd_daily_bitstamp.csv", 1, 6)
    uri = _write(tmp_path, header, rows[:3] + [rows[2], rows[2]] + rows[3:])
    got = load_source({"kind": "csv", "uri": uri, "column": "close", "open": "open"})
    want = load_source({"kind": "csv", "uri": _write(tmp_path, header, rows), "column": "close", "open": "open"})
    assert got.equals(want) and len(got) == 5


def test_conflicting_repeated_rows_fail_naming_the_date(tmp_path):
    header, rows = _rows("btc_usdt_daily_binance.csv", 1, 6)
    changed = rows[2].split(",")
    changed[4] = str(float(changed[4]) + 1)  # the close
    uri = _write(tmp_path, header, rows[:3] + [",".join(changed)] + rows[3:])
    with pytest.raises(DataError, match=r"2017-08-19 appears more than once with conflicting values \(close="):
        load_source({"kind": "csv", "uri": uri, "column": "close"})


def test_conflict_in_a_named_open_column_fails_too(tmp_path):
    header, rows = _rows("btc_usdt_daily_binance.csv", 1, 4)
    changed = rows[1].split(",")
    changed[1] = "1.0"  # the open
    uri = _write(tmp_path, header, rows + [",".join(changed)])
    with pytest.raises(DataError, match="not increasing"):  # a repeat after a later day: out of order
        load_source({"kind": "csv", "uri": uri, "column": "close", "open": "open"})
    uri = _write(tmp_path, header, rows[:2] + [",".join(changed)] + rows[2:])
    with pytest.raises(DataError, match=r"2017-08-18 .*conflicting values \(open="):
        load_source({"kind": "csv", "uri": uri, "column": "close", "open": "open"})


def test_hourly_conflict_names_the_hour(tmp_path):
    header, rows = _rows("btc_usd_hourly_bitstamp.csv", 1, 4)
    changed = rows[1].split(",")
    changed[6] = "1.5"
    uri = _write(tmp_path, header, rows[:2] + [",".join(changed)] + rows[2:])
    with pytest.raises(DataError, match="2018-05-15 07:00 appears more than once"):
        load_source({"kind": "csv", "uri": uri, "column": "close", "interval": "1h"})


def test_a_daily_file_with_an_afternoon_time_fails_naming_the_row(tmp_path):
    header, rows = _rows("btc_usd_daily_bitstamp.csv", 1, 6)
    fields = rows[3].split(",")
    fields[1] = fields[1].replace("00:00:00", "13:00:00")
    uri = _write(tmp_path, header, rows[:3] + [",".join(fields)] + rows[4:])
    with pytest.raises(DataError, match=r"column 'Date' row 4: time 2014-12-01 13:00:00 is not at midnight"):
        load_source({"kind": "csv", "uri": uri, "column": "close"})
    # the same day by its unix column (off by 13 h) fails the same way
    fields[0] = str(int(fields[0]) + 13 * 3600)
    uri = _write(tmp_path, header, rows[:3] + [",".join(fields)] + rows[4:])
    with pytest.raises(DataError, match=r"column 'unix' row 4: .* not at midnight"):
        load_source({"kind": "csv", "uri": uri, "column": "close", "time": "unix"})


def test_an_hourly_file_with_minutes_fails_naming_the_row(tmp_path):
    header, rows = _rows("btc_usd_hourly_bitstamp.csv", 1, 4)
    fields = rows[1].split(",")
    fields[1] = fields[1].replace(":00:00", ":30:00")
    uri = _write(tmp_path, header, [rows[0], ",".join(fields), rows[2]])
    with pytest.raises(DataError, match=r"row 2: time 2018-05-15 07:30:00 is not at a whole hour"):
        load_source({"kind": "csv", "uri": uri, "column": "close", "interval": "1h"})


def test_an_hourly_file_read_as_daily_fails(tmp_path):
    with pytest.raises(DataError, match=r"row 1: time 2018-05-15 06:00:00 is not at midnight"):
        _load("btc_usd_hourly_bitstamp.csv", column="close")


@pytest.mark.parametrize("text", ["2021-01-01T00:00:00", "2021-01-01 00:00", "2021-02-30", "20210101",
                                  "2021-01-01 00:00:00+02:00"])
def test_other_time_spellings_are_refused(tmp_path, text):
    uri = _write(tmp_path, "Date,Close", ["2020-12-31,1", f"{text},2"])
    with pytest.raises(DataError, match="row 2: unparseable time"):
        load_source({"kind": "csv", "uri": uri})


def test_layout_fields_are_checked():
    assert {"time", "interval", "open", "high", "low", "column", "kind", "uri", "sha3"} <= SOURCE_FIELDS
    with pytest.raises(DataError, match="source.interval"):
        _load("btc_usd_daily.csv", interval="1w")
    with pytest.raises(DataError, match="no 'when' column"):
        _load("btc_usd_daily.csv", time="when")
    with pytest.raises(DataError, match="no 'Open' column"):
        _load("btc_usdt_daily_binance.csv", column="close", open="Open")
    with pytest.raises(DataError, match="source.time"):
        _load("btc_usd_daily.csv", time="Close")


def test_parquet_timestamps_are_read_in_utc(tmp_path):
    raw = pd.read_csv(DATA / "btc_usdt_daily_binance.csv").head(40)
    zoned = raw.assign(Date=pd.to_datetime(raw["Date"]).dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo"))
    zoned.to_parquet(tmp_path / "b.parquet")
    got = load_source({"kind": "parquet", "uri": str(tmp_path / "b.parquet"), "column": "close"})
    assert got.equals(_load("btc_usdt_daily_binance.csv", column="close").iloc[:40])


# ------------------------------------------------------------------ the same rows over HTTP
def _binance_rows() -> list[dict]:
    raw = pd.read_csv(DATA / "btc_usdt_daily_binance.csv")
    return raw.to_dict(orient="records")


def test_http_json_binance_kline_rows_load():
    from conftest import JsonServer

    rows = _binance_rows()
    unix = [{"open_time": int(pd.Timestamp(r["Date"]).timestamp()), "close": r["close"]} for r in rows]
    with JsonServer({"/klines": (200, rows), "/wrapped": (200, {"data": rows}),
                     "/unix": (200, unix)}) as server:
        got = load_source({"kind": "http_json", "uri": server.url + "/klines", "column": "close",
                           "open": "open", "high": "high", "low": "low"})
        wrapped = load_source({"kind": "http_json", "uri": server.url + "/wrapped", "column": "close"})
        by_unix = load_source({"kind": "http_json", "uri": server.url + "/unix", "column": "close",
                               "time": "open_time"})
    from_file = _load("btc_usdt_daily_binance.csv", column="close", open="open", high="high", low="low")
    assert got.equals(from_file) and len(got) == 3065
    assert wrapped.equals(from_file[["close"]]) and by_unix.equals(from_file[["close"]])


def test_http_json_raw_bytes_with_bitstamp_times_and_a_repeat():
    from conftest import RawServer

    body = (b'[{"Date": "2022-08-19 23:00:00", "close": 20841},'
            b' {"Date": "2022-08-20 00:00:00", "close": 20963},'
            b' {"Date": "2022-08-20 00:00:00", "close": 20963}]')
    conflict = body.replace(b'20963}]', b'20964}]')
    with RawServer({"/h": (200, body), "/c": (200, conflict)}) as server:
        got = load_source({"kind": "http_json", "uri": server.url + "/h", "column": "close", "interval": "1h"})
        with pytest.raises(DataError, match="2022-08-20 00:00 appears more than once"):
            load_source({"kind": "http_json", "uri": server.url + "/c", "column": "close", "interval": "1h"})
    assert list(got.index) == [pd.Timestamp("2022-08-19 23:00"), pd.Timestamp("2022-08-20 00:00")]
    assert list(got["close"]) == [20841.0, 20963.0]


def _exchange_arrays():
    """Binance klines and Coinbase Exchange candles, in the exchanges' own array layouts, built from
    the bundled Binance and Coinbase daily files (March 2019)."""
    binance = load_source({"kind": "csv", "uri": "bundled:btc_usdt_daily_binance.csv", "column": "close",
                           "open": "open", "high": "high", "low": "low"}).loc["2019-03-01":"2019-03-31"]
    coinbase = load_source({"kind": "csv", "uri": "bundled:btc_usd_daily_coinbase.csv", "column": "Close",
                            "open": "Open", "high": "High", "low": "Low"}).loc["2019-03-01":"2019-03-31"]
    ms = lambda t: int(t.timestamp()) * 1000  # noqa: E731
    klines = [[ms(t), f"{r.open:.2f}", f"{r.high:.2f}", f"{r.low:.2f}", f"{r.close:.2f}", "1000.0",
               ms(t) + 86_399_999, "0", 100, "0", "0", "0"] for t, r in binance.iterrows()]
    candles = [[int(t.timestamp()), r.low, r.high, r.open, r.close, 10.0]
               for t, r in coinbase.iloc[::-1].iterrows()]  # newest first, as Coinbase serves them
    return binance, coinbase, klines, candles


def test_exchange_candle_arrays_load_and_resolve_a_market():
    from datetime import datetime, timezone

    from markets.evidence import gather
    from markets.spec import MarketSpec

    from conftest import JsonServer, spec_doc

    binance, coinbase, klines, candles = _exchange_arrays()
    with JsonServer({"/api/v3/klines": (200, klines), "/products/BTC-USD/candles": (200, candles)}) as server:
        bn = {"kind": "http_json", "uri": server.url + "/api/v3/klines", "layout": "binance_klines"}
        cb = {"kind": "http_json", "uri": server.url + "/products/BTC-USD/candles", "layout": "coinbase_candles"}
        for source, expected in ((bn, binance), (cb, coinbase)):
            frame = load_source(source)
            assert list(frame.index) == list(expected.index)
            assert (frame["close"] - expected["close"]).abs().max() < 0.006
            assert (frame["open"] - expected["open"]).abs().max() < 0.006
        doc = spec_doc("0x" + "11" * 32)
        doc["observe"]["sources"] = [bn, cb, {"kind": "csv", "uri": "bundled:btc_usd_daily_bitstamp.csv",
                                              "column": "close"}]
        spec = MarketSpec.parse(doc)
        ev = gather(spec, load_source, datetime(2030, 1, 1, tzinfo=timezone.utc))
        assert spec.shape.decide(ev.outputs).outcome_name == "NO"  # the median of three exchanges, 3,982.5
        with pytest.raises(DataError, match="fixed columns"):
            load_source({**bn, "column": "close"})


def test_a_malformed_candle_array_is_refused_naming_the_row():
    _, _, klines, _ = _exchange_arrays()
    from conftest import JsonServer

    bad = [list(r) for r in klines]
    bad[3][0] = bad[3][0] + 1  # not a whole second
    with JsonServer({"/k": (200, bad), "/objects": (200, [{"Date": "2019-03-01", "close": 1}])}) as server:
        with pytest.raises(DataError, match="row 4"):
            load_source({"kind": "http_json", "uri": server.url + "/k", "layout": "binance_klines"})
        with pytest.raises(DataError, match="binance_klines array"):
            load_source({"kind": "http_json", "uri": server.url + "/objects", "layout": "binance_klines"})
    with pytest.raises(DataError, match="source.layout"):
        load_source({"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "layout": "binance_klines"})
