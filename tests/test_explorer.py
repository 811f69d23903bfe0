"""The explorer without a browser: its JSON API answers what the chain holds (a market settled by a
real round: proof, validators, quorum, payouts), its re-verification is `oracle verify`'s, bad ids
get one clear error, and a hostile spec's text reaches the HTML only escaped."""

from __future__ import annotations

import httpx
import pytest

from conftest import Network, spec_doc
from markets.spec import MarketSpec
from network.explorer.data import MarketFacts, STATES, market_state
from oracle.eip712 import INVALID_OUTCOME

pytestmark = pytest.mark.slow  # most tests share a market settled by a real proof

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">&amp; "quoted"'


def test_the_state_table_orders_a_markets_life():
    def state(now, outcome=None, expired=False):
        return market_state(MarketFacts(now=now, close_at=100, resolve_at=200, outcome=outcome, expired=expired)).key

    assert [state(50), state(100), state(150), state(200), state(10**9, expired=True)] == \
        ["trading_open", "trading_closed", "trading_closed", "awaiting_evidence", "expired"]
    assert state(300, outcome=1) == "resolved" and state(300, outcome=INVALID_OUTCOME) == "invalid"
    assert state(10**9, outcome=0, expired=True) == "resolved"  # a late resolution is still what happened
    assert len({k for k, _, _ in STATES}) == len(STATES)

    def court(name, outcome=1):  # a recorded resolution: the dispute court's state decides
        return market_state(MarketFacts(now=300, close_at=100, resolve_at=200, outcome=outcome, expired=False,
                                        court=name)).key

    assert [court("proposed"), court("disputed"), court("final"), court("invalid", INVALID_OUTCOME)] == \
        ["proposed", "disputed", "resolved", "invalid"]
    assert court("invalid", outcome=1) == "invalid"  # a ruling's INVALID over a proposed outcome


@pytest.fixture(scope="module")
def explored(store, circuit, load):
    """On a fresh embedded replay chain: "BTC above $4,000 on 2019-03-23?" staked by two bettors and
    settled by a real round (proof, four validators, quorum of three), the loser's stake redeemed by
    the winner; beside it a market whose question is hostile markup. The explorer serves both."""
    from network.explorer import ExplorerData, ExplorerServer
    from oracle.bundle import publish_bundle
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    net = Network(store)
    spec = MarketSpec.parse(spec_doc(circuit.model_id))
    doc = spec_doc(circuit.model_id, value=4100, question=HOSTILE, description="</pre><b>bold</b>",
                   outcomes=["<i>YES</i>", "NO"])
    doc["shape"]["above"] = "<i>YES</i>"
    hostile = MarketSpec.parse(doc)
    for s in (spec, hostile):  # published as a node publishes them: the spec content-addressed
        store.put(s.canonical())
        net.register(s, advance=False)
    net.dep.deposit(net.alice, spec.market_id, 0, 2 * 10**18)
    net.dep.deposit(net.bob, spec.market_id, 1, 10**18)
    net.advance_to(spec.resolve_at_unix)
    prover = EzklProver(circuit, LocalSigner.create(), store=store, clock=net.validators[0].clock)
    bundle = prover.prove(spec, load)
    publish_bundle(store, bundle)
    report = net.run_round(spec, load, prover, bundle=bundle)
    assert report.submission is not None and report.submission.settlement.on_chain
    net.dep.redeem(net.bob, spec.market_id)
    data = ExplorerData(net.dep, store, load_data=load)
    with ExplorerServer(data) as server:
        yield net, spec, hostile, server.url


def _get(url: str, path: str) -> httpx.Response:
    return httpx.get(url + path, timeout=60)


