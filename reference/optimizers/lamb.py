"""LAMB (You et al., ICLR 2020, Algorithm 2), with the axes on which implementations differ.

For each tensor θ (one "layer"), with g_t the gradient, η_t the learning rate of this step,
β₁, β₂, ε, λ the hyperparameters and m₀ = v₀ = 0:

    θ ← θ(1 − η_t λ)                      only when ``trust_weight_decay`` = decoupled_lr (Keras)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t       ``first_moment`` = mix; lerp: m + (1 − β₁)(g − m) (Keras)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²       ``second_moment`` = mix; delta: v + (1 − β₂)(g² − v) (Keras)
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

Precision emulation (``VARIANTS``, selected through ``ctx.effects``): ``step_rounded_powers``
(effects ``power_beta1``, ``power_beta2``; Keras: float32 on the TensorFlow backend, bfloat16), c₁ = 1 − fl(β₁)ᵗ and
c₂ = 1 − fl(β₂)ᵗ with β rounded to the declared format in the powers only; in bfloat16 (every
backend) fl(β₂) = 1 for β₂ > 1 − 2⁻⁹, c₂ = 0, and the step is zero (IEEE division).
"""
from __future__ import annotations

import operator


from ..common import first_moment, second_moment
from ..numeric import div, isnan, mul
from ..tensor import norm, tmap, zeros_like
from ..algorithm import Variant
from .adam import bias_corrections, direction


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def trust_ratio(p, u, sem):
    p_norm, u_norm = norm(p), norm(u)
    if sem.trust_ratio_guard == "eq_zero":
        return 1 if (p_norm == 0 or u_norm == 0) else div(p_norm, u_norm)
    if sem.trust_ratio_guard == "positive":
        ok = not (isnan(p_norm) or isnan(u_norm)) and p_norm > 0 and u_norm > 0
        return div(p_norm, u_norm) if ok else 1
    raise ValueError(f"unknown trust_ratio_guard {sem.trust_ratio_guard!r}")


def step(p, g, state, h, sem, ctx):
    c1, c2 = bias_corrections(h.beta1, h.beta2, ctx.t, sem)
    return update(p, g, state, c1, c2, h, sem, ctx)


def update(p, g, state, c1, c2, h, sem, ctx, over=operator.truediv):
    """The step's equations with the bias corrections c₁, c₂ given (``over`` divides by them:
    adam.direction)."""
    b1, b2, lam = h.beta1, h.beta2, h.weight_decay
    if sem.trust_weight_decay == "decoupled_lr" and lam != 0:
        p = tmap(lambda pi: pi * (1 - ctx.lr * lam), p)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = second_moment(state["exp_avg_sq"], g, b2, sem)
    r = direction(m, v, c1, c2, h, sem, over)
    if sem.trust_weight_decay == "in_update":
        u = tmap(lambda ri, pi: ri + lam * pi, r, p)
    elif sem.trust_weight_decay == "decoupled_lr":
        u = r
    else:
        raise ValueError(f"unknown trust_weight_decay {sem.trust_weight_decay!r}")
    phi = trust_ratio(p, u, sem)
    return tmap(lambda pi, ui: pi - mul(h.lr * phi, ui), p, u)


# --- precision emulation ------------------------------------------------------------------------


def step_rounded_powers(p, g, state, h, sem, ctx):
    """``step`` with c₁ = 1 − fl(β₁)ᵗ, c₂ = 1 − fl(β₂)ᵗ (Keras, which casts β to the variable's
    dtype for the powers: float32 on the TensorFlow backend, bfloat16 on every backend).

    fl(β₂) can be 1 (β₂ = 0.999 in bfloat16), so c₂ = 0: the division by it is IEEE's (div), as in
    the framework: v/0 = +∞, so r = 0, ‖u‖ = 0, φ = 1 and θ does not move."""
    fx = ctx.effects
    c1, c2 = bias_corrections(fx.rounded("power_beta1", h.beta1), fx.rounded("power_beta2", h.beta2), ctx.t, sem)
    return update(p, g, state, c1, c2, h, sem, ctx, over=div)


VARIANTS = {
    "rounded_powers": Variant(step_rounded_powers, ("power_beta1", "power_beta2"),
                              doc="Keras on TensorFlow: β cast through float32 for β₁ᵗ and β₂ᵗ"),
}
