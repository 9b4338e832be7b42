"""Adadelta (Zeiler 2012, Algorithm 1), with a learning rate η (1 in the paper).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, ρ the decay, ε, E[g²]₀ = E[Δθ²]₀ = 0 and RMS[y]_t = √(E[y²]_t + ε):

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    E[g²]_t  = ρ E[g²]_{t−1} + (1 − ρ) g_t²
    Δ_t      = (RMS[Δθ]_{t−1} / RMS[g]_t) · g_t
    E[Δθ²]_t = ρ E[Δθ²]_{t−1} + (1 − ρ) Δ_t²               (Δ_t before η: the unscaled update)
    θ_t      = θ − η_t Δ_t

State: ``square_avg`` = E[g²]_t, ``acc_delta`` = E[Δθ²]_t.
"""
from __future__ import annotations

from ..common import weight_decay
from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"square_avg": zeros_like(p), "acc_delta": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    rho, eps = h.rho, h.eps
    p, g = weight_decay(p, g, h, sem, ctx)
    eg = state["square_avg"] = tmap(lambda ei, gi: rho * ei + (1 - rho) * gi * gi, state["square_avg"], g)
    delta = tmap(lambda xi, ei, gi: div(sqrt(xi + eps), sqrt(ei + eps)) * gi, state["acc_delta"], eg, g)
    state["acc_delta"] = tmap(lambda xi, di: rho * xi + (1 - rho) * di * di, state["acc_delta"], delta)
    return tmap(lambda pi, di: pi - h.lr * di, p, delta)
