"""The explorer in a real browser: Debian's Chromium (installed by scripts/setup.sh), driven by
Playwright, on `oracle explorer` run as a user runs it (its own process, on anvil, reading a home's
deployment and store). One forecast market lives its life while the page is open: two proven forecast
rounds, then the resolver's proof of the evidence, each through four validators and a quorum. The
page follows it without a reload, the proof re-verifies, and every number shown is the chain's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, forecast_doc, replay_network, spec_doc
from markets.spec import MarketSpec

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (scripts/setup.sh installs "
                       "Debian's chromium when run as root; else: sudo apt-get install -y chromium)"),
]


def _label(spec, ppm: int) -> str:
    """How a person reads a posted probability: of the first outcome, three decimals."""
    return f"{spec.outcomes[0]} {ppm / 1e6:.3f}"


@pytest.fixture(scope="module")
def world(store, circuit, forecaster, load, tmp_path_factory):
    """Anvil at the replay start with the contracts; a forecast market ("BTC above $4,000 on
    2019-03-23?", forecasts as of the 17th and the 20th) staked by two bettors, and a market whose
    question is hostile markup; `oracle explorer` serving them from a home holding the deployment
    and the store; a Chromium."""
    from playwright.sync_api import sync_playwright

    from oracle.anvil import free_port

    tmp = tmp_path_factory.mktemp("explorer")
    with replay_network("anvil", store, tmp / "anvil") as net:
        spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id, every_days=3))
        hostile = MarketSpec.parse(spec_doc(circuit.model_id, value=4200, question=HOSTILE))
        for s in (spec, hostile):
            store.put(s.canonical())
            net.register(s, advance=False)
        net.dep.deposit(net.alice, spec.market_id, 0, 2 * 10**18)
        net.dep.deposit(net.bob, spec.market_id, 1, 10**18)
        home = tmp / "home"
        home.mkdir()
        (home / "store").symlink_to(store.root)
        net.dep.save(home / "deployments")
        port = free_port()
        env = {**os.environ, "ORACLE_HOME": str(home)}
        proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "explorer", "--port", str(port),
                                 "--rpc-url", net.chain.label], env=env,
                                stdout=open(tmp / "explorer.log", "wb"), stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, (tmp / "explorer.log").read_text()
                assert time.monotonic() < deadline, "oracle explorer did not answer within 90 s"
                time.sleep(0.3)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    yield {"net": net, "spec": spec, "hostile": hostile, "url": url, "browser": browser,
                           "store": store, "load": load, "circuit": circuit, "forecaster": forecaster}
                finally:
                    browser.close()
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def settled(world):
    """The market's life with its page open: each round is proven, reviewed and settled while the
    page polls; what the page showed after each step (without any reload) is recorded."""
    from oracle.bundle import publish_bundle
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    net, spec, store, load = world["net"], world["spec"], world["store"], world["load"]
    page = world["browser"].new_page()
    page.goto(f"{world['url']}/market/{spec.market_id}")
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded or navigated
    page.click("#spec-details summary")  # the reader unfolds the spec: live swaps keep it unfolded
    seen = [page.get_attribute("#state .state", "data-state")]
    clock = net.validators[0].clock  # the chain's
    provers = {"forecast": EzklProver(world["forecaster"], LocalSigner.create(), store=store, clock=clock),
               "final": EzklProver(world["circuit"], LocalSigner.create(), store=store, clock=clock)}
    for r in spec.rounds():
        net.advance_to(r.due_at)
        prover = provers["final" if r.final else "forecast"]
        bundle = prover.prove(spec, load, round=r.index)
        publish_bundle(store, bundle)  # as a node publishes it: anyone re-verifies from the proof hash
        report = net.run_round(spec, load, prover, round=r.index, bundle=bundle)
        assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
        if r.final:
            page.wait_for_selector("#state [data-state=resolved]", timeout=30_000)
        else:
            # selectors, not predicates: the page's CSP forbids the eval a predicate needs
            page.wait_for_selector(f".forecast-row[data-round='{r.index}']", timeout=30_000)
        seen.append(page.get_attribute("#state .state", "data-state"))
    net.dep.redeem(net.bob, spec.market_id)
    page.wait_for_selector("#redeemed", timeout=30_000)
    same_document = page.evaluate("window.__sameDocument === true")
    spec_open = page.get_attribute("#spec-details", "open") is not None
    return {**world, "page": page, "seen": seen, "same_document": same_document, "spec_open": spec_open}


def test_the_page_follows_the_market_live(settled):
    assert settled["same_document"]  # every change above arrived by the page's own polling
    seen = settled["seen"]
    assert seen[0] == "trading_open" and seen[-1] == "resolved" and len(seen) == len(settled["spec"].rounds()) + 1
    assert settled["page"].text_content("#live").startswith("live")
    assert settled["spec_open"]


def test_the_numbers_shown_are_the_chains(settled):
    page, net, spec = settled["page"], settled["net"], settled["spec"]
    dep, mid = net.dep, spec.market_id
    # forecasts: each row's label is the chain's ppm, read as a person reads it; one chart point each
    rows = page.query_selector_all(".forecast-row")
    posted = [dep.forecast_of(mid, r.index) for r in spec.rounds() if not r.final]
    assert [r.query_selector(".forecast-p").text_content() for r in rows] == [_label(spec, p) for p in posted]
    assert [int(r.query_selector(".forecast-p").get_attribute("data-ppm")) for r in rows] == posted
    assert len(page.query_selector_all("#forecast-chart circle.point")) == len(posted)
    # the resolution, its transaction, who signed
    onchain = dep.resolution_of(mid).resolution
    event = dep.resolved_events(mid)[0]
    assert page.text_content("#outcome") == spec.outcomes[onchain.outcome] == "NO"
    assert page.text_content("#settlement-tx") == event.tx_hash
    assert page.text_content("#proof-hash").startswith(onchain.proof_hash)
    signed = [row.query_selector("a").text_content() for row in page.query_selector_all(".signer-row[data-signed=yes]")]
    assert sorted(signed) == sorted(event.signers) and len(signed) >= net.t
    # the proof re-verifies: the same checks as `oracle verify`, every one passing
    assert page.text_content("#verified") == "VERIFIED"
    checks = page.query_selector_all("#checks .check")
    assert len(checks) == 9 and all(c.get_attribute("data-ok") == "True" for c in checks)
    # the evidence: the median the proof used, and each provider's own reading
    assert page.text_content("#evidence-used .used-value") == "3994.265"
    assert len(page.query_selector_all(".reading")) == 4
    # stakes and payouts, in ETH, as the market contract holds them
    pools = [int(x.get_attribute("data-wei")) for x in page.query_selector_all("#pools .pool")]
    assert pools == dep.pools(mid)
    for row in page.query_selector_all(".payout-row"):
        account = row.get_attribute("data-account")
        assert int(row.query_selector(".payout").get_attribute("data-wei")) == dep.payout_of(mid, account)
    assert "3 ETH" in page.text_content("#redeemed")


def test_the_index_lists_the_markets_and_hostile_text_stays_text(settled):
    # the CSP off: escaping alone must keep the markup inert (the policy is a second wall)
    context = settled["browser"].new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(settled["url"] + "/")
    spec, hostile = settled["spec"], settled["hostile"]
    row = page.query_selector(f'.market-row[data-market-id="{spec.market_id}"]')
    assert row.query_selector(".state").get_attribute("data-state") == "resolved"
    assert row.query_selector(".answer").text_content() == "NO"
    bad = page.query_selector(f'.market-row[data-market-id="{hostile.market_id}"] .question')
    assert bad.text_content() == HOSTILE and bad.query_selector("img, script") is None
    page.goto(f"{settled['url']}/market/{hostile.market_id}")
    assert page.text_content("#question") == HOSTILE
    page.wait_for_timeout(1500)  # let an onerror handler run, if an <img> had been made
    assert page.evaluate("typeof window.__pwned") == "undefined"
    context.close()


def test_the_model_and_validator_pages(settled):
    from markets.scoring import brier

    net, spec = settled["net"], settled["spec"]
    dep, mid = net.dep, spec.market_id
    page = settled["browser"].new_page()
    page.goto(f"{settled['url']}/model/{spec.forecaster}")
    ps = [dep.forecast_of(mid, r.index) / 1e6 for r in spec.rounds() if not r.final]
    outcome = dep.resolution_of(mid).resolution.outcome
    assert page.text_content("#model-brier") == f"{brier(ps, [int(outcome == 0)] * len(ps)):.4f}"
    assert len(page.query_selector_all("#score-chart circle.point")) == 2  # running Brier and log loss
    member = net.members[0]
    page.goto(f"{settled['url']}/validator/{member}")
    events = dep.resolved_events(mid)
    signed_resolution = sum(member in e.signers for e in events)
    duties = page.query_selector_all(".duty-row")
    assert len(duties) == len(spec.rounds())  # every round of the market, forecast or final
    resolution_row = [d for d in duties if "resolution" in d.text_content()]
    assert [r.get_attribute("data-signed") for r in resolution_row] == ["yes" if signed_resolution else "no"]
    assert int(page.text_content("#validator-signed")) + int(page.text_content("#validator-missed")) == len(duties)
    page.close()
