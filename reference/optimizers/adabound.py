"""AdaBound (Luo, Xiong, Liu & Sun, ICLR 2019, Algorithm 2), with the axes on which the paper
and the authors' code differ.

For each tensor, with g_t the gradient, α the learning rate (η_t = α·s_t with the schedule
multiplier s_t), β₁, β₂, ε, the final learning rate α* (``final_lr``), the convergence speed γ
(``gamma``) and m₀ = v₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                   axis ``weight_decay`` (l2 in the authors' code)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    a_t = η_t / (√v_t + ε)                            ``bias_correction`` = off (the paper)
        = η_t √(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√v_t + ε)       ``bias_correction`` = on  (the authors' code)
    η_l(t) = α* s_t (1 − 1/(γt + 1)),   η_u(t) = α* s_t (1 + 1/(γt))
    η̂_t = clip(a_t, η_l(t), η_u(t))                   element-wise
    θ_t = θ − (η̂_t/√t) m_t                           ``adabound_sqrt_t`` = on  (the paper)
    θ_t = θ − η̂_t m_t                                ``adabound_sqrt_t`` = off (the authors' code)

The bounds follow the schedule through s_t as in the authors' code (final_lr · lr / base_lr);
without a schedule s_t = 1. With the paper's β₂-based bounds, γ = 1 − β₂.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations


from ..common import weight_decay
from ..numeric import div, fmax, fmin, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    b1, b2, t = h.beta1, h.beta2, ctx.t
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, state["exp_avg"], g)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    if sem.bias_correction == "on":
        size = h.lr * sqrt(1 - b2 ** t) / (1 - b1 ** t)
    elif sem.bias_correction == "off":
        size = h.lr
    else:
        raise ValueError(f"unknown bias_correction {sem.bias_correction!r}")
    final = h.final_lr * ctx.lr_factor
    lower = final * (1 - 1 / (h.gamma * t + 1))
    upper = final * (1 + div(1, h.gamma * t))
    if sem.adabound_sqrt_t == "on":
        decay = 1 / sqrt(t)
    elif sem.adabound_sqrt_t == "off":
        decay = 1
    else:
        raise ValueError(f"unknown adabound_sqrt_t {sem.adabound_sqrt_t!r}")
    rate = tmap(lambda vi: fmin(fmax(div(size, sqrt(vi) + h.eps), lower), upper), v)
    return tmap(lambda pi, ri, mi: pi - decay * ri * mi, p, rate, m)
