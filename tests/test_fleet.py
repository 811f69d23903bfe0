"""The prover fleet on a real local Ray cluster (2 CPUs): two actors, each with the resolver loaded
from the cache, prove a small batch; every proof verifies and every bundle is the driver's."""

from __future__ import annotations

import functools

import pytest

from oracle.errors import ProvingError
from oracle.signer import LocalSigner
from provers.prover import Job
from validators.verifier import ProofVerifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    from provers.fleet import start_local

    resources = start_local(2, num_gpus=0)
    yield resources
    ray.shutdown()


def test_a_fleet_of_two_proves_a_batch_that_verifies(ray_cluster, circuit, store):
    from oracle import config
    from provers.fleet import ProverFleet
    from provers.resolvers import compile_resolver

    assert ray_cluster["CPU"] == 2
    signer = LocalSigner.create()
    fleet = ProverFleet(functools.partial(compile_resolver, store, config.cache_dir(), 1), signer, workers=2)
    try:
        assert fleet.model_id == circuit.model_id and fleet.num_gpus == 0
        assert len({d["pid"] for d in fleet.devices()}) == 2
        jobs = [Job("0x" + f"{i + 1:064x}", 0, [1000.0 + i, 990.0]) for i in range(3)]
        bundles = fleet.prove_jobs(jobs)
        assert [b.market_id for b in bundles] == [j.market_id for j in jobs]
        assert [b.outputs for b in bundles] == [(10.0,), (11.0,), (12.0,)]
        verifier = ProofVerifier(store, remember=0)
        for b in bundles:
            assert b.prover == signer.address and b.recover_prover() == signer.address
            verifier.verify(b, circuit.record.circuit(b.batch_size))
        assert verifier.verifications == 3
        # a job the circuit cannot take fails as one error naming why, and the fleet keeps working
        with pytest.raises(ProvingError, match="fleet prove failed"):
            fleet.prove_jobs([Job("0x" + "55" * 32, 0, [1.0])])
        assert fleet.prove_jobs(jobs[:1])[0].outputs == (10.0,)
    finally:
        fleet.close()
