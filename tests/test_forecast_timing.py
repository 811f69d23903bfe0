"""A forecast is signed only once its round is due by the chain's clock: its as_of day is over, so
no forecast can read rows from after the chain's "now" (no look-ahead on a replay chain, none
before the data exists on a live one)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from markets.spec import MarketSpec
from oracle.errors import DataError
from oracle.pipeline import run_round

from conftest import forecast_doc

pytestmark = pytest.mark.slow


def test_a_forecast_round_is_refused_before_it_is_due_then_posted(network, circuit, forecaster, forecast_prover, load):
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))
    network.register(spec, advance=False)  # the replay chain is at 2019-03-10, round 0 is due 2019-03-18
    first = spec.round(0)
    assert network.chain.timestamp() < first.due_at
    bundle = forecast_prover.prove(spec, load, round=0)  # this prover's clock is the wall clock
    early = run_round(spec, load, forecast_prover, network.validators, network.aggregator, bundle=bundle)
    assert early.submission is None
    assert all(r.check == "inputs" and "too early: forecast round 0" in r.reason for r in early.refusals)
    network.advance_to(first.due_at)
    posted = run_round(spec, load, forecast_prover, network.validators, network.aggregator, bundle=bundle)
    assert posted.submission is not None and network.dep.forecast_of(spec.market_id, 0) is not None


def test_a_prover_on_the_chains_clock_waits_for_the_round(network, circuit, forecaster, forecast_prover, load):
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))
    clock = forecast_prover.clock
    try:
        forecast_prover.clock = lambda: datetime.fromtimestamp(spec.round(0).due_at - 1, timezone.utc)
        with pytest.raises(DataError, match="too early: forecast round 0") as e:
            forecast_prover.prove(spec, load, round=0)
        assert e.value.retry
    finally:
        forecast_prover.clock = clock
