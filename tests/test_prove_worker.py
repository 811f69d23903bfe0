"""A long-lived prove worker: one child proves job after job (ezkl imported once); a proof past its
deadline kills it, and the next proof gets a new one. Its proofs verify like any other."""

from __future__ import annotations

import pytest

from oracle.errors import ProvingError
from oracle.signer import LocalSigner
from provers.prover import EzklProver, Job, ProveWorker
from validators.verifier import ProofVerifier

pytestmark = pytest.mark.slow


def test_one_worker_proves_many_and_is_replaced_after_a_deadline(circuit, store):
    worker = ProveWorker()
    try:
        prover = EzklProver(circuit, LocalSigner.create(), worker=worker)
        verifier = ProofVerifier(store, remember=0)
        for i in range(2):
            (b,) = prover.prove_jobs([Job("0x" + f"{i + 1:02x}" * 32, 0, [1000.0 + i, 990.0])])
            verifier.verify(b, circuit.record.circuit(1))
            assert b.outputs == (10.0 + i,)
        assert worker.started == 1 and verifier.verifications == 2

        hurried = EzklProver(circuit, LocalSigner.create(), worker=worker, timeout_s=0.0001)
        with pytest.raises(ProvingError, match="exceeded"):
            hurried.prove_jobs([Job("0x" + "33" * 32, 0, [5.0, 7.0])])
        (b,) = prover.prove_jobs([Job("0x" + "44" * 32, 0, [5.0, 7.0])])
        verifier.verify(b, circuit.record.circuit(1))
        assert b.outputs == (-2.0,) and worker.started == 2
    finally:
        worker.close()
