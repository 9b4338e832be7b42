"""Adagrad (Duchi, Hazan & Singer 2011, diagonal form), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, the learning-rate decay κ (``lr_decay``), ε, and s₀ = ``initial_accumulator_value``:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    s_t = s_{t−1} + g_t²
    η̃_t = η_t / (1 + (t − 1) κ)
    d_t = g_t / (√s_t + ε)                                ``eps_root`` = outside
        = g_t / √(s_t + ε)                                ``eps_root`` = inside
    θ_t = θ − η̃_t d_t

State: ``sum`` = s_t.
"""
from __future__ import annotations

from ..common import weight_decay
from ..numeric import div, sqrt
from ..tensor import full_like, tmap


def init(p, h, sem):
    return {"sum": full_like(p, h.initial_accumulator_value)}


def step(p, g, state, h, sem, ctx):
    p, g = weight_decay(p, g, h, sem, ctx)
    s = state["sum"] = tmap(lambda si, gi: si + gi * gi, state["sum"], g)
    lr = h.lr / (1 + (ctx.t - 1) * h.lr_decay)
    if sem.eps_root == "outside":
        d = tmap(lambda gi, si: div(gi, sqrt(si) + h.eps), g, s)
    elif sem.eps_root == "inside":
        d = tmap(lambda gi, si: div(gi, sqrt(si + h.eps)), g, s)
    else:
        raise ValueError(f"unknown eps_root {sem.eps_root!r}")
    return tmap(lambda pi, di: pi - lr * di, p, d)
