"""Hostile inputs (issue 12, items 10, 11, 14, 15, 16): each test is an attack that worked before its fix."""

from __future__ import annotations

import pytest

from oracle.errors import ArtifactError, FieldError, NotFound
from oracle.store import ArtifactStore


# ------------------------------------------------------------ 15: artifact ids
@pytest.mark.parametrize("bad", [
    "0x../../../../etc/passwd" + "a" * 40,
    "0x" + "../" * 21 + "a",
    "0x" + "AB" * 32,  # uppercase twin of a real id
    "0x" + "g" * 64,
    "0x" + "a" * 63 + "/",
    "0x" + "a" * 63 + "\n",
    None,
    12,
])
def test_artifact_ids_that_are_not_lowercase_hex_never_reach_a_path(tmp_path, bad):
    store = ArtifactStore(tmp_path / "store")
    for op in (store.has, store.get, store.path, store.delete):
        with pytest.raises(ArtifactError, match="artifact id"):
            op(bad)


def test_a_traversal_id_does_not_read_a_file_outside_the_store(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    secret = tmp_path / "secret"
    secret.write_bytes(b"top secret")
    # objects/<2>/<62>: an id whose tail climbs out of the store
    tail = "/../../../secret".ljust(62, "/")
    with pytest.raises(ArtifactError):
        store.get("0x.." + tail)
    with pytest.raises(ArtifactError):
        store.has("0x.." + tail)


@pytest.mark.parametrize("kind,name", [("model", "../../escape"), ("../x", "a"), ("model", "a/b"),
                                       ("model", ".."), ("model", ""), ("model", ".hidden")])
def test_reference_names_are_one_safe_path_component(tmp_path, kind, name):
    store = ArtifactStore(tmp_path / "store")
    aid = store.put(b"x")
    with pytest.raises(FieldError, match="ref"):
        store.set_ref(kind, name, aid)
    with pytest.raises(FieldError, match="ref"):
        store.ref(kind, name)
    assert not (tmp_path / "escape").exists()


def test_a_reference_pointing_at_a_malformed_id_is_refused(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    aid = store.put(b"x")
    store.set_ref("model", "m1", aid)
    assert store.ref("model", "m1") == aid
    (tmp_path / "store" / "refs" / "model" / "m1").write_text("0x../../../etc/passwd")
    with pytest.raises(ArtifactError, match="refs/model/m1"):
        store.ref("model", "m1")
    with pytest.raises(NotFound):
        store.ref("model", "m2")