def test_the_api_answers_what_the_chain_holds(explored):
    net, spec, hostile, url = explored
    dep, mid = net.dep, spec.market_id
    listed = {m["market_id"]: m for m in _get(url, "/api/markets").json()}
    assert set(listed) == {mid, hostile.market_id}
    assert listed[mid]["state"]["key"] == "resolved" and listed[hostile.market_id]["state"]["key"] == "awaiting_evidence"

    m = _get(url, f"/api/markets/{mid}").json()
    onchain = dep.resolution_of(mid).resolution
    event = dep.resolved_events(mid)[0]
    assert m["question"] == spec.question and m["spec"] == spec.to_json()
    assert (m["outcome"], m["outcome_label"]) == (onchain.outcome, spec.outcomes[onchain.outcome]) == (1, "NO")
    r = m["resolution"]
    assert (r["tx_hash"], r["block"], r["proof_hash"]) == (event.tx_hash, event.block, onchain.proof_hash)
    assert r["signers"] == list(event.signers) and len(r["signers"]) >= 3 and r["function"] == "resolve"
    assert sorted(v["address"] for v in r["validators"] if v["signed"]) == sorted(event.signers)
    assert m["proof"]["model_id"] == spec.resolver == onchain.model_id and m["proof"]["vk_hashes"]
    # the value used is the proof's snapshot median; each source's own reading is beside it
    assert [x["value"] for x in m["evidence"]["used"]["medians"]] == ["3994.265"]
    readings = m["evidence"]["observations"][0]["readings"]
    assert len(readings) == 4 and m["evidence"]["observations"][0]["median"] == "3994.265"
    # payouts: bob (NO) took the pool and redeemed it; alice gets nothing
    pay = {a["account"]: a for a in m["payouts"]["accounts"]}
    assert pay[net.alice.address]["payout_wei"] == dep.payout_of(mid, net.alice.address) == 0
    assert [p["wei"] for p in m["payouts"]["pools"]] == dep.pools(mid) == [2 * 10**18, 10**18]
    assert [x["wei"] for x in m["payouts"]["redeemed"]] == [3 * 10**18]
    assert m["payouts"]["redeemed"][0]["label"] == "3 ETH"
    # the dispute court: no window, so final as it landed; the creator's fee escrowed, nothing claimed yet
    c = m["court"]
    assert c["state"] == "final" and c["case"] is None and c["window_ends_at"] == dep.resolution_of(mid).resolved_at
    assert c["fees"]["pot_wei"] == dep.court.parameters().min_fee and c["fees"]["paid_wei"] == 0
    assert 'id="court-state"' in _get(url, f"/market/{mid}").text


def test_the_verification_is_oracle_verifys(explored):
    from validators.audit import Auditor

    net, spec, _, url = explored
    v = _get(url, f"/api/markets/{spec.market_id}/verification").json()
    expected = Auditor(net.dep, net.store, None).verify(spec.market_id).to_json()
    assert v["ok"] is True and [c["name"] for c in v["checks"]] == [c["name"] for c in expected["checks"]]
    assert all(c["ok"] for c in v["checks"])  # the live source check ran too (the explorer reads sources)
    unresolved = _get(url, "/api/markets/" + explored[2].market_id + "/verification").json()
    assert unresolved["ok"] is None and unresolved["note"] == "not resolved yet"


def test_models_and_validators(explored):
    net, spec, _, url = explored
    model = _get(url, f"/api/models/{spec.resolver}").json()
    assert [m["market_id"] for m in model["resolved_markets"]] == [spec.market_id] and model["record"]["name"]
    rows = {v["address"].lower(): v for v in _get(url, "/api/validators").json()}
    signers = {s.lower() for s in net.dep.resolved_events(spec.market_id)[0].signers}
    assert set(rows) == {m.lower() for m in net.members}
    assert all(rows[a]["signed"] == (a in signers) and rows[a]["missed"] == (a not in signers) for a in rows)
    one = _get(url, f"/api/validators/{net.members[0]}").json()
    assert one["current"] and one["signed"] + one["missed"] == 1


