"""Every question shape resolves from its evidence end to end on both chains: registered before its
event, too early until its bars are over by the chain's clock, then proven by the resolver, reviewed
by every validator, settled, and recorded on-chain as what the sources' median shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from markets.demo import DEMO_MARKETS, demo_spec
from markets.evidence import gather

pytestmark = pytest.mark.slow

# (question shape, the outcome the providers' median shows), checked against the data by hand:
# 2019-03-23 median close 3,994.265 < 4,000; BTC week of 2021-01-25 opened ~32.3k, closed ~33.1k;
# NDX 2021-01-29 closed 12,925.38; BTC high first reached 40k on 2021-02-06; Feb 2021 BTC +39.9 %,
# NDX -1.2 %.
EXPECTED = {"above": "NO", "up_down": "Up", "range": "12,500-13,000", "touch": "YES", "versus": "Bitcoin"}


@pytest.fixture(scope="module")
def resolvers(store):
    from oracle import config
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver
    from provers.resolvers import compile_resolver

    signer = LocalSigner.create()
    return {w: EzklProver(compile_resolver(store, config.cache_dir(), w), signer) for w in (1, 3)}


@pytest.fixture(scope="module")
def bundles(resolvers, load):
    """One proof per shape (chain-independent), made with a clock past every bar."""
    far = datetime(2030, 1, 1, tzinfo=timezone.utc)
    out = {}
    for m in DEMO_MARKETS:
        # the forecast market's resolution is the same "above" shape: here without its forecasts
        spec = demo_spec(replace(m, forecast=None), lambda w: resolvers[w].circuit.model_id, None, quorum=3)
        prover = resolvers[m.width]
        prover.clock = lambda: far
        out[spec.shape.kind] = (spec, prover.prove(spec, load, round=spec.final_round))
    return out


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_each_shape_resolves_to_what_the_sources_show(chain_network, bundles, shape, load):
    from oracle.pipeline import run_round

    net = chain_network
    spec, bundle = bundles[shape]
    net.register(spec, advance=False)
    too_early = net.validators[0].review(spec, bundle)
    assert too_early.vote is None and too_early.refusal.check == "inputs" and "too early" in too_early.refusal.reason
    # the evidence exists once its last bar is over (a touch: the first bar over the level)
    ev = gather(spec, load, datetime(2030, 1, 1, tzinfo=timezone.utc))
    last = spec.observe.bar(ev.bars[-1], "bar")
    net.advance_to(max(spec.resolve_at_unix, int(spec.observe.bar_end(last).timestamp()) + 1,
                       *([int(spec.other.bar_end(last).timestamp()) + 1] if spec.other else [])))
    report = run_round(spec, load, None, net.validators, net.aggregator, round=spec.final_round, bundle=bundle)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    stored = net.dep.resolution_of(spec.market_id).resolution
    assert spec.outcomes[stored.outcome] == EXPECTED[shape]
    # the same answer as a read of the evidence without proof or chain
    assert spec.shape.decide([ev.inputs[0] - c for c in ev.inputs[1:]]).outcome_name == EXPECTED[shape]
