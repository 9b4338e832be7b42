"""RMSprop (Tieleman & Hinton 2012, lecture 6e; centered form and momentum: Graves 2013, §4.2).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, ρ the decay, ε, momentum μ, v₀ = ``initial_square_avg`` (0 in the lecture; 1 in
TF1's RMSPropOptimizer, whose mean square starts at ones) and ḡ₀ = b₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    v_t = ρ v_{t−1} + (1 − ρ) g_t²
    s_t = v_t                                             (plain)
    ḡ_t = ρ ḡ_{t−1} + (1 − ρ) g_t,  s_t = v_t − ḡ_t²        (``centered``)
    d_t = g_t / (√s_t + ε)                                ``eps_root`` = outside
        = g_t / √(s_t + ε)                                ``eps_root`` = inside
    μ = 0:  θ_t = θ − η_t d_t
    μ > 0:  b_t = μ b_{t−1} + d_t,      θ_t = θ − η_t b_t   ``lr_placement`` = outside
            b_t = μ b_{t−1} + η_t d_t,  θ_t = θ − b_t       ``lr_placement`` = inside

State: ``square_avg`` = v_t, ``grad_avg`` = ḡ_t (centered), ``momentum_buffer`` = b_t (μ > 0).
"""
from __future__ import annotations

from ..common import root_scaled, weight_decay
from ..tensor import full_like, tmap, zeros_like


def init(p, h, sem):
    state = {"square_avg": full_like(p, h.initial_square_avg)}
    if h.centered:
        state["grad_avg"] = zeros_like(p)
    if h.momentum != 0:
        state["momentum_buffer"] = zeros_like(p)
    return state


def direction(g, s, eps, sem):
    """d_t = g / RMS: the ``eps_root`` axis (common.root_scaled)."""
    return root_scaled(g, s, eps, sem.eps_root)


def step(p, g, state, h, sem, ctx):
    rho, mu = h.rho, h.momentum
    p, g = weight_decay(p, g, h, sem, ctx)
    v = state["square_avg"] = tmap(lambda vi, gi: rho * vi + (1 - rho) * gi * gi, state["square_avg"], g)
    if h.centered:
        gbar = state["grad_avg"] = tmap(lambda ai, gi: rho * ai + (1 - rho) * gi, state["grad_avg"], g)
        s = tmap(lambda vi, ai: vi - ai * ai, v, gbar)
    else:
        s = v
    d = direction(g, s, h.eps, sem)
    if mu == 0:
        return tmap(lambda pi, di: pi - h.lr * di, p, d)
    if sem.lr_placement == "outside":
        b = state["momentum_buffer"] = tmap(lambda bi, di: mu * bi + di, state["momentum_buffer"], d)
        return tmap(lambda pi, bi: pi - h.lr * bi, p, b)
    if sem.lr_placement == "inside":
        b = state["momentum_buffer"] = tmap(lambda bi, di: mu * bi + h.lr * di, state["momentum_buffer"], d)
        return tmap(lambda pi, bi: pi - bi, p, b)
    raise ValueError(f"unknown lr_placement {sem.lr_placement!r}")