@pytest.mark.parametrize("path, status, field", [
    ("/api/markets/0x1234", 400, "market_id"),
    ("/api/markets/0x" + "ab" * 32, 404, None),
    ("/api/models/%3Cscript%3E", 400, "model_id"),
    ("/api/validators/0xnothex", 400, "address"),
    ("/market/0x1234", 400, "market_id"),
])
def test_bad_ids_get_one_clear_error(explored, path, status, field):
    r = _get(explored[3], path)
    assert r.status_code == status
    text = r.json()["error"] if path.startswith("/api/") else r.text
    assert (f"field '{field}'" in text.replace("&#x27;", "'")) if field else "not registered" in text
    assert "Traceback" not in r.text


def test_hostile_spec_text_is_escaped(explored):
    net, spec, hostile, url = explored
    api = _get(url, f"/api/markets/{hostile.market_id}").json()
    assert api["question"] == HOSTILE  # the data is kept as it is; only its rendering is escaped
    for path in (f"/market/{hostile.market_id}", "/"):
        r = _get(url, path)
        page = r.text
        assert "<script>window.__pwned" not in page and "<img src=x" not in page and "<i>YES</i>" not in page
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;" \
               "&amp;amp; &quot;quoted&quot;" in page
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        # the only script is the explorer's own file
        assert page.count("<script") == 1 and '<script src="/static/explorer.js" defer></script>' in page
    assert "&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;" in _get(url, f"/market/{hostile.market_id}").text


def test_static_files_are_served_and_nothing_else(explored):
    url = explored[3]
    assert "fetch(\"/api/status\"" in _get(url, "/static/explorer.js").text
    assert _get(url, "/static/../data.py").status_code in (403, 404)
    assert _get(url, "/static/%2e%2e/data.py").status_code in (403, 404)


