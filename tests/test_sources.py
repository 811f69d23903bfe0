"""Market sources: spec folders, and platform failures the operator must see (a loopback server, never
the internet). Mapping of real-worded questions: tests/test_importers.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from markets.questions import default_assets
from markets.sources import LocalFolderSource, ManifoldSource, PolymarketSource
from oracle.errors import DataError

MODEL = "0x" + "cd" * 32
NOW = datetime(2025, 2, 27, tzinfo=timezone.utc)
EVENT = {"id": "1", "title": "Bitcoin Up or Down - March 14, 12PM ET", "negRisk": False,
         "markets": [{"id": "11", "question": "Bitcoin Up or Down - March 14, 12PM ET",
                      "endDate": "2025-03-14T17:00:00Z", "outcomes": "[\"Up\", \"Down\"]", "closed": False}]}


def importer(cls, url, **kw):
    return cls(url, resolver_of=lambda width: MODEL, quorum=3, assets=default_assets(), now=NOW, **kw)


@pytest.fixture(scope="module")
def platform():
    from conftest import JsonServer, RawServer

    routes = {"/ok/events": (200, [EVENT]), "/down/events": (503, {"error": "maintenance"}),
              "/object/events": (200, {"data": [EVENT], "next_cursor": "x"}),
              "/strangers/events": (200, [{"name": "not an event"}, 3]),
              "/manifold/v0/markets": (200, [{"id": "m", "question": "Q?"}]),
              "/empty/events": (200, [])}
    with JsonServer(routes) as server, RawServer({"/html/events": (200, b"<html>rate limited</html>")}) as raw:
        yield server.url, raw.url


def test_platform_maps(platform):
    url, _ = platform
    (d,) = importer(PolymarketSource, url + "/ok").pull().found
    assert d.spec.shape.kind == "up_down" and d.external_id == "11" and d.origin == "polymarket"


def test_platform_down_is_an_error(platform):
    url, _ = platform
    with pytest.raises(DataError, match="HTTP 503") as e:
        importer(PolymarketSource, url + "/down").pull()
    assert e.value.retry
    with pytest.raises(DataError, match="is down") as e:
        importer(ManifoldSource, "http://127.0.0.1:9", timeout=0.5).pull()
    assert e.value.retry


def test_wrong_shape_is_an_error_not_zero_skipped(platform):
    url, raw = platform
    with pytest.raises(DataError, match=r"returned an object with keys \['data', 'next_cursor'\], not a list"):
        importer(PolymarketSource, url + "/object").pull()
    with pytest.raises(DataError, match="none shaped like polymarket.s events"):
        importer(PolymarketSource, url + "/strangers").pull()
    with pytest.raises(DataError, match="non-JSON"):
        importer(PolymarketSource, raw + "/html").pull()
    with pytest.raises(DataError, match="none shaped like manifold.s markets"):  # no outcomeType: not Manifold's shape
        importer(ManifoldSource, url + "/manifold").pull()
    r = importer(PolymarketSource, url + "/empty").pull()  # an empty list is an answer: nothing open
    assert (r.found, r.skipped) == ([], [])


def test_local_folder(tmp_path):
    from conftest import spec_doc

    (tmp_path / "good.json").write_text(json.dumps(spec_doc(MODEL)))
    (tmp_path / "bad.json").write_text(json.dumps({**spec_doc(MODEL), "outcomes": ["YES"]}))
    (tmp_path / "notes.txt").write_text("ignored")
    result = LocalFolderSource(tmp_path).pull()
    assert [d.external_id for d in result.found] == ["good.json"]
    (skip,) = result.skipped
    assert skip.external_id == "bad.json" and "field 'outcomes'" in skip.reason
