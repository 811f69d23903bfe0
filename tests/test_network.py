"""Network mode with real processes: every role its own process over HTTP on 127.0.0.1, on anvil.

One devnet per module (4 validators, t = 3, 2 provers, 2 aggregators) on a replay chain that starts
at REPLAY_START (March 2019); each test registers its own version-2 markets before their day, then
moves the chain's clock past their resolve time: the provers prove the outcome from the evidence of
every source the spec observes, the validators recompute it as of the chain's clock. Faults are real: SIGKILL, anvil stopped and restarted, validators down; adversaries are
real processes misbehaving (a plugin their role.json names: tests/adversaries.py) or forged HTTP requests.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import httpx
import pytest

from adversaries import plugin_of, set_adversary
from conftest import PASSWORD, REPLAY_START, day_after

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def devnet(tmp_path_factory, circuit):
    """`circuit`: the reference model is compiled and cached before the provers start."""
    import os

    from network.devnet import Devnet

    os.environ.setdefault("ORACLE_KEYSTORE_INSECURE_ITERATIONS", "1024")
    home = tmp_path_factory.mktemp("home")  # the CLI finds the devnet at $ORACLE_HOME/devnet
    # two aggregators: a dedicated process, and validator-0 acting as one too
    net = Devnet.up(home / "devnet", validators=4, threshold=3, provers=2, aggregators=1, validator_aggregators=1,
                    password=PASSWORD, overrides={"scheduler": {"prove_timeout_s": 20, "settle_wait_s": 15}},
                    start=REPLAY_START)
    net.home = home
    yield net
    from typer.testing import CliRunner

    from cli import app

    down = CliRunner().invoke(app, ["devnet", "down"], env={"ORACLE_HOME": str(home)})
    assert down.exit_code == 0 and "anvil" in down.output, down.output
    net.reap()
    assert not any(r.alive() for r in net.roles.values()) and not net.anvil().alive()


def new_market(net, *, value: float = 4000, advance: bool = True) -> str:
    """"BTC above `value` on the chain's next day?" (its own spec hash), registered by the creator before
    the day and handed to the scheduler; with `advance`, the chain's clock then moves to its resolve time."""
    market = net.demo_market(day_after(net.now()), value, password=PASSWORD)
    if advance:
        net.advance_to(net.deployment().get_market(market).resolve_at)
    return market


def honest_outcome(net, market_id: str) -> int:
    """What the honest validators signed (validator-0 is never made an adversary)."""
    return net.signed_outcome(market_id, "validator-0")


def settled_once(net, market_id: str, timeout: float = 150) -> dict:
    net.wait_settled(market_id, timeout)
    time.sleep(1.0)  # let a second aggregator try
    events = net.resolutions(market_id)
    assert len(events) == 1, events
    return events[0]


def test_a_market_resolves_from_the_evidence_over_http_and_two_aggregators_settle_once(devnet):
    """"BTC above $4,000 on 2019-03-23?" from four providers: NO (the median 3,994.25 outvotes Yahoo's
    4,035.8, reported off the median). Registered on 2019-03-10, due once the chain's clock passes the
    day; the resolver proves, every validator recomputes the evidence. One of the two aggregators is a
    validator: any validator can aggregate."""
    from conftest import spec_doc
    from markets.spec import MarketSpec

    spec = MarketSpec.parse(spec_doc(devnet.prover_models()["resolvers"]["1"], quorum=3))
    assert devnet.now() < spec.close_at_unix
    market = devnet.register_market(spec, password=PASSWORD)
    time.sleep(3)
    assert not devnet.deployment().is_resolved(market)  # not before the chain's clock reaches the evidence
    assert not any(e.get("market_id") == market for e in devnet.events("scheduler") if e["event"] == "proved")
    devnet.advance_to(spec.resolve_at_unix)
    event = settled_once(devnet, market)
    assert event["outcome"] == honest_outcome(devnet, market) == spec.outcomes.index("NO")
    resolution = devnet.deployment().resolution_of(market).resolution
    assert resolution.model_id == spec.resolver and resolution.final
    off = [e for e in devnet.events("validator-0") if e["event"] == "sources_off_median" and e["market_id"] == market]
    assert off and any("btc_usd_daily.csv" in json.dumps(e["sources"]) for e in off)  # Yahoo, reported
    deadline = time.time() + 30  # the submitter's log line may trail the chain
    while True:
        settled = [e for n in ("aggregator-0", "validator-0") for e in devnet.events(n)
                   if e["event"] == "settled" and e.get("market_id") == market]
        if settled or time.time() > deadline:
            break
        time.sleep(0.2)
    others = [e for n in ("aggregator-0", "validator-0") for e in devnet.events(n)
              if e["event"] in ("skipped_settled", "duplicate_submission") and e.get("market_id") == market]
    assert len(settled) == 1 and len(others) <= 1
    assert httpx.get(f"{devnet.roles['validator-0'].url}/v1/health").json()["aggregated_votes"] >= 3
    # every role logs one JSON object per line
    for r in devnet.roles.values():
        assert all({"ts", "role", "event"} <= set(e) for e in devnet.events(r.name))


