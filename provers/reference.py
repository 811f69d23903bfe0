"""Reference models on the bundled BTC data: trained and compiled on demand, cached."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from markets.features import CLIP, RECIPES, HourlyVolatility
from markets.feeds import bundled_path, load_source
from oracle.store import ArtifactStore

from .circuit import Calibration, CompiledModel, compile_model
from .model import ReferenceConfig, TrainingConfig, examples, load_or_train

BTC_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}
# A second forecaster of the same design, trained on the NASDAQ-100 (Stooq, 2005..2020 outcomes):
# the benchmark's index model and its cross-asset check (index model on BTC).
NDX_SOURCE = {"kind": "csv", "uri": "bundled:nasdaq100_daily_stooq.csv", "column": "Close"}
NDX_FROM = "2005-01-01"
NDX_NAME = "ndx-threshold-mlp"
REFERENCE_NAME = "btc-threshold-mlp"
# The same design on recipe `trailing_returns_hourly_vol_v1`: daily closes from BTC_SOURCE, the volatility
# from Bitstamp's hourly bars (a second provider). Its recipe is kept only through `recipe_gate` (the
# evidence rule on 2019-20 validation); the selection record says whether it was.
HOURLY_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_hourly_bitstamp.csv", "column": "close", "interval": "1h"}
HOURLY_NAME = "btc-threshold-mlp-hourly-vol"
CALIBRATION_ROWS = 256


def model_name(family: str, input_visibility: str = "public", param_visibility: str = "fixed") -> str:
    base = REFERENCE_NAME if family == "mlp" else f"btc-threshold-{family}"
    suffix = ("-hashed-inputs" if input_visibility == "hashed" else "") + \
             ("-hashed-params" if param_visibility == "hashed" else "")
    return base + suffix


def config_for(family: str) -> TrainingConfig | ReferenceConfig:
    """The reference (`mlp`): a calibrated residual on the random walk (`ReferenceConfig`). The other
    families keep the plain training."""
    if family == "mlp":
        return ReferenceConfig()
    # the conv net costs ~7x the MLP per epoch on 2 cores; 120 epochs reach its plateau
    return replace(TrainingConfig(), family=family, epochs=120 if family == "conv1d" else TrainingConfig.epochs)


def trained(family: str = "mlp", cache: Path | None = None):
    from oracle import config

    cfg = config_for(family)
    frame = load_source(BTC_SOURCE)
    return load_or_train(frame, bundled_path("btc_usd_daily.csv").read_bytes(), cfg, cache or config.cache_dir())


def hourly_config() -> ReferenceConfig:
    return replace(ReferenceConfig(), recipe=HourlyVolatility.name)


def _hourly_inputs():
    """(daily frame, hourly frame, the bytes a cached model is keyed on)."""
    data = bundled_path("btc_usd_daily.csv").read_bytes() + bundled_path("btc_usd_hourly_bitstamp.csv").read_bytes()
    return load_source(BTC_SOURCE), load_source(HOURLY_SOURCE), data


def hourly_model(cache: Path | None = None, log=lambda m: None):
    """The reference design on the hourly-volatility recipe, trained and selected as the reference is."""
    from oracle import config

    frame, hourly, data = _hourly_inputs()
    return load_or_train(frame, data, hourly_config(), cache or config.cache_dir(), log=log, hourly=hourly)


def hourly_fit(cache: Path | None = None) -> dict:
    """The hourly model's selection record (its `recipe_gate` included)."""
    from oracle import config

    from .model import fit_report

    return fit_report(hourly_config(), _hourly_inputs()[2], cache or config.cache_dir())


def hourly_circuit(store: ArtifactStore, cache: Path, *, batches: Sequence[int] = (1,), log=lambda m: None
                   ) -> CompiledModel:
    cfg = hourly_config()
    frame, hourly, data = _hourly_inputs()
    model = load_or_train(frame, data, cfg, cache, log=log, hourly=hourly)
    calibration = Calibration.thinned(
        lambda: examples(frame, cfg, end=cfg.train_end, hourly=hourly)[0], CALIBRATION_ROWS,
        code=(examples, RECIPES[cfg.recipe]), inputs=data + repr(cfg).encode())
    return compile_model(model.body, name=HOURLY_NAME, family="mlp", n_inputs=RECIPES[cfg.recipe].n_features,
                         recipe=cfg.recipe, calibration=calibration, input_bound=CLIP, cache=cache, store=store,
                         batches=batches, output_transform="sigmoid", log=log)


def index_model(cache: Path | None = None):
    """The same design (ReferenceConfig) trained on the NASDAQ-100 from NDX_FROM, outcomes before 2021."""
    from oracle import config

    frame = load_source(NDX_SOURCE).loc[NDX_FROM:]
    data = bundled_path("nasdaq100_daily_stooq.csv").read_bytes() + NDX_FROM.encode()
    return load_or_train(frame, data, ReferenceConfig(), cache or config.cache_dir())


def index_circuit(store: ArtifactStore, cache: Path, log=lambda m: None) -> CompiledModel:
    cfg = ReferenceConfig()
    frame = load_source(NDX_SOURCE).loc[NDX_FROM:]
    model = index_model(cache)
    calibration = Calibration.thinned(  # built only when the circuit is compiled
        lambda: examples(frame, cfg, end=cfg.train_end)[0], CALIBRATION_ROWS, code=(examples, RECIPES[cfg.recipe]),
        inputs=bundled_path("nasdaq100_daily_stooq.csv").read_bytes() + NDX_FROM.encode() + repr(cfg).encode())
    return compile_model(model.body, name=NDX_NAME, family="mlp", n_inputs=RECIPES[cfg.recipe].n_features,
                         recipe=cfg.recipe, calibration=calibration, input_bound=CLIP, cache=cache, store=store,
                         output_transform="sigmoid", log=log)


def reference_circuit(store: ArtifactStore, cache: Path, *, family: str = "mlp", batches: Sequence[int] = (1,),
                      input_visibility: str = "public", param_visibility: str = "fixed",
                      log=lambda m: None) -> CompiledModel:
    cfg = config_for(family)
    frame = load_source(BTC_SOURCE)
    model = load_or_train(frame, bundled_path("btc_usd_daily.csv").read_bytes(), cfg, cache, log=log)
    # range calibration: real feature vectors before the test period, thinned evenly over the history;
    # built only when the circuit is compiled (a cached circuit loads without them)
    calibration = Calibration.thinned(
        lambda: examples(frame, cfg, end=cfg.train_end)[0], CALIBRATION_ROWS, code=(examples, RECIPES[cfg.recipe]),
        inputs=bundled_path("btc_usd_daily.csv").read_bytes() + repr(cfg).encode())
    # The circuit proves the logit; the sigmoid is applied exactly by whoever reads
    # the proof (oracle.models.output_probability). A sigmoid lookup table spanning
    # every logit the input box allows would need 2^19 rows instead of 2^15.
    return compile_model(
        model.body, name=model_name(family, input_visibility, param_visibility), family=family,
        n_inputs=RECIPES[cfg.recipe].n_features, recipe=cfg.recipe, calibration=calibration, input_bound=CLIP,
        cache=cache, store=store, batches=batches, input_visibility=input_visibility,
        param_visibility=param_visibility, output_transform="sigmoid", log=log,
    )
