"""Real proofs through real validators to a replay chain: the happy path, every refusal, and what a
market resolved from evidence promises (nothing resolves before its evidence exists, a market
registered late is refused, a lying source is outvoted and named, a partial bar never counts,
forecasts never settle)."""

from __future__ import annotations

import statistics
from dataclasses import replace

import pytest
from conftest import JsonServer, forecast_doc, spec_doc

from markets.evidence import EvidenceMissing
from markets.spec import MarketSpec
from oracle.canonical import keccak_hex
from oracle.eip712 import Resolution
from oracle.errors import ChainError, OracleError, ProvingError
from oracle.models import inputs_hash
from oracle.pipeline import run_round
from oracle.settlement import SETTLED, Settlement
from validators.aggregator import Aggregator, VoteRejected

pytestmark = pytest.mark.slow

DAY = "2019-03-23"  # the session spec's day: the four providers' closes straddle $4,000
CHECKS = ["prover-signature", "market", "model", "proof", "instances", "data-snapshot", "inputs", "rule"]


def _resolve(network, spec, load, prover, bundle):
    network.register(spec)
    return run_round(spec, load, prover, network.validators, network.aggregator, bundle=bundle)


def _closes(spec, load) -> dict[str, float]:
    """Each source's close of the market's day, read here straight from the loaded frames."""
    return {s["uri"]: float(load(s).loc[DAY, "close"]) for s in spec.observe.sources}


def test_happy_path_lands_on_chain_and_pays_the_winner(network, spec, load, prover, bundle, circuit):
    market_id = network.register(spec, advance=False)  # trading is open before the day
    network.dep.deposit(network.alice, market_id, spec.outcomes.index("YES"), 10**18)
    network.dep.deposit(network.bob, market_id, spec.outcomes.index("NO"), 3 * 10**18)
    network.advance_to(spec.resolve_at_unix)
    with pytest.raises(ChainError, match="TradingClosed"):  # the day is over: no more bets
        network.dep.deposit(network.alice, market_id, 0, 10**18)
    report = run_round(spec, load, prover, network.validators, network.aggregator, bundle=bundle)

    assert report.signed == 4 and not report.refusals
    assert all(r.checks == CHECKS for r in report.reviews)
    sub = report.submission
    assert sub is not None and len(sub.signers) == network.t

    # on-chain state, not return values
    stored = network.dep.resolution_of(market_id)
    assert stored.resolution == sub.resolution
    r = stored.resolution
    assert r.model_id == circuit.model_id == spec.model == spec.resolver and r.final
    assert r.inputs_hash == inputs_hash(list(bundle.instances[0][:2])) and r.proof_hash == keccak_hex(bundle.proof_bytes)
    receipt = network.chain.w3.eth.get_transaction_receipt(sub.tx_hash)
    (event,) = network.dep.oracle.events.Resolved().process_receipt(receipt)
    assert sorted(event["args"]["signers"]) == sorted(sub.signers)

    # the proven inputs are the median of the providers' closes and the question's value, in cents;
    # Yahoo alone would have said YES, the median says NO
    closes = _closes(spec, load)
    assert closes["bundled:btc_usd_daily.csv"] > 4000 > statistics.median(closes.values())
    assert bundle.inputs == (round(statistics.median(closes.values()) * 100), 400_000.0)
    assert bundle.outputs == (bundle.inputs[0] - bundle.inputs[1],)
    assert spec.outcomes[r.outcome] == "NO" and r.probability_ppm == 1_000_000
    for v in network.validators:  # Yahoo is off the median: reported, not counted
        assert [d["source"] for d in v.deviations[-1]["sources"]] == ["bundled:btc_usd_daily.csv"]

    paid, _ = network.dep.redeem(network.bob, market_id)
    assert paid == 4 * 10**18
    with pytest.raises(ChainError, match="NothingToRedeem"):
        network.dep.redeem(network.alice, market_id)

    # a second round of votes for the same market never lands twice
    with pytest.raises(ChainError, match="AlreadyResolved"):
        network.settle(r, [v.vote.signature for v in report.reviews[: network.t]])


