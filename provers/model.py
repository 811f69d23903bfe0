"""The reference forecaster: a small MLP trained on real BTC closes.

Question it answers: P(close[t + h] > k * close[t]) from the trailing window
at t, for horizons of 1 to 14 days (the horizon enters through the volatility
and distance-to-threshold features). Trained on rows up to `train_end` only;
markets ask about later dates.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from markets.features import RECIPES, TrailingReturns
from oracle.canonical import canonical_json, keccak_hex

TRAINING_VERSION = 3


class Forecaster(nn.Module):
    """A family's body (features -> logit) with a sigmoid head (-> probability)."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (16, 8), *, family: str = "mlp",
                 body: nn.Module | None = None):
        super().__init__()
        from .families import ConvBody, MLPBody

        if body is None:
            body = MLPBody(n_inputs, hidden) if family == "mlp" else ConvBody(n_inputs)
        self.body = body
        self.head = nn.Sigmoid()

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class TrainingConfig:
    recipe: str = TrailingReturns.name
    horizons: tuple[int, ...] = (1, 2, 3, 5, 7, 10, 14)
    thresholds: tuple[float, ...] = (0.85, 0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1, 1.15, 1.25)
    train_end: str = "2020-12-31"
    hidden: tuple[int, ...] = (16, 8)
    epochs: int = 400
    lr: float = 0.01
    weight_decay: float = 1e-3  # chosen on 2020 validation (trained to 2019): Brier 0.1388 vs 0.1440 at 1e-4
    seed: int = 7
    family: str = "mlp"


def examples(frame: pd.DataFrame, cfg: TrainingConfig, *, start: str | None = None,
             end: str | None = None, column: str = "Close",
             horizons: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """(X, y, [(date, h, k)]) for every date whose window and horizon are inside the data."""
    recipe = RECIPES[cfg.recipe]
    closes = frame[column].to_numpy(dtype=float)
    dates = frame.index
    n = recipe.rows_needed
    lo = pd.Timestamp(start) if start else None
    hi = pd.Timestamp(end) if end else None
    xs, ys, keys = [], [], []
    for h in horizons or cfg.horizons:
        for i in range(n - 1, len(closes) - h):
            d = dates[i]
            if (lo is not None and d < lo) or (hi is not None and d > hi):
                continue
            window = [float(c) for c in closes[i - n + 1 : i + 1]]
            future = closes[i + h]
            for k in cfg.thresholds:
                xs.append(recipe.vector(window, h, k))
                ys.append(1.0 if future > k * closes[i] else 0.0)
                keys.append((d, h, k))
    return np.asarray(xs, dtype=np.float32), np.asarray(ys, dtype=np.float32), keys


def train(frame: pd.DataFrame, cfg: TrainingConfig) -> Forecaster:
    torch.manual_seed(cfg.seed)
    X, y, _ = examples(frame, cfg, end=cfg.train_end)
    if cfg.family == "trees":
        from .families import StumpEnsemble, fit_stumps

        return Forecaster(X.shape[1], body=StumpEnsemble(X.shape[1], *fit_stumps(X, y))).eval()
    model = Forecaster(X.shape[1], cfg.hidden, family=cfg.family)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    model.train()
    for _ in range(cfg.epochs):
        opt.zero_grad()
        loss = loss_fn(model.logit(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    return model


def load_or_train(frame: pd.DataFrame, data_bytes: bytes, cfg: TrainingConfig, cache: Path) -> Forecaster:
    """Train once per (data, config); later calls load the cached weights."""
    key = keccak_hex(data_bytes + canonical_json({"cfg": asdict(cfg), "v": TRAINING_VERSION}))[2:18]
    path = cache / "models" / f"forecaster-{cfg.family}-{key}.pt"
    n_inputs = RECIPES[cfg.recipe].n_features
    if path.exists():
        state = torch.load(path, weights_only=True)
        if cfg.family == "trees":
            from .families import StumpEnsemble

            k = state["body.select.weight"].shape[0]
            body = StumpEnsemble(n_inputs, [0] * k, [0.0] * k, [0.0] * k, [0.0] * k, 0.0)
            model = Forecaster(n_inputs, body=body)
        else:
            model = Forecaster(n_inputs, cfg.hidden, family=cfg.family)
        model.load_state_dict(state)
        model.eval()
        return model
    model = train(frame, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    (path.with_suffix(".json")).write_text(json.dumps(asdict(cfg), indent=2))
    return model
