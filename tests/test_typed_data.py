"""The oracle's own EIP-712 codec and signature reader (oracle/typed_data.py) against eth_account's,
for every struct the oracle signs; signatures read as the contracts read them (StrictEcdsa); and a
validator's review path free of eth_account and py_ecc (a cold start's largest imports)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from oracle import typed_data
from oracle.batch import BATCH_TYPE, batch_signable
from oracle.bundle import _ATTESTATION_DOMAIN, _ATTESTATION_DOMAIN_TYPE, _ATTESTATION_TYPE, attestation
from oracle.eip712 import (EIP712_DOMAIN_TYPE, PROVER_CREDIT_TYPE, RULING_TYPE, Domain, Resolution,
                           prover_credit_signable, recover, ruling_signable, signable, typed_data as full_message)
from oracle.errors import FieldError
from oracle.signer import LocalSigner

ROOT = Path(__file__).resolve().parent.parent


def _hex32(rng) -> str:
    return "0x" + rng.randbytes(32).hex()


def _reference(domain_type, domain, primary, fields, message):
    return encode_typed_data(full_message={"types": {"EIP712Domain": domain_type, primary: fields},
                                           "primaryType": primary, "domain": domain, "message": message})


def _same(ours, theirs) -> None:
    assert (ours.version, ours.header, ours.body) == (theirs.version, theirs.header, theirs.body)


@pytest.mark.parametrize("seed", range(6))
def test_every_signed_struct_encodes_as_eth_account_encodes_it(seed):
    rng = random.Random(seed)
    domain = Domain(rng.randrange(1, 1 << 64), Account.create().address)
    for final in (True, False):
        r = Resolution(_hex32(rng), rng.randrange(1 << 32), rng.randrange(1 << 16), rng.randrange(10**6 + 1),
                       _hex32(rng), _hex32(rng), _hex32(rng), final=final)
        _same(signable(domain, r), encode_typed_data(full_message=full_message(domain, r)))
    root, count = rng.randbytes(32), rng.randrange(1, 1 << 32)
    _same(batch_signable(domain, root, count),
          _reference(EIP712_DOMAIN_TYPE, domain.as_dict(), "ResolutionBatch", BATCH_TYPE, {"root": root, "count": count}))
    market, outcome, proof, prover = _hex32(rng), rng.randrange(1 << 16), _hex32(rng), Account.create().address
    _same(ruling_signable(domain, market, outcome),
          _reference(EIP712_DOMAIN_TYPE, domain.as_dict(), "Ruling", RULING_TYPE,
                     {"marketId": bytes.fromhex(market[2:]), "outcome": outcome}))
    _same(prover_credit_signable(domain, market, proof, prover),
          _reference(EIP712_DOMAIN_TYPE, domain.as_dict(), "ProverCredit", PROVER_CREDIT_TYPE,
                     {"marketId": bytes.fromhex(market[2:]), "proofHash": bytes.fromhex(proof[2:]), "prover": prover}))
    bundle_hash = _hex32(rng)
    _same(attestation(bundle_hash), _reference(_ATTESTATION_DOMAIN_TYPE, _ATTESTATION_DOMAIN, "ProofBundle",
                                               _ATTESTATION_TYPE, {"bundleHash": bytes.fromhex(bundle_hash[2:])}))
    text = rng.randbytes(rng.randrange(1, 300))
    _same(typed_data.personal(text), encode_defunct(text))


def test_signatures_recover_as_eth_account_recovers_them():
    signer = LocalSigner.create()
    domain = Domain(1337, Account.create().address)
    r = Resolution("0x" + "11" * 32, 3, 1, 640_000, "0x" + "22" * 32, "0x" + "33" * 32, "0x" + "44" * 32)
    for m in (signable(domain, r), typed_data.personal(b'{"v":1}'), attestation("0x" + "55" * 32)):
        sig = signer.sign_message(m)
        assert typed_data.recover(m, sig) == Account.recover_message(m, signature=sig) == signer.address
        assert typed_data.recover(m, "0x" + sig.hex()) == signer.address  # envelopes carry it as 0x-hex
    spaced = "0x" + " ".join(sig[i:i + 1].hex() for i in range(65))  # bytes.fromhex alone would take these
    for text in (sig.hex(), spaced, "0x" + sig.hex() + "00", "0x" + sig.hex()[:-2] + "\n0"):
        with pytest.raises(typed_data.BadSignature, match="130 hex digits"):
            typed_data.recover(m, text)
    for other in (list(sig), 65, None):
        with pytest.raises(typed_data.BadSignature, match="bytes or 0x-hex"):
            typed_data.recover(m, other)


def test_a_signature_is_read_as_the_contracts_read_it():
    """The high-s twin of a valid signature recovers the same key (eth_account accepts it): refused
    here as StrictEcdsa refuses it, so no signature counts twice off-chain either. v must be 27/28,
    65 bytes, and r, s in range."""
    signer = LocalSigner.create()
    domain = Domain(1, Account.create().address)
    r = Resolution("0x" + "aa" * 32, 0, 0, 0, "0x" + "bb" * 32, "0x" + "cc" * 32, "0x" + "dd" * 32)
    sig = signer.sign_message(signable(domain, r))
    assert recover(domain, r, sig) == signer.address
    s = int.from_bytes(sig[32:64], "big")
    twin = sig[:32] + (typed_data.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    assert Account.recover_message(signable(domain, r), signature=twin) == signer.address  # the malleable twin
    with pytest.raises(typed_data.BadSignature, match="s must be low"):
        recover(domain, r, twin)
    with pytest.raises(typed_data.BadSignature, match="v must be 27 or 28"):
        recover(domain, r, sig[:64] + bytes([sig[64] - 27]))
    with pytest.raises(typed_data.BadSignature, match="65 bytes"):
        recover(domain, r, sig[:64])
    with pytest.raises(typed_data.BadSignature, match="out of range"):
        recover(domain, r, bytes(32) + sig[32:])


def test_values_outside_their_type_are_refused_by_field():
    domain = Domain(1, Account.create().address)
    with pytest.raises(FieldError, match=r"Resolution.outcome.*uint16"):
        signable(domain, Resolution("0x" + "aa" * 32, 0, 1 << 16, 0, "0x" + "bb" * 32, "0x" + "cc" * 32, "0x" + "dd" * 32))
    with pytest.raises(FieldError, match="a bytes32 is 32 bytes"):  # spaces inside hex are not hex
        typed_data.hash_struct("T", [{"name": "x", "type": "bytes32"}], {"x": "0x" + "ab " * 21 + "a"})
    with pytest.raises(FieldError, match="not one the oracle signs"):
        typed_data.hash_struct("T", [{"name": "x", "type": "bytes"}], {"x": b""})
    with pytest.raises(FieldError, match="T.x.*missing"):
        typed_data.hash_struct("T", [{"name": "x", "type": "uint8"}], {})
    with pytest.raises(FieldError, match="not in the type"):
        typed_data.hash_struct("T", [{"name": "x", "type": "uint8"}], {"x": 1, "y": 2})


def test_a_validator_reviews_a_proof_without_importing_eth_account_or_py_ecc():
    """What a validator loads to review a bundle (store, bundle and its signature, model record,
    verifier, checks) leaves eth_account and py_ecc (BLS quorums only) unloaded: ~0.3 s of a cold start."""
    code = ("import sys\n"
            "from oracle.store import ArtifactStore\nfrom oracle.bundle import ProofBundle\n"
            "from oracle.models import load_model\nfrom validators.verifier import ProofVerifier\n"
            "import validators.checks\n"
            "print(sorted(m for m in ('eth_account', 'eth_keyfile', 'py_ecc') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