def _flip_proof_byte(b, prover):
    raw = bytearray(b.proof_bytes)
    raw[len(raw) // 2] ^= 0x01
    return replace(b, proof="0x" + raw.hex()).signed_by(prover.signer)


def _claim_other_model(b, prover):
    return replace(b, model_id=keccak_hex(b"another model")).signed_by(prover.signer)


def _edit_readable_output(b, prover):
    return replace(b, outputs=(b.outputs[0] + 3.0,)).signed_by(prover.signer)


def _edit_instance(b, prover):
    inst = list(b.instances[0])
    inst[-1] = inst[0]
    return replace(b, instances=(tuple(inst),)).signed_by(prover.signer)


def _other_snapshot(b, prover):
    return replace(b, data_snapshot=keccak_hex(b"other rows")).signed_by(prover.signer)


def _forge_prover(b, prover):
    return replace(b, outputs=(b.outputs[0] + 1.0,))  # changed after signing


@pytest.mark.parametrize(
    "tamper, check",
    [
        (_flip_proof_byte, "proof"),
        (_claim_other_model, "model"),
        (_edit_readable_output, "instances"),
        (_edit_instance, "proof"),
        (_forge_prover, "prover-signature"),
        (_other_snapshot, "data-snapshot"),
    ],
)
def test_tampered_bundles_are_refused_by_every_validator(network, spec, load, prover, bundle, tamper, check):
    report = _resolve(network, spec, load, prover, tamper(bundle, prover))
    assert report.signed == 0
    assert [r.check for r in report.refusals] == [check] * 4
    assert report.submission is None and not network.dep.is_resolved(spec.market_id)


def test_valid_proof_over_other_inputs_is_refused(network, spec, load, prover, bundle):
    """A perfectly valid proof over Yahoo's close alone (the one provider that says YES), claiming the
    honest evidence record as its snapshot."""
    yahoo = _closes(spec, load)["bundled:btc_usd_daily.csv"]
    wrong = prover.prove_features(spec.market_id, [float(round(yahoo * 100)), 400_000.0],
                                  data_snapshot=bundle.data_snapshot)
    assert wrong.outputs[0] > 0  # it proves YES
    report = _resolve(network, spec, load, prover, wrong)
    assert report.signed == 0
    assert {r.check for r in report.refusals} == {"inputs"}
    assert "the market's data gives" in report.refusals[0].reason
    assert not network.dep.is_resolved(spec.market_id)


def test_bundle_for_another_market_is_refused(network, spec, load, prover, bundle):
    moved = replace(bundle, market_id=keccak_hex(b"elsewhere")).signed_by(prover.signer)
    report = _resolve(network, spec, load, prover, moved)
    assert {r.check for r in report.refusals} == {"market"} and report.signed == 0


def test_unregistered_market_is_refused(network, spec, load, prover, bundle):
    network.advance_to(spec.resolve_at_unix)
    report = run_round(spec, load, prover, network.validators, network.aggregator, bundle=bundle)
    assert {r.check for r in report.refusals} == {"market"}
    assert "not registered on-chain" in report.refusals[0].reason


def test_a_disagreeing_validator_does_not_sign_and_quorum_still_lands(network, spec, load, prover, bundle):
    def shifted(source):  # this validator's copy of every provider reads 2% higher
        return load(source) * 1.02

    network.validators[0].load_data = shifted
    report = _resolve(network, spec, load, prover, bundle)
    assert report.signed == 3
    (refusal,) = report.refusals
    assert refusal.check == "data-snapshot" and refusal.validator == network.keys[0].address
    assert network.validators[0].refusals == [refusal]
    assert network.dep.is_resolved(spec.market_id)


def test_aggregator_checks_votes_and_keeps_equivocation_evidence(network, spec, load, prover, bundle):
    network.register(spec)
    submitted = []
    agg = Aggregator(network.dep.domain, [k.address for k in network.keys], network.t,
                     lambda r, sigs: submitted.append((r, sigs)) or Settlement(SETTLED, "0xtx"))
    votes = [v.review(spec, bundle).vote for v in network.validators]

    outsider_vote = replace(votes[0], validator="0x" + "11" * 20)
    with pytest.raises(VoteRejected, match="not in the validator set"):
        agg.add(outsider_vote)
    with pytest.raises(VoteRejected, match="does not recover"):
        agg.add(replace(votes[0], signature=votes[1].signature))
    other = Resolution(**{**votes[0].resolution.to_json(), "outcome": 1 - votes[0].resolution.outcome})
    with pytest.raises(VoteRejected, match="not the resolution's digest"):
        agg.add(replace(votes[0], resolution=other))

    assert agg.add(votes[0]) is None
    assert agg.add(votes[0]) is None  # a repeated vote counts once
    # the same vote with its ids spelled in upper case is the same vote: no second tally, no evidence
    shouted = Resolution(**{**votes[0].resolution.to_json(), "market_id": "0x" + spec.market_id[2:].upper(),
                            "proof_hash": "0x" + votes[0].resolution.proof_hash[2:].upper()})
    assert shouted == votes[0].resolution
    assert agg.add(replace(votes[0], resolution=shouted)) is None and agg.evidence == []
    # validator 0 also signs the opposite outcome: kept as evidence, not counted
    from oracle.eip712 import digest

    conflicting = replace(votes[0], resolution=other, digest=digest(network.dep.domain, other),
                          signature=network.sign(network.keys[0], other))
    assert agg.add(conflicting) is None
    assert len(agg.evidence) == 1 and agg.evidence[0].validator == network.keys[0].address
    assert agg.add(votes[1]) is None
    sub = agg.add(votes[2])
    assert sub is not None and len(submitted) == 1 and len(sub.signers) == 3
    assert agg.add(votes[3]) is None and len(submitted) == 1  # submitted once


def test_validators_bls_sign_only_roots_of_resolutions_they_reviewed(network, spec, load, prover, bundle):
    """Reviewed with a real proof, BLS-signed by every member, aggregated and settled by root."""
    from oracle import bls
    from oracle.batch import leaf, merkle_proof
    from validators.aggregator import BlsAggregator

    network.register(spec)
    for v in network.validators:
        v.bls_key = bls.BlsKey.generate()
        network.chain.fund(v.address, 10**18)
        network.dep.register_bls_key(v.signer, v.bls_key.public_key, v.bls_key.proof_of_possession(v.address))
    resolution = network.validators[0].review(spec, bundle).vote.resolution
    stranger = Resolution(**{**resolution.to_json(), "outcome": 1 - resolution.outcome})
    with pytest.raises(OracleError, match="did not sign these resolutions itself"):
        network.validators[0].sign_batch_bls([stranger])
    for v in network.validators[1:]:
        assert v.review(spec, bundle).vote.resolution == resolution
    agg = BlsAggregator(network.dep.domain, network.dep.validators(), network.dep.bls_key_set(), network.t,
                        lambda root, count, bitmap, sig, key_set: network.settler.root_bls(root, count, bitmap, sig,
                                                                                          key_set))
    subs = [agg.add(v.sign_batch_bls([resolution])) for v in network.validators]
    assert sum(s is not None for s in subs) == 1
    root = leaf(resolution)
    network.dep.claim(network.submitter, resolution, merkle_proof([root], 0), root)
    assert network.dep.resolution_of(spec.market_id).resolution == resolution


def test_aggregator_follows_a_validator_set_change(network, spec, bundle):
    """After the set changes, votes of members who left stop counting and the new threshold holds."""
    network.register(spec)
    submitted = []
    members = [k.address for k in network.keys]
    agg = Aggregator(network.dep.domain, members, network.t,
                     lambda r, sigs: submitted.append(sigs) or Settlement(SETTLED, "0xtx"))
    votes = [v.review(spec, bundle).vote for v in network.validators]
    assert agg.add(votes[0]) is None and agg.add(votes[1]) is None
    agg.set_members(members[1:], 3)  # member 0 left; t = 3 of the remaining 3
    assert agg.add(votes[2]) is None  # 2 countable votes, not 3
    with pytest.raises(VoteRejected, match="not in the validator set"):
        agg.add(votes[0])
    sub = agg.add(votes[3])
    assert sub is not None and set(sub.signers) == set(members[1:]) and len(submitted) == 1


# ------------------------------------------------------------------ what a market resolved from evidence promises
def _reviews(network, spec, load, prover, bundle):
    return run_round(spec, load, prover, network.validators, network.aggregator, bundle=bundle)


def test_nothing_resolves_before_its_evidence_exists(network, spec, load, prover, bundle, circuit):
    """Registered before its day, the market cannot resolve until the day is over by the chain's clock:
    the prover finds no evidence, validators refuse a proof made elsewhere, and the contract refuses
    even a full quorum before resolveAt."""
    from provers.prover import EzklProver

    network.register(spec, advance=False)
    early = EzklProver(circuit, prover.signer, clock=network.validators[0].clock)  # the chain's clock
    with pytest.raises(EvidenceMissing, match="too early") as e:
        early.prove(spec, load)
    assert e.value.retry and not e.value.invalid

    network.advance_to(spec.resolve_at_unix - 3600)  # the last hour of the day: its close is not final
    report = _reviews(network, spec, load, prover, bundle)
    assert report.signed == 0 and {r.check for r in report.refusals} == {"inputs"}
    assert all("too early" in r.reason for r in report.refusals)

    honest = Resolution(spec.market_id, 0, spec.outcomes.index("NO"), 1_000_000, spec.resolver,
                        inputs_hash(list(bundle.instances[0][:2])), bundle.proof_hash)
    with pytest.raises(ChainError, match="TooEarly"):
        network.settle(honest, network.signatures(honest))

    network.advance_to(spec.resolve_at_unix)
    report = _reviews(network, spec, load, prover, bundle)
    assert report.signed == 4 and report.submission.resolution == honest
    assert network.dep.resolution_of(spec.market_id).resolution == honest


def test_a_market_registered_after_its_window_opened_is_refused(network, spec, load, prover, bundle):
    """The registry accepts any registration; validators refuse a market registered once its day had
    begun (its outcome could be partly known), however valid the proof."""
    network.advance_to(int(spec.window_open.timestamp()) + 3600)
    network.register(spec)  # and on to resolve_at
    assert network.dep.registered_at(spec.market_id) > spec.window_open.timestamp()
    report = _reviews(network, spec, load, prover, bundle)
    assert report.signed == 0 and {r.check for r in report.refusals} == {"market"}
    assert all("after its observation window opened" in r.reason for r in report.refusals)
    assert not network.dep.is_resolved(spec.market_id)


def test_registration_is_read_in_one_call_even_from_a_node_that_drops_revert_data(network, spec, monkeypatch):
    """`registered_market` reads getMarket (registeredAt included); a node that returns a revert
    without its data (no decoded UnknownMarket) still reads as unregistered, never as registered."""
    network.register(spec)
    record = network.dep.registered_market(spec.market_id)
    assert record.spec_hash == spec.spec_hash and record.registered_at == network.dep.registered_at(spec.market_id)
    unknown = "0x" + "ab" * 32
    assert network.dep.registered_market(unknown) is None

    def dropped(market_id):
        raise ChainError("getMarket", "execution reverted", error=None)

    monkeypatch.setattr(network.dep, "get_market", dropped)
    assert network.dep.registered_market(unknown) is None
    with pytest.raises(ChainError):  # registered, yet the read failed: an error, not "unregistered"
        network.dep.registered_market(spec.market_id)


def _http_rows(closes: dict[str, float]) -> list[dict]:
    return [{"Date": day, "Close": close} for day, close in sorted(closes.items())]


def _week(load, name: str = "btc-bitstamp") -> dict[str, float]:
    """A real provider's closes around the market's day, 2019-03-18..2019-03-26."""
    from markets.demo import SOURCES

    f = load(SOURCES[name])
    return {d.strftime("%Y-%m-%d"): float(v) for d, v in f.loc["2019-03-18":"2019-03-26", "close"].items()}


def _http_spec(resolver: str, sources: list[dict], **observe) -> MarketSpec:
    d = spec_doc(resolver)
    d["observe"] = {**d["observe"], "sources": sources, **observe}
    return MarketSpec.parse(d)


def test_a_lying_source_is_outvoted_by_the_median_and_reported(network, load, prover, circuit):
    """A provider that reports $4,100 for the day (YES on its own) beside three honest ones: the
    median says NO, and every validator names the liar in its deviations."""
    from markets.demo import SOURCES

    lies = _week(load)
    lies[DAY] = 4100.0
    with JsonServer({"/btc": (200, _http_rows(lies))}) as liar:
        liar_source = {"kind": "http_json", "uri": liar.url + "/btc", "column": "Close"}
        spec = _http_spec(circuit.model_id, [liar_source] + [SOURCES[n] for n in
                                                             ("btc-bitstamp", "btc-coinbase", "btc-binance")])
        network.register(spec)
        bundle = prover.prove(spec, load)
        report = _reviews(network, spec, load, prover, bundle)
    assert report.signed == 4
    assert spec.outcomes[network.dep.resolution_of(spec.market_id).resolution.outcome] == "NO"
    for v in network.validators:
        (deviation,) = v.deviations
        assert deviation["market"] == spec.market_id
        assert [(d["source"], float(d["value"])) for d in deviation["sources"]] == [(liar_source["uri"], 4100.0)]
        assert float(deviation["sources"][0]["median"]) < 4000


def test_a_partial_last_bar_never_resolves(network, load, prover, circuit):
    """A source whose last row is the market's day may still be updating it: while it is the last row
    (the day over by every clock) nothing resolves, and a proof over the in-progress close is
    refused; once a later row is published, the final close decides."""
    from provers.prover import EzklProver

    prover = EzklProver(circuit, prover.signer, clock=network.validators[0].clock)  # the chain's clock
    week = _week(load)
    partial = {d: c for d, c in week.items() if d <= DAY}
    partial[DAY] = 4100.0  # mid-day: above $4,000, the final close is not
    routes = {"/btc": (200, _http_rows(partial))}
    with JsonServer(routes) as source:
        spec = _http_spec(circuit.model_id, [{"kind": "http_json", "uri": source.url + "/btc", "column": "Close"}],
                          min_sources=1)
        network.register(spec)
        with pytest.raises(EvidenceMissing, match="last bar") as e:
            prover.prove(spec, load)
        assert e.value.retry and not e.value.invalid  # not past the deadline: asked again later
        eager = prover.prove_features(spec.market_id, [410_000.0, 400_000.0], data_snapshot=keccak_hex(b"the partial row"))
        report = _reviews(network, spec, load, prover, eager)
        assert report.signed == 0 and {r.check for r in report.refusals} == {"inputs"}
        assert all("too early" in r.reason and "last bar" in r.reason for r in report.refusals)

        routes["/btc"] = (200, _http_rows(week))  # the day's final close, and the next day's row
        bundle = prover.prove(spec, load)
        assert bundle.inputs == (round(week[DAY] * 100), 400_000.0)
        report = _reviews(network, spec, load, prover, bundle)
    assert report.signed == 4
    assert spec.outcomes[network.dep.resolution_of(spec.market_id).resolution.outcome] == "NO"


def test_forecasts_never_settle_and_the_forecaster_cannot_resolve(network, load, prover, forecast_prover,
                                                                   circuit, forecaster):
    """A forecast round's proof by the forecaster is posted as a forecast and never settles the
    market; the forecaster's proof offered for the final round is refused (the resolver answers it);
    the resolver's proof over the evidence settles it."""
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))
    final = spec.rounds()[-1]
    assert final.final and final.model == spec.resolver and spec.round(0).model == spec.forecaster
    network.register(spec, advance=False)
    network.advance_to(spec.round(0).due_at)  # forecasts post while the market lives

    forecast = forecast_prover.prove(spec, load, round=0)
    report = run_round(spec, load, forecast_prover, network.validators, network.aggregator, bundle=forecast)
    assert report.signed == 4 and report.submission.settlement.on_chain
    posted = report.submission.resolution
    assert not posted.final and posted.model_id == spec.forecaster
    assert network.dep.forecast_of(spec.market_id, 0) == posted.probability_ppm
    assert not network.dep.is_resolved(spec.market_id)
    network.advance_to(spec.resolve_at_unix)
    sigs = [r.vote.signature for r in report.reviews[: network.t]]
    with pytest.raises(ChainError, match="ModelMismatch"):  # the forecast's quorum offered to resolve()
        network.settle(replace(posted, final=True), sigs)
    with pytest.raises(ChainError, match="UnknownSigner"):  # ... relabelled: they signed a Forecast
        network.settle(replace(posted, final=True, model_id=spec.resolver), sigs)

    with pytest.raises(ProvingError, match="answered by model"):
        forecast_prover.prove(spec, load, round=final.index)
    relabelled = replace(forecast, round=final.index).signed_by(forecast_prover.signer)
    report = run_round(spec, load, forecast_prover, network.validators, network.aggregator, bundle=relabelled)
    assert report.signed == 0 and {r.check for r in report.refusals} == {"model"}
    assert all(f"requires {spec.resolver}" in r.reason for r in report.refusals)
    assert not network.dep.is_resolved(spec.market_id)

    resolution = prover.prove(spec, load, round=final.index)
    report = run_round(spec, load, prover, network.validators, network.aggregator, bundle=resolution)
    r = network.dep.resolution_of(spec.market_id).resolution
    assert report.signed == 4 and r.final and r.model_id == spec.resolver and spec.outcomes[r.outcome] == "NO"
