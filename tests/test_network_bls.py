"""Network mode with BLS settlement: validators (own processes) send a BLS share with each vote; the
aggregator adds t shares into one signature and settles with `resolveBatchBls`. The devnet runs on a
replay chain from REPLAY_START: each market ("BTC above $X on the chain's next day?") is registered
before its day, then the chain's clock moves past its resolve time and the evidence decides it."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import PASSWORD, REPLAY_START, day_after

pytestmark = pytest.mark.slow


def test_devnet_settles_with_one_bls_aggregate(tmp_path, circuit, monkeypatch):
    from network.devnet import Devnet

    monkeypatch.setenv("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    net = Devnet.up(tmp_path / "devnet", validators=4, threshold=3, provers=1, aggregators=1, bls=True,
                    password=PASSWORD, start=REPLAY_START)

    def new_market(value: float) -> str:
        market = net.demo_market(day_after(net.now()), value, password=PASSWORD)
        net.advance_to(net.deployment().get_market(market).resolve_at)
        return market

    try:
        market = new_market(4000)
        net.wait_settled(market, timeout=120)
        dep = net.deployment()
        net.wait_event("aggregator-0", "settled", market_id=market)
        settled = [e for e in net.events("aggregator-0") if e["event"] == "settled"]
        assert len(settled) == 1 and settled[0]["scheme"] == "bls" and settled[0]["market_id"] == market
        assert bin(settled[0]["signer_bitmap"]).count("1") == 3
        receipt = dep.chain.w3.eth.get_transaction_receipt(settled[0]["tx"])
        assert len(dep.oracle.events.BatchAcceptedBls().process_receipt(receipt)) == 1
        assert dep.resolution_of(market).resolution.outcome == net.signed_outcome(market, "validator-0")
        assert len(net.resolutions(market)) == 1
        # a vote without its BLS share is refused by a BLS aggregator, and nothing is stored
        agg = net.roles["aggregator-0"]
        other = new_market(6000)
        net.wait_settled(other, timeout=120)
        time.sleep(2)  # the fourth vote may trail the quorum
        before = httpx.get(f"{agg.url}/v1/health").json()["votes"]
        from network.home import JsonRows

        doc = next(d for d in JsonRows(net.roles["validator-1"].home / "votes.sqlite", "votes").all()
                   if d["resolution"]["market_id"] == other)
        stripped = {k: v for k, v in doc.items() if k != "bls_signature"}
        resp = httpx.post(f"{agg.url}/v1/votes", json=stripped)
        assert resp.status_code == 422 and "bls_signature" in resp.json()["error"]
        forged = {**doc, "bls_signature": net_share_of_other(net, doc)}
        resp = httpx.post(f"{agg.url}/v1/votes", json=forged)
        assert resp.status_code == 422 and "does not verify" in resp.json()["error"]
        assert httpx.get(f"{agg.url}/v1/health").json()["votes"] == before
    finally:
        net.down()


def net_share_of_other(net, doc) -> str:
    """validator-2's BLS share for the same root: valid BLS, but not validator-1's."""
    from network.home import JsonRows

    mine = next(d for d in JsonRows(net.roles["validator-2"].home / "votes.sqlite", "votes").all()
                if d["resolution"]["market_id"] == doc["resolution"]["market_id"])
    return mine["bls_signature"]
