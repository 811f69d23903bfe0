"""Model families the prover can compile. Each maps the recipe's 17 features to a logit.

- mlp:    the reference: the random walk's own logit (an odd quintic in the walk's
          z-score, which the recipe's features give exactly; with a volatility spread, the
          same quintic with fatter tails) plus a residual MLP correction
          (17 -> 16 -> 8 -> 1, 17 -> 8 -> 1 or 17 -> 4 -> 1, ReLU: the size chosen on validation),
          initialised at zero, regularised, then a monotone calibration
          map (identity, temperature or Platt) folded into the output layers (`ResidualBody`);
          model selection keeps a correction or map only with evidence (`provers.model`).
- conv1d: a 1-D convolution over the 14 daily returns, joined with the 3 scalar features.
- trees:  gradient-boosted decision stumps (fit with numpy), converted to torch as
          Linear + ReLU: each stump's step is a hard ramp 1/64 wide, so the circuit
          needs no comparison lookups.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

RAMP = 64.0


class MLPBody(nn.Module):
    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (16, 8)):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# The random walk's logit is an odd quintic in u = d / 4, fitted to logit(Phi(d)) by least squares on
# d in [-4.5, 4.5]: with the recipe's clipping (|z| <= 4, sigma sqrt(h) <= 0.4) d stays in [-4.2, 4.2],
# where it is within 0.006 of the exact logit (3.7e-4 in probability). Scaling d by 1/4 keeps the three
# coefficients small (|c| < 8), so none is lost to the circuit's fixed point.
# With a volatility spread w > 0 the walk doubts its own volatility: the true one is the trailing estimate
# times exp(w * e), e ~ N(0, 1), so P = E[Phi(d * exp(-w * e))], an odd function of d with fatter tails
# than Phi (a scale mixture). Its logit gets the same quintic (within 0.014 at w = 0.13, 0.035 at 0.4, 0.07
# at 0.5), so the circuit is the same three products with other constants. (Scaling all of d is an
# approximation: its -s/2 part would scale the other way, at most ~0.05 in d at s = 0.4, w = 0.13.)
WALK_SPAN = 4.5
WALK_U = 0.25  # u = d * WALK_U

def walk_d(x: np.ndarray) -> np.ndarray:
    """The log-normal random walk's d = (-log k - s^2/2) / s from recipe v1's features:
    z = log(k)/s is x[16] and s*10 is x[14], so d = -z - s/2 = -x[16] - x[14]/20."""
    x = np.asarray(x, dtype=float)
    return -x[..., 16] - x[..., 14] / 20.0


_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(41)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def walk_logit_exact(d: np.ndarray, spread: float = 0.0) -> np.ndarray:
    """logit(Phi(d)), computed stably; with `spread` w > 0, logit(E[Phi(d * exp(-w * e))]) over
    e ~ N(0, 1) (41-node Gauss-Hermite)."""
    d = np.asarray(d, dtype=float)
    erfc = np.vectorize(math.erfc)
    if not spread:
        return np.log(erfc(-d / math.sqrt(2))) - np.log(erfc(d / math.sqrt(2)))
    if not 0 < spread <= 1:
        raise ValueError(f"spread: must be in [0, 1], got {spread}")
    scaled = d[..., None] * np.exp(-spread * _NODES) / math.sqrt(2)
    up, down = (erfc(sign * scaled) @ _WEIGHTS for sign in (-1.0, 1.0))
    return np.log(up) - np.log(down)


class ResidualBody(nn.Module):
    """logit = walk(d) + correction(x): the random walk's logit, an odd quintic in u = d / 4
    (`walk_coefficients`: u * (c1 + u^2 * (c3 + u^2 * c5)), three multiplications in the circuit), plus
    an MLP correction that starts at zero. Platt scaling (a * logit + b) is folded into the walk's
    coefficients and the correction's output layer by `calibrate_`."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (16, 8), *, spread: float = 0.0):
        super().__init__()
        # the walk's volatility spread, for fit reports; the weights carry it in walk_coef (a body loaded
        # from saved weights computes the right logit but reads 0 here)
        self.spread = spread
        self.walk_u = nn.Linear(n_inputs, 1)
        self.walk_coef = nn.Parameter(torch.tensor(walk_coefficients(spread), dtype=torch.float32),
                                      requires_grad=False)
        self.correction = MLPBody(n_inputs, hidden)
        with torch.no_grad():
            w = torch.zeros(1, n_inputs)
            w[0, 16], w[0, 14] = -WALK_U, -WALK_U / 20.0  # u = d / 4, d = -x[16] - x[14] / 20 (walk_d)
            self.walk_u.weight.copy_(w)
            self.walk_u.bias.zero_()
            last = self.correction.net[-1]
            last.weight.zero_()
            last.bias.zero_()
        self.walk_u.requires_grad_(False)

    def walk_logit(self, x):
        return walk_quintic(self.walk_u(x), self.walk_coef)

    def forward(self, x):
        return self.walk_logit(x) + self.correction(x)

    def calibrate_(self, a: float, b: float) -> None:
        """logit -> a * logit + b, in the weights (the circuit proves the calibrated logit)."""
        with torch.no_grad():
            last = self.correction.net[-1]
            self.walk_coef.mul_(a)
            last.weight.mul_(a)
            last.bias.mul_(a).add_(b)


