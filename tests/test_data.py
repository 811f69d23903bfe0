"""Feeds refuse bad data with a specific reason; features are deterministic and read exactly their window."""

from __future__ import annotations

import pandas as pd
import pytest

from markets.features import CLIP, FeatureSpec, TrailingReturns
from markets.feeds import load_source, validate_frame
from oracle.errors import DataError


def _frame(rows):
    return pd.DataFrame(rows, columns=["Date", "Close"])


def test_bundled_btc_loads(frame):
    assert frame.index[0] == pd.Timestamp("2014-09-17") and frame.index[-1] == pd.Timestamp("2022-03-01")
    assert len(frame) == 2723 and frame.index.is_monotonic_increasing


@pytest.mark.parametrize(
    "rows, match",
    [
        ([("2021-01-01", 1.0), ("2021-01-01", 2.0)], "duplicated dates"),
        ([("2021-01-02", 1.0), ("2021-01-01", 2.0)], "not increasing"),
        ([("2021-01-01", 1.0), ("2021-01-02", float("nan"))], "missing or non-numeric value on 2021-01-02"),
        ([("2021-01-01", 1.0), ("2021-01-02", "n/a")], "missing or non-numeric"),
        ([("01/02/2021", 1.0)], "unparseable date"),
    ],
)
def test_bad_frames_are_refused(rows, match):
    with pytest.raises(DataError, match=match):
        validate_frame(_frame(rows), ["Close"], origin="test")


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
