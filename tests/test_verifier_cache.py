"""A validator's verifier hashes each artifact (vk, settings, SRS) once, not at every review, and still
refuses one whose file changed on disk after it was first checked."""

from __future__ import annotations

import os

import pytest

from oracle.errors import CheckFailed
from oracle.store import ArtifactStore
from validators.verifier import ProofVerifier

pytestmark = pytest.mark.slow


@pytest.fixture
def own_store(tmp_path, store, circuit):
    """A store holding copies of the resolver's public artifacts: its files can be tampered with."""
    mine = ArtifactStore(tmp_path / "store")
    c = circuit.record.circuit(1)
    for aid in (c.vk, c.settings, c.srs):
        assert mine.put(store.get(aid)) == aid
    return mine, c


def test_artifacts_are_hashed_once_across_reviews(own_store, bundle):
    mine, c = own_store
    verifier = ProofVerifier(mine, remember=0, trusted=[c.srs])
    for _ in range(3):
        verifier.verify(bundle, c)
    assert verifier.verifications == 3 and verifier.hashed == 3  # vk, settings, SRS: once each


@pytest.mark.parametrize("which", ["vk", "settings", "srs"])
def test_an_artifact_changed_after_its_first_check_is_refused(own_store, bundle, which):
    mine, c = own_store
    verifier = ProofVerifier(mine, remember=0, trusted=[c.srs])
    verifier.verify(bundle, c)
    path = mine.path(getattr(c, which))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit, same size, and the old modification time put back
    st = path.stat()
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(CheckFailed) as e:
        verifier.verify(bundle, c)
    assert e.value.check == "model-artifacts" and "corrupt" in str(e.value)