@pytest.mark.parametrize("role", ["validator-1", "aggregator-0", "prover-0", "scheduler"])
def test_sigkill_a_role_mid_round_and_restart(devnet, role):
    market = new_market(devnet)
    time.sleep(1.0)  # the scheduler has the round in hand
    devnet.kill(role, signal.SIGKILL)
    time.sleep(2.0)
    devnet.start(role)
    devnet.wait_healthy([role])
    event = settled_once(devnet, market)
    assert event["outcome"] == honest_outcome(devnet, market)


def test_round_waits_while_quorum_is_unreachable_and_completes_after(devnet):
    devnet.kill("validator-2")  # 3 of 4 up: t = 3 still reachable
    try:
        settled_once(devnet, new_market(devnet))
        devnet.kill("validator-3")  # 2 of 4: below t
        market = new_market(devnet)
        with pytest.raises(Exception, match="not settled"):
            devnet.wait_settled(market, timeout=20)
        status = devnet.scheduler_status()
        row = next(r for r in status["in_flight"] if r["market_id"] == market)
        assert row["status"] in ("retry", "running", "pending")  # waiting, not failed
    finally:
        devnet.start("validator-2")
        devnet.start("validator-3")
        devnet.wait_healthy(["validator-2", "validator-3"])
    settled_once(devnet, market, timeout=120)


def test_anvil_down_for_a_while_then_the_round_completes(devnet):
    market = new_market(devnet)
    stopped_at = time.time()
    devnet.stop_anvil()
    time.sleep(6)
    devnet.restart_anvil()  # same port, chain state reloaded from its state file
    event = settled_once(devnet, market, timeout=150)
    assert event["outcome"] == honest_outcome(devnet, market)
    hit = [e for n in devnet.roles for e in devnet.events(n)
           if e["ts"] > stopped_at and e["event"] in ("tick_failed", "error", "round_waiting", "replay_failed")]
    assert hit, "the outage was never noticed: the test did not exercise it"


def test_equivocating_minority_cannot_land_a_wrong_outcome_and_is_caught(devnet):
    from validators.evidence import check_equivocation

    set_adversary(devnet, "validator-3", "equivocate")  # f = 1 of n = 4 = 3f + 1
    try:
        market = new_market(devnet)
        event = settled_once(devnet, market)
        assert event["outcome"] == honest_outcome(devnet, market)
        time.sleep(1)
        evidence_files = [devnet.roles[a].home / "evidence.jsonl" for a in ("aggregator-0", "validator-0")]
        docs = [json.loads(line) for f in evidence_files if f.exists() for line in f.read_text().splitlines()]
        docs = [d for d in docs if d["market_id"] == market]
        assert docs, "no equivocation evidence kept"
        bad = json.loads((devnet.roles["validator-3"].home / "role.json").read_text())
        address = check_equivocation(docs[0])
        assert address.lower() == httpx.get(f"{devnet.roles['validator-3'].url}/v1/health").json()["address"].lower()
        assert bad["plugin"] == plugin_of("equivocate")
    finally:
        set_adversary(devnet, "validator-3", None)


