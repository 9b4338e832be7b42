"""Adagrad (Duchi, Hazan & Singer 2011, diagonal form), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, the learning-rate decay κ (``lr_decay``), ε, momentum μ, s₀ =
``initial_accumulator_value`` and m₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    s_t = s_{t−1} + g_t²
    η̃_t = η_t / (1 + (t − 1) κ)
    d_t = g_t / (√s_t + ε)                                ``eps_root`` = outside
        = g_t / √(s_t + ε)                                ``eps_root`` = inside
        = g_t · r_t,  r_t = 1/√s_t if s_t > 0 else 0      ``eps_root`` = none (no ε;
                                                          jax.example_libraries: where(s > 0, 1/√s, 0))
    μ = 0:  θ_t = θ − η̃_t d_t
    μ > 0:  m_t = (1 − μ) d_t + μ m_{t−1},  θ_t = θ − η̃_t m_t   (jax.example_libraries' momentum)

Under ``none`` a zero accumulator gives a zero step (0·g) where the other placements give
g/(0 + 0) = NaN for ε = 0; a NaN accumulator gives r = 0 (NaN > 0 is false).

State: ``sum`` = s_t, ``momentum_buffer`` = m_t (only when μ ≠ 0).
"""
from __future__ import annotations

from ..common import root_scaled, weight_decay
from ..tensor import full_like, tmap, zeros_like


def init(p, h, sem):
    state = {"sum": full_like(p, h.initial_accumulator_value)}
    if h.momentum != 0:
        state["momentum_buffer"] = zeros_like(p)
    return state


def direction(g, s, eps, sem):
    """d_t from g_t and s_t: the ``eps_root`` axis (common.root_scaled)."""
    return root_scaled(g, s, eps, sem.eps_root)


def step(p, g, state, h, sem, ctx):
    p, g = weight_decay(p, g, h, sem, ctx)
    s = state["sum"] = tmap(lambda si, gi: si + gi * gi, state["sum"], g)
    lr = h.lr / (1 + (ctx.t - 1) * h.lr_decay)
    d = direction(g, s, h.eps, sem)
    if h.momentum != 0:
        mu = h.momentum
        d = state["momentum_buffer"] = tmap(lambda mi, di: (1 - mu) * di + mu * mi, state["momentum_buffer"], d)
    return tmap(lambda pi, di: pi - lr * di, p, d)
