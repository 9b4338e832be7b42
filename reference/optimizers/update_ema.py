"""An exponential moving average of the updates around SGD: optax.ema(decay, debias) chained with
optax.scale_by_learning_rate — Adam's bias-corrected first moment m̂_t without the second moment
(Kingma & Ba, 2015, Algorithm 1 and §3) — and torch.optim.SGD(momentum=d, dampening=d).

For each tensor, with g_t the gradient, η_t the learning rate of this step, d the decay and m₀ = 0:

    m_t = g_t                              t = 1 and ``first_momentum`` = grad (torch: the buffer
                                           is created as a copy of the gradient, undampened)
    m_t = d m_{t−1} + (1 − d) g_t          otherwise (``first_momentum`` = dampened: from m₀ = 0,
                                           so m₁ = (1 − d) g₁; optax, the spec)
    m̂_t = m_t / (1 − dᵗ)                  ``bias_correction`` = on (optax debias=True; Adam's m̂_t)
    m̂_t = m_t                              ``bias_correction`` = off (optax debias=False, torch)
    θ_t = θ − η_t m̂_t

Unrolled, the zero-started average is m_t = (1 − d) Σ_{s=1}^{t} d^{t−s} g_s, whose weights sum to
1 − dᵗ: the debiased m̂_t is a weighted mean of g_1 … g_t (a constant gradient gives m̂_t = g
exactly). The copy form is m_t + dᵗ g₁: the same weights plus the missing mass dᵗ on g₁ (a constant
gradient gives g too). The two agree at t = 1 (both g₁) and differ from t = 2 on.

State: ``exp_avg`` = m_t, the average before debiasing (optax's EmaState.ema, torch's
momentum_buffer).
"""
from __future__ import annotations

from ..tensor import tmap, zeros_like


def init(p, h, sem):
    # torch creates its buffer on the first step (a copy of the gradient); optax starts from zeros
    return {} if sem.first_momentum == "grad" else {"exp_avg": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    d = h.decay
    if "exp_avg" not in state:
        if sem.first_momentum != "grad":
            raise ValueError(f"unknown first_momentum {sem.first_momentum!r}")
        m = g.copy()
    else:
        m = tmap(lambda mi, gi: d * mi + (1 - d) * gi, state["exp_avg"], g)
    state["exp_avg"] = m
    if sem.bias_correction == "on":
        c = 1 - d ** ctx.t
        u = tmap(lambda mi: mi / c, m)
    elif sem.bias_correction == "off":
        u = m
    else:
        raise ValueError(f"unknown bias_correction {sem.bias_correction!r}")
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