def test_forged_replayed_and_malformed_requests_are_refused_and_change_nothing(devnet):
    from oracle.eip712 import Domain, Resolution, digest, signable
    from oracle.keystore import KeyStore
    from network.transport import sign_envelope
    from validators.validator import Vote

    agg = devnet.roles["aggregator-0"]
    val = devnet.roles["validator-0"]
    market = new_market(devnet)
    settled_once(devnet, market)
    before_agg = httpx.get(f"{agg.url}/v1/health").json()["votes"]
    before_val = httpx.get(f"{val.url}/v1/health").json()["votes"]

    member = KeyStore(val.home / "keys").load("validator-0", PASSWORD)
    dep = devnet.deployment()
    r = dep.resolution_of(market).resolution

    def vote_under(domain, res, key=member):
        return Vote(key.address, res, digest(domain, res), key.sign_message(signable(domain, res))).to_json()

    other_market = Resolution(**{**r.to_json(), "market_id": "0x" + "ab" * 32})
    cases = {
        "other chain id": vote_under(Domain(999, dep.oracle.address), r),
        "other contract": vote_under(Domain(dep.chain.chain_id, "0x" + "12" * 20), r),
        "unregistered market": vote_under(dep.domain, other_market),
        "other round": vote_under(dep.domain, Resolution(**{**r.to_json(), "round": 5})),
    }
    from oracle.signer import LocalSigner

    cases["non-member"] = vote_under(dep.domain, r, LocalSigner.create())
    for what, body in cases.items():
        resp = httpx.post(f"{agg.url}/v1/votes", json=body)
        assert resp.status_code in (400, 422), (what, resp.text)
    assert httpx.post(f"{agg.url}/v1/votes", content=b"{not json").status_code == 400
    assert httpx.post(f"{agg.url}/v1/votes", json={"validator": 1}).status_code == 400
    assert httpx.post(f"{agg.url}/v1/votes", content=b"x" * (1024 * 1024),
                      headers={"Content-Type": "application/json"}).status_code == 413
    assert httpx.get(f"{agg.url}/v1/health").json()["votes"] == before_agg  # nothing stored

    # the validator: an envelope from an untrusted signer, a tampered one, a bundle replayed for another market
    sched = KeyStore(devnet.roles["scheduler"].home / "keys").load("scheduler", PASSWORD)
    stored = json.loads(sqlite3.connect(val.home / "votes.sqlite").execute(
        "SELECT doc FROM votes WHERE market_id=?", (market,)).fetchone()[0])
    bundle_id = next(e["bundle"] for e in devnet.events("scheduler")
                     if e["event"] == "proved" and e.get("market_id") == market)
    spec_hash = dep.get_market(market).spec_hash
    payload = {"market_id": market, "round": 0, "spec_hash": spec_hash, "bundle": bundle_id,
               "artifacts": [devnet.doc["scheduler_url"], devnet.roles["prover-0"].url,
                             devnet.roles["prover-1"].url]}
    review_url = f"{val.url}/v1/review"
    stranger = sign_envelope(LocalSigner.create(), payload, review_url)
    assert httpx.post(review_url, json=stranger).status_code == 403
    tampered = sign_envelope(sched, dict(payload), review_url)  # a copy: `payload` is reused below
    tampered["payload"]["round"] = 1
    assert httpx.post(review_url, json=tampered).status_code == 401
    # issue 12 item 16: an envelope is good once, at one route of one role, for a short while
    once = sign_envelope(sched, payload, review_url)
    first = httpx.post(review_url, json=once, timeout=60)
    assert first.status_code == 200 and first.json().get("repeated"), first.text  # answered from the stored vote
    again = httpx.post(review_url, json=once, timeout=60)
    assert again.status_code == 409 and "replay" in again.json()["error"]
    prover_url = f"{devnet.roles['prover-0'].url}/v1/prove"
    assert httpx.post(prover_url, json=sign_envelope(sched, payload, review_url)).status_code == 401  # other route
    other_val = f"{devnet.roles['validator-1'].url}/v1/review"
    assert httpx.post(other_val, json=sign_envelope(sched, payload, review_url)).status_code == 401  # other role
    expired = sign_envelope(sched, payload, review_url, now=time.time() - 600)
    assert "expired" in httpx.post(review_url, json=expired).json()["error"]
    far = sign_envelope(sched, payload, review_url, ttl_s=3600)
    assert httpx.post(review_url, json=far).status_code == 401
    assert any(e["event"] == "refused" and e.get("status") == 409 for e in devnet.events("validator-0"))
    other = new_market(devnet, value=6000)
    replay = sign_envelope(sched, {**payload, "market_id": other, "spec_hash": dep.get_market(other).spec_hash},
                           review_url)
    resp = httpx.post(review_url, json=replay)
    assert resp.status_code == 400 and "not" in resp.json()["error"]
    settled_once(devnet, other)

    votes = {json.loads(d)["resolution"]["market_id"] for (d,) in
             sqlite3.connect(val.home / "votes.sqlite").execute("SELECT doc FROM votes")}
    assert market in votes and stored["resolution"]["market_id"] == market
    deadline = time.time() + 30  # validator-0's honest vote on `other` may land after the quorum's
    while devnet.signed_outcome(other, "validator-0") is None and time.time() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{val.url}/v1/health").json()["votes"] == before_val + 1  # only `other`'s honest vote
    refusals = [e for e in devnet.events("aggregator-0") if e["event"] == "refused"]
    assert any("not the resolution's digest" in e["reason"] for e in refusals)
    assert any("not in the validator set" in e["reason"] for e in refusals)