def walk_quintic(u, coef):
    """The walk's logit from u = d / 4 and its (c1, c3, c5): u * (c1 + u^2 * (c3 + u^2 * c5)), three
    products (numpy arrays or torch tensors alike)."""
    sq = u * u  # before the constants: the exported graph's node order (and so the model id) as before
    c1, c3, c5 = coef
    return u * (c1 + sq * (c3 + sq * c5))


def walk_coefficients(spread: float = 0.0) -> list[float]:
    """(c1, c3, c5): least squares of the walk's logit (`walk_logit_exact`, with its volatility spread) on
    u, u^3, u^5 over a dense grid of d in the span. The quintic must increase over the span (a guard: a
    forecaster whose probability falls as the threshold gets easier is refused; no spread in [0, 1] trips
    it)."""
    d = np.linspace(-WALK_SPAN, WALK_SPAN, 3601)
    u = d * WALK_U
    sol, *_ = np.linalg.lstsq(np.column_stack([u, u ** 3, u ** 5]), walk_logit_exact(d, spread), rcond=None)
    c1, c3, c5 = (float(c) for c in sol)
    if not (c1 + 3 * c3 * u ** 2 + 5 * c5 * u ** 4).min() > 0:
        raise ValueError(f"spread: the walk's quintic at spread {spread} is not increasing over the span")
    return [c1, c3, c5]


class ConvBody(nn.Module):
    def __init__(self, n_inputs: int, window: int = 14, channels: int = 4, kernel: int = 3, hidden: int = 8):
        super().__init__()
        self.window = window
        self.conv = nn.Conv1d(1, channels, kernel)
        self.fc1 = nn.Linear(channels * (window - kernel + 1) + n_inputs - window, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        seq = x[:, : self.window].unsqueeze(1)
        h = torch.relu(self.conv(seq)).flatten(1)
        z = torch.cat([h, x[:, self.window :]], dim=1)
        return self.fc2(torch.relu(self.fc1(z)))


class StumpEnsemble(nn.Module):
    """sum_t left_t + (right_t - left_t) * step(x[f_t] - thr_t), with step a hard ReLU ramp."""

    def __init__(self, n_inputs: int, features, thresholds, left, right, base: float):
        super().__init__()
        n = len(features)
        w = torch.zeros(n, n_inputs)
        w[torch.arange(n), torch.tensor(features)] = RAMP
        self.select = nn.Linear(n_inputs, n)
        self.out = nn.Linear(n, 1)
        with torch.no_grad():
            self.select.weight.copy_(w)
            self.select.bias.copy_(-RAMP * torch.tensor(thresholds, dtype=torch.float32) + 0.5)
            self.out.weight.copy_(torch.tensor(np.subtract(right, left), dtype=torch.float32).unsqueeze(0))
            self.out.bias.fill_(float(base + np.sum(left)))

    def forward(self, x):
        z = self.select(x)
        return self.out(torch.relu(z) - torch.relu(z - 1.0))


def fit_stumps(X: np.ndarray, y: np.ndarray, *, n_trees: int = 32, lr: float = 0.3, n_thresholds: int = 16):
    """Gradient boosting (logistic loss, Newton leaves) with depth-1 trees."""
    p0 = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
    base = math.log(p0 / (1 - p0))
    F = np.full(len(y), base)
    feats, thrs, lefts, rights = [], [], [], []
    qs = np.linspace(0.05, 0.95, n_thresholds)
    cand = [np.unique(np.quantile(X[:, j], qs)) for j in range(X.shape[1])]
    for _ in range(n_trees):
        p = 1 / (1 + np.exp(-F))
        g, h = y - p, np.maximum(p * (1 - p), 1e-6)
        best = None
        for j in range(X.shape[1]):
            col = X[:, j]
            for t in cand[j]:
                right = col >= t
                gl, hl, gr, hr = g[~right].sum(), h[~right].sum(), g[right].sum(), h[right].sum()
                gain = gl * gl / (hl + 1) + gr * gr / (hr + 1)
                if best is None or gain > best[0]:
                    best = (gain, j, float(t), lr * gl / (hl + 1), lr * gr / (hr + 1))
        _, j, t, vl, vr = best
        F += np.where(X[:, j] >= t, vr, vl)
        feats.append(j), thrs.append(t), lefts.append(vl), rights.append(vr)
    return feats, thrs, lefts, rights, base


FAMILIES = ("mlp", "conv1d", "trees")