def test_the_command_finds_a_node_or_a_devnet_and_says_when_neither(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from cli import app
    from commands.explorer import _sources
    from network.node.config import NodeConfig

    node = tmp_path / "node"
    node.mkdir()
    NodeConfig(rpc_url="http://127.0.0.1:8545", validators=["v0"], threshold=1).save(node)
    assert _sources(node, None) == ("http://127.0.0.1:8545", node / "deployments", [node / "store"],
                                    node / "state.sqlite")
    assert _sources(node, "http://other:1")[0] == "http://other:1"
    dev = tmp_path / "dev"
    (dev / "devnet").mkdir(parents=True)
    roles = [{"name": n, "role": n.split("-")[0], "home": str(dev / "devnet" / n), "port": 1} for n in
             ("scheduler", "prover-1", "prover-0", "validator-0")]
    (dev / "devnet" / "devnet.json").write_text(json.dumps({"anvil": {"port": 9545}, "roles": roles}))
    d = dev / "devnet"
    assert _sources(dev, None) == ("http://127.0.0.1:9545", d / "creator" / "deployments",
                                   [d / "prover-0" / "store", d / "prover-1" / "store", d / "scheduler" / "store"],
                                   d / "scheduler" / "state.sqlite")

    empty = tmp_path / "empty"
    monkeypatch.setenv("ORACLE_HOME", str(empty))
    for args, says in ((["explorer"], "pass --rpc-url"),
                       (["explorer", "--rpc-url", "http://127.0.0.1:9"], "no JSON-RPC node answers at"),
                       (["explorer", "--port", "70000"], "--port")):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0 and says in result.output and "Traceback" not in result.output, result.output


def test_a_node_home_shows_its_markets_and_rounds(node_home):
    """What `oracle explorer` opens in a node's home: its chain, deployment, store and round state."""
    from commands.explorer import open_explorer
    from conftest import PASSWORD
    from network.node import Node

    node = Node(password=PASSWORD)
    spec = MarketSpec.parse(spec_doc(node.resolver_id()))
    node.register(spec)
    data = open_explorer(node_home)
    before = data.market(spec.market_id)
    assert before["state"]["key"] == "trading_open" and before["question"] == spec.question
    assert [r["status"] for r in before["rounds"]] == ["pending"] and before["resolution"] is None
    node.chain.advance_time(spec.resolve_at_unix - node.chain.timestamp())
    assert data.market(spec.market_id)["state"]["key"] == "awaiting_evidence"
    assert node.dispatch(spec.market_id, 0) == "settled"
    after = data.market(spec.market_id)
    assert after["state"]["key"] == "resolved" and [r["status"] for r in after["rounds"]] == ["settled"]
    assert after["rounds"][0]["tx_hash"] == after["resolution"]["tx_hash"] == node.dep.resolved_events(spec.market_id)[0].tx_hash
    assert data.verification(spec.market_id)["ok"] is True


def test_a_proof_held_by_another_store_is_found_and_verified(explored, tmp_path):
    """A devnet's bundle lives with the prover that made it: the explorer looks in every store given."""
    from network.explorer import ExplorerData
    from oracle.store import ArtifactStore

    net, spec, _, _ = explored
    alone = ExplorerData(net.dep, ArtifactStore(tmp_path / "empty"))
    assert alone.market(spec.market_id)["question"] is None
    assert alone.verification(spec.market_id)["ok"] is False  # nothing to re-verify from
    data = ExplorerData(net.dep, ArtifactStore(tmp_path / "empty"), more_stores=[net.store])
    m = data.market(spec.market_id)
    assert m["question"] == spec.question and m["proof"]["vk_hashes"] and m["proof"]["bundle_hash"]
    assert m["evidence"]["used"]["medians"][0]["value"] == "3994.265"
    assert data.verification(spec.market_id)["ok"] is True


def test_a_slashed_validator_is_shown_slashed_with_its_bond(network):
    """A bonded set (ValidatorStaking): one member signs two outcomes for one market and round, anyone
    slashes it; the explorer shows the slash, the bond left and the member out of the set."""
    from network.explorer import ExplorerData, ExplorerServer
    from oracle.canonical import keccak_hex
    from oracle.eip712 import Resolution, signable
    from oracle.signer import LocalSigner
    from oracle.staking import Staking, StakingParameters

    net, eth = network, 10**18
    staking = Staking.deploy(net.dep, net.deployer, StakingParameters(
        min_bond=eth, epoch_length=3600, unbonding_delay=15 * 86_400, max_validators=6, quorum_bps=6666))
    for k in net.keys:
        net.chain.fund(k.address, 10 * eth)
        staking.join(k, 2 * eth)
    staking.advance_epoch(net.deployer)  # the first boundary is the owner's
    market_id, _ = net.dep.register_market(net.creator, spec_hash=keccak_hex(b"spec"), model_id=keccak_hex(b"model"),
                                           resolve_at=1, outcome_count=2, quorum=1)
    cheat = net.keys[1]
    a, b = (Resolution(market_id, 0, outcome, 700_000, keccak_hex(b"model"), keccak_hex(b"in"), keccak_hex(b"p"))
            for outcome in (0, 1))
    reporter = LocalSigner.create()
    net.chain.fund(reporter.address, eth)
    staking.slash(reporter, a, cheat.sign_message(signable(net.dep.domain, a)), b,
                  cheat.sign_message(signable(net.dep.domain, b)))

    data = ExplorerData(net.dep, net.store)
    rows = {v["address"]: v for v in data.validators()}
    assert rows[cheat.address]["slashed"] == 1 and not rows[cheat.address]["current"]
    assert rows[cheat.address]["bond"] == {"wei": 0, "label": "0 ETH", "status": "none"}
    assert all(rows[k.address]["slashed"] == 0 and rows[k.address]["bond"]["label"] == "2 ETH"
               for k in net.keys if k is not cheat)
    one = data.validator(cheat.address)
    assert [(s["wei"], s["reporter"]) for s in one["slashes"]] == [(2 * eth, reporter.address)]
    with ExplorerServer(data) as server:
        page = httpx.get(f"{server.url}/validator/{cheat.address}", timeout=60).text
        assert '<span id="validator-slashed">1</span>' in page and "not in the current set" in page
        assert 'class="slashed">1</td>' in httpx.get(server.url + "/", timeout=60).text
