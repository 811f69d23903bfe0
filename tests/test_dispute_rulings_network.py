"""Disputes answered by the network's real processes (a devnet on anvil: 4 validators, t = 3, a prover,
an aggregator and validator-0 aggregating too): a griefer disputes a right resolution; every validator
sees the market disputed, signs its `Ruling` with its own vote's outcome and sends it; an aggregator
reaches the court's escalated quorum (4 of 4) and settles by vote: upheld, final, the bond in the fee.
Over HTTP, a peer asking a validator for the other outcome gets nothing, and forged rulings are
refused by the aggregators."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import PASSWORD, REPLAY_START, day_after, wait_until

pytestmark = pytest.mark.slow

VALIDATORS = [f"validator-{i}" for i in range(4)]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory, circuit):
    import os

    from network.devnet import Devnet

    os.environ.setdefault("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    home = tmp_path_factory.mktemp("home")
    fast = {"rulings_s": 1, "claim_fees_s": 1}
    net = Devnet.up(home / "devnet", validators=4, threshold=3, provers=1, aggregators=1, validator_aggregators=1,
                    password=PASSWORD, start=REPLAY_START, dispute_window=3600,
                    overrides={"scheduler": {"prove_timeout_s": 20, "settle_wait_s": 15},
                               "aggregator-0": fast, **{v: fast for v in VALIDATORS}})
    yield net
    net.down()
    net.reap()


def test_validators_rule_a_griefing_dispute_and_an_aggregator_upholds_it(devnet):
    from network.home import JsonRows
    from network.roles.rulings import Ruling
    from oracle.keystore import KeyStore
    from oracle.signer import LocalSigner

    market = devnet.demo_market(day_after(devnet.now()), 4000, password=PASSWORD)
    dep = devnet.deployment()
    devnet.advance_to(dep.get_market(market).resolve_at)
    devnet.wait_settled(market, 150)
    court = dep.court
    outcome = dep.resolution_of(market).resolution.outcome
    assert court.state_of(market) == "proposed"
    time.sleep(2.5)  # proposed: the validators poll, and rule nothing yet
    assert not any(e["event"] == "ruling_signed" for v in VALIDATORS for e in devnet.events(v))

    griefer = KeyStore(devnet.root / "creator" / "keys").load("creator", PASSWORD)
    bond = court.parameters().dispute_bond
    court.dispute(griefer, market)
    wait_until(lambda: court.state_of(market) == "final", 90, "final by the members' rulings", interval=0.5)
    case = court.case_of(market)
    assert case.ruling == "upheld" and court.final_of(market)[0] == outcome
    assert court.owed(griefer.address) == 0 and court.fees_of(market).pot >= devnet.fee + bond
    for v in VALIDATORS:  # each signed one ruling, its own vote's outcome
        signed = [e for e in devnet.events(v) if e["event"] == "ruling_signed" and e["market_id"] == market]
        assert len(signed) == 1 and signed[0]["outcome"] == devnet.signed_outcome(market, v) == outcome
    settled = [e for name in ("aggregator-0", "validator-0") for e in devnet.events(name)
               if e["event"] == "dispute_settled" and e["market_id"] == market]
    assert len(settled) == 1 and settled[0]["settled_by"] == "vote" and len(settled[0]["signers"]) == 4

    # both aggregators held the bundle the proposal named (validator-0 reviewed it; aggregator-0 fetched
    # it by the id the votes named) and tried the proof path first, once each: this devnet registers no
    # on-chain verifier for the resolver, so no rule can be stored and no proof settles
    for name in ("validator-0", "aggregator-0"):
        tried = [e for e in devnet.events(name) if e["event"].startswith("dispute_proof") and e["market_id"] == market]
        assert [(e["result"], e.get("reason")) for e in tried] == [("no_rule", "UnknownModel")], (name, tried)

    # attack: a peer asks validator-1 for the other outcome; nothing is signed for it
    v1 = devnet.roles["validator-1"]
    asked = httpx.post(f"{v1.url}/v1/ruling", json={"market_id": market, "outcome": 1 - outcome}, timeout=10)
    assert asked.status_code == 409 and "rules nothing else" in asked.json()["error"]
    unknown = httpx.post(f"{v1.url}/v1/ruling", json={"market_id": "0x" + "ee" * 32}, timeout=10)
    assert unknown.status_code == 409 and "no vote on its final round" in unknown.json()["error"]
    same = httpx.post(f"{v1.url}/v1/ruling", json={"market_id": market}, timeout=10)
    assert same.status_code == 200 and same.json()["outcome"] == outcome
    kept = JsonRows(v1.home / "votes.sqlite", "rulings").all()
    assert [r["outcome"] for r in kept if r["market_id"] == market] == [outcome] and same.json() in kept

    # attack: forged rulings at the aggregator (an outsider, a member's name on an outsider's signature)
    agg = devnet.roles["aggregator-0"]
    outsider = LocalSigner.create()
    member = dep.validators()[0]
    for forged, reason in [
            (Ruling(outsider.address, market, outcome, court.ruling_signature(outsider, market, outcome)),
             "not in the validator set"),
            (Ruling(member, market, 1 - outcome, court.ruling_signature(outsider, market, 1 - outcome)),
             "recovers to")]:
        r = httpx.post(f"{agg.url}/v1/rulings", json=forged.to_json(), timeout=10)
        assert r.status_code == 422 and reason in r.json()["error"], r.text
    bad = httpx.post(f"{agg.url}/v1/rulings", json={"validator": member, "market_id": market}, timeout=10)
    assert bad.status_code == 400 and "outcome" in bad.json()["error"]
