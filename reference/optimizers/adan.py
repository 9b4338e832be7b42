"""Adan (Xie et al., arXiv:2208.06677, Algorithm 1), in the decay convention of the authors' code.

For each tensor θ, with g_t the gradient, η_t the learning rate of this step, β₁, β₂, β₃ the
decays (0.98, 0.92, 0.99: the paper's β's are one minus these), ε, ε_r (``eps_root``), λ the
weight decay, m₀ = v₀ = n₀ = 0 and the gradient difference Δ₁ = 0:

    Δ_t = g_t − g_{t−1}                  (Δ₁ = 0)
    c   = β₂                             ``adan_diff_coef`` = beta2 (the paper's 1 − β₂ in its convention)
        = 1 − β₂                         ``adan_diff_coef`` = one_minus_beta2 (optax)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t
    v_t = β₂ v_{t−1} + (1 − β₂) Δ_t
    n_t = β₃ n_{t−1} + (1 − β₃)(g_t + c Δ_t)²
    m̂, v̂, n̂ = m_t/(1 − β₁ᵗ), v_t/(1 − β₂ᵗ), n_t/(1 − β₃ᵗ)      (raw when ``bias_correction`` = off)
    u_t = (m̂ + c v̂) / (√(n̂ + ε_r) + ε)
    θ_t = (θ − η_t u_t) / (1 + η_t λ)     ``adan_weight_decay`` = prox (the paper)
    θ_t = θ(1 − η_t λ) − η_t u_t          ``adan_weight_decay`` = decoupled_lr (optax)

State: ``exp_avg`` = m_t, ``exp_avg_diff`` = v_t, ``exp_avg_sq`` = n_t, ``prev_grad`` = g_t.
"""
from __future__ import annotations

from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_diff": zeros_like(p), "exp_avg_sq": zeros_like(p),
            "prev_grad": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    b1, b2, b3, t = h.beta1, h.beta2, h.beta3, ctx.t
    if sem.adan_diff_coef == "beta2":
        c = b2
    elif sem.adan_diff_coef == "one_minus_beta2":
        c = 1 - b2
    else:
        raise ValueError(f"unknown adan_diff_coef {sem.adan_diff_coef!r}")
    diff = zeros_like(g) if t == 1 else tmap(lambda gi, qi: gi - qi, g, state["prev_grad"])
    m = state["exp_avg"] = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, state["exp_avg"], g)
    v = state["exp_avg_diff"] = tmap(lambda vi, di: b2 * vi + (1 - b2) * di, state["exp_avg_diff"], diff)
    n = state["exp_avg_sq"] = tmap(lambda ni, gi, di: b3 * ni + (1 - b3) * (gi + c * di) ** 2,
                                   state["exp_avg_sq"], g, diff)
    state["prev_grad"] = g.copy()
    c1, c2, c3 = (1 - b1 ** t, 1 - b2 ** t, 1 - b3 ** t) if sem.bias_correction == "on" else (1, 1, 1)
    u = tmap(lambda mi, vi, ni: div(mi / c1 + c * vi / c2, sqrt(ni / c3 + h.eps_root) + h.eps), m, v, n)
    lr, lam = h.lr, h.weight_decay
    if lam == 0:
        return tmap(lambda pi, ui: pi - lr * ui, p, u)
    if sem.adan_weight_decay == "prox":
        return tmap(lambda pi, ui: (pi - lr * ui) / (1 + lr * lam), p, u)
    if sem.adan_weight_decay == "decoupled_lr":
        return tmap(lambda pi, ui: pi * (1 - lr * lam) - lr * ui, p, u)
    raise ValueError(f"unknown adan_weight_decay {sem.adan_weight_decay!r}")
