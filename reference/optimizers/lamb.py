"""LAMB (You et al., ICLR 2020, Algorithm 2), with the axes on which implementations differ.

For each tensor θ (one "layer"), with g_t the gradient, η_t the learning rate of this step,
β₁, β₂, ε, λ the hyperparameters and m₀ = v₀ = 0:

    θ ← θ(1 − η_t λ)                      only when ``trust_weight_decay`` = decoupled_lr (Keras)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t       ``first_moment`` = mix; lerp: m + (1 − β₁)(g − m) (Keras)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    r_t = (m_t/c₁) / (√(v_t/c₂) + ε)      Adam's direction: axes ``eps_placement``, ``bias_correction``
    u_t = r_t + λθ                        ``trust_weight_decay`` = in_update (the paper, optax)
    u_t = r_t                             ``trust_weight_decay`` = decoupled_lr
    φ_t = ‖θ‖ / ‖u_t‖                     per tensor, Euclidean norms, φ(z) = z in the paper
    φ_t = 1 when ‖θ‖ = 0 or ‖u_t‖ = 0     ``trust_ratio_guard`` = eq_zero: a NaN norm gives φ = NaN
    φ_t = ‖θ‖/‖u_t‖ only when both > 0, else 1
                                          ``trust_ratio_guard`` = positive: a NaN norm gives φ = 1
    θ_t = θ − η_t φ_t u_t

With λ = 0 the step has norm exactly η_t‖θ‖, and the first-moment bias correction 1/c₁ (a
scalar factor of u) cancels in φ_t u_t.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations

import mpmath

from ..common import first_moment
from ..numeric import div, mul
from ..tensor import norm, tmap, zeros_like
from .adam import direction


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def trust_ratio(p, u, sem):
    p_norm, u_norm = norm(p), norm(u)
    if sem.trust_ratio_guard == "eq_zero":
        return 1 if (p_norm == 0 or u_norm == 0) else div(p_norm, u_norm)
    if sem.trust_ratio_guard == "positive":
        ok = not (mpmath.isnan(p_norm) or mpmath.isnan(u_norm)) and p_norm > 0 and u_norm > 0
        return div(p_norm, u_norm) if ok else 1
    raise ValueError(f"unknown trust_ratio_guard {sem.trust_ratio_guard!r}")


def step(p, g, state, h, sem, ctx):
    b1, b2, lam = h.beta1, h.beta2, h.weight_decay
    if sem.trust_weight_decay == "decoupled_lr" and lam != 0:
        p = tmap(lambda pi: pi * (1 - ctx.lr * lam), p)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    r = direction(m, v, ctx.t, h, sem)
    if sem.trust_weight_decay == "in_update":
        u = tmap(lambda ri, pi: ri + lam * pi, r, p)
    elif sem.trust_weight_decay == "decoupled_lr":
        u = r
    else:
        raise ValueError(f"unknown trust_weight_decay {sem.trust_weight_decay!r}")
    phi = trust_ratio(p, u, sem)
    return tmap(lambda pi, ui: pi - mul(h.lr * phi, ui), p, u)