def test_a_prover_proving_other_inputs_is_refused_and_a_silent_prover_is_passed_over(devnet):
    set_adversary(devnet, "prover-0", "other_inputs")
    try:
        market = new_market(devnet)
        event = settled_once(devnet, market, timeout=180)
        assert event["outcome"] == honest_outcome(devnet, market)
        refused = [e for e in devnet.events("validator-0")
                   if e["event"] == "refused_bundle" and e.get("market_id") == market]
        assert refused and refused[0]["check"] in ("inputs", "data-snapshot")
        set_adversary(devnet, "prover-0", "hang")
        market = new_market(devnet)
        settled_once(devnet, market, timeout=180)
        failed = [e for e in devnet.events("scheduler") if e["event"] == "prover_failed" and e["market_id"] == market]
        assert failed and failed[0]["prover"] == devnet.roles["prover-0"].url
    finally:
        set_adversary(devnet, "prover-0", None)


def test_cli_market_and_status_dashboard(devnet):
    from typer.testing import CliRunner

    from cli import app

    env = {"ORACLE_HOME": str(devnet.home), "ORACLE_KEYSTORE_PASSWORD": PASSWORD}
    at = day_after(devnet.now())
    made = CliRunner().invoke(app, ["devnet", "market", "--at", at, "--value", "4000"], env=env)
    assert made.exit_code == 0, made.output
    market = made.output.strip()
    settled_once(devnet, market)
    assert devnet.now() >= devnet.deployment().get_market(market).resolve_at  # --advance moved the chain's clock
    closed = CliRunner().invoke(app, ["devnet", "market", "--at", at], env=env)  # that day has begun
    assert closed.exit_code == 1 and "field 'close_at'" in closed.output
    status = CliRunner().invoke(app, ["devnet", "status", "--json"], env=env)
    doc = json.loads(status.stdout)
    assert doc["anvil"]["alive"] and all(r["alive"] and r["health"] for r in doc["roles"])
    assert {r["role"] for r in doc["roles"]} == {"scheduler", "prover", "validator", "aggregator"}
    assert any(x["market_id"] == market for x in doc["scheduler"]["last"]) or doc["scheduler"]["rounds"]["settled"]
    table = CliRunner().invoke(app, ["devnet", "status"], env=env)
    assert table.exit_code == 0 and "validator-3" in table.output and "healthy" in table.output

    # the dispute court: proposed for the devnet's window, then final; the aggregators claim the fee's
    # shares (the prover's with the validators' credits); validators and the prover withdraw theirs
    dep = devnet.deployment()
    row = next(x for x in doc["markets"] if x["market_id"] == market)
    assert row["state"] == "proposed" and row["dispute_window"] == devnet.dispute_window == 120
    assert row["window_ends_at"] == dep.resolution_of(market).resolved_at + 120
    assert row["fees"]["pot_wei"] == devnet.fee and "proposed (final at" in table.output
    shown = CliRunner().invoke(app, ["market", "status", market, "--json"], env=env)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["state"] == "proposed", shown.output
    devnet.advance_to(row["window_ends_at"])
    doc = json.loads(CliRunner().invoke(app, ["devnet", "status", "--json"], env=env).stdout)
    assert next(x for x in doc["markets"] if x["market_id"] == market)["state"] == "final"
    deadline = time.time() + 60
    # a share per member of the set that recorded it (earlier tests' slashing may have shrunk it)
    quorum = dep.get_market(market).quorum
    while not ((f := dep.court.fees_of(market)).prover_paid and f.signer_claims >= quorum):
        assert time.time() < deadline, [e for n in ("aggregator-0", "validator-0") for e in devnet.events(n)
                                        if e["event"].startswith("fee_claim")]
        time.sleep(0.5)
    from network.home import JsonRows

    provers = {devnet.roles[n].health()["address"]: n for n in devnet.roles if n.startswith("prover")}
    votes = JsonRows(devnet.roles["validator-0"].home / "votes.sqlite", "votes").all()
    named = next(d["prover"] for d in votes if d["resolution"]["market_id"] == market and d["resolution"]["final"])
    assert named in provers and dep.court.owed(named) >= devnet.fee * 2000 // 10_000  # the bundle's prover
    credited = [named]
    slots = dep.court.fees_of(market).slots
    assert slots == len(dep.members_of_epoch(dep.resolution_of(market).epoch))
    share = (devnet.fee - devnet.fee * 2000 // 10_000) // slots
    signers = [v for v in (f"validator-{i}" for i in range(4))
               if dep.court.signer_paid(market, devnet.roles[v].health()["address"])]
    assert len(signers) == dep.court.fees_of(market).signer_claims >= quorum
    claimed = CliRunner().invoke(app, ["validator", "claim-fees", "--role-home", str(devnet.roles[signers[0]].home),
                                       "--withdraw", "--json"], env=env)
    assert claimed.exit_code == 0, claimed.output
    c = json.loads(claimed.stdout)
    assert {"market_id": market, "signer": c["address"], "result": "already_paid"} in c["claims"]
    assert c["withdrawn_wei"] >= share and dep.court.owed(c["address"]) == 0
    paid = CliRunner().invoke(app, ["prover", "withdraw-fees", "--role-home",
                                    str(devnet.roles[provers[credited[0]]].home), "--json"], env=env)
    assert paid.exit_code == 0 and json.loads(paid.stdout)["withdrawn_wei"] >= devnet.fee * 2000 // 10_000, paid.output
    again = CliRunner().invoke(app, ["prover", "withdraw-fees", "--role-home",
                                     str(devnet.roles[provers[credited[0]]].home)], env=env)
    assert again.exit_code == 1 and "owes" in again.output


def test_equivocation_evidence_check_refuses_what_is_not_equivocation():
    from oracle.eip712 import Domain, Resolution, digest, signable
    from oracle.errors import OracleError
    from oracle.signer import LocalSigner
    from validators.evidence import check_equivocation
    from validators.validator import Vote

    domain = Domain(31337, "0x" + "12" * 20)
    a, b = LocalSigner.create(), LocalSigner.create()
    r = Resolution("0x" + "01" * 32, 0, 1, 700_000, "0x" + "02" * 32, "0x" + "03" * 32, "0x" + "04" * 32)
    flipped = Resolution(**{**r.to_json(), "outcome": 0})

    def vote(key, res):
        return Vote(key.address, res, digest(domain, res), key.sign_message(signable(domain, res))).to_json()

    doc = {"chain_id": 31337, "oracle": domain.verifying_contract}
    assert check_equivocation({**doc, "first": vote(a, r), "second": vote(a, flipped)}) == a.address
    with pytest.raises(OracleError, match="signers differ"):
        check_equivocation({**doc, "first": vote(a, r), "second": vote(b, flipped)})
    with pytest.raises(OracleError, match="same resolution"):
        check_equivocation({**doc, "first": vote(a, r), "second": vote(a, r)})
    r_lower = Resolution(**{**r.to_json(), "proof_hash": "0x" + "0a" * 32})
    shouted = vote(a, r_lower)  # one honest signature, its copy with a field re-spelled: not equivocation
    shouted["resolution"] = {**shouted["resolution"], "proof_hash": "0x" + "0A" * 32}
    with pytest.raises(OracleError, match="same resolution"):
        check_equivocation({**doc, "first": vote(a, r_lower), "second": shouted})
    other_round = Resolution(**{**r.to_json(), "round": 1, "outcome": 0})
    with pytest.raises(OracleError, match="different markets or rounds"):
        check_equivocation({**doc, "first": vote(a, r), "second": vote(a, other_round)})
    with pytest.raises(OracleError, match="signers differ"):  # evidence replayed under another chain id
        check_equivocation({**doc, "chain_id": 1, "first": vote(a, r), "second": vote(a, flipped)})


def test_a_forecast_market_posts_its_rounds_then_resolves(devnet):
    """The forecaster's rounds while trading is open, then the resolver's outcome from the evidence."""
    from network.devnet import btc_above_spec

    models = devnet.prover_models()
    start = devnet.now()
    spec = btc_above_spec(day_after(start, 8), 4000, resolver=models["resolvers"]["1"],
                          quorum=devnet.deployment().threshold(), forecaster=models["forecaster"],
                          forecast_from=day_after(start, 1), every_days=3)
    market = devnet.register_market(spec, password=PASSWORD)
    dep = devnet.deployment()
    record = dep.get_market(market)
    assert record.model_id == models["resolvers"]["1"] and record.forecaster_id == models["forecaster"]
    for r in spec.rounds()[:-1]:  # each forecast posts once due, before the resolve time (ForecastClosed)
        devnet.advance_to(r.due_at)
        deadline = time.monotonic() + 120
        while dep.forecast_of(market, r.index) is None:
            assert time.monotonic() < deadline, f"forecast round {r.index} not posted within 120 s"
            time.sleep(0.5)
    devnet.advance_to(record.resolve_at)
    event = settled_once(devnet, market, timeout=240)
    assert event["round"] == 3 and event["outcome"] == honest_outcome(devnet, market)
    assert [dep.forecast_of(market, i) is not None for i in (0, 1, 2)] == [True, True, True]
    assert dep.oracle.functions.forecastCount(bytes.fromhex(market[2:])).call() == 3
    assert dep.resolution_of(market).resolution.model_id == models["resolvers"]["1"]


def test_a_market_whose_evidence_never_comes_resolves_invalid_over_http(devnet):
    """Two agreeing providers needed, and Coinbase's file ends 2020-11-20: for 2021-01-19 only Yahoo
    has the close. Past the deadline the prover answers 410, the scheduler asks every validator to
    check the absence itself (its own reads, the chain's clock), they sign INVALID without a proof and
    an aggregator settles it. (Last in this module: it moves the devnet's clock to 2021.)"""
    from conftest import spec_doc
    from markets.spec import MarketSpec
    from oracle.eip712 import INVALID_OUTCOME
    from validators.absence import absence_resolution

    spec = MarketSpec.parse(spec_doc(devnet.prover_models()["resolvers"]["1"], at="2021-01-19", value=36000,
                                     sources=("btc-yahoo", "btc-coinbase")))
    assert devnet.now() < spec.close_at_unix
    market = devnet.register_market(spec, password=PASSWORD)
    devnet.advance_to(spec.resolve_at_unix)
    time.sleep(4)
    assert not devnet.deployment().is_resolved(market)  # before the deadline: too early, retried
    devnet.advance_to(int(spec.deadline.timestamp()))
    settled_once(devnet, market, timeout=180)
    stored = devnet.deployment().resolution_of(market).resolution
    assert stored == absence_resolution(spec) and stored.outcome == INVALID_OUTCOME
    assert any(e["event"] == "absence_reviewed" and e.get("market_id") == market for e in devnet.events("scheduler"))
