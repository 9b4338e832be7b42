"""RAdam (Liu et al., ICLR 2020, Algorithm 2), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε the hyperparameters, m₀ = v₀ = 0 and ρ_∞ = 2/(1 − β₂) − 1:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = m_{t−1} + w (g_t − m_{t−1})  if w < ½,  g_t − (g_t − m_{t−1})(1 − w)  otherwise,
          w = 1 − β₁                                     ``first_moment`` = lerp (torch.lerp)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ,  m̂_t = m_t / c₁
    ρ_t = ρ_∞ − 2 t β₂ᵗ / c₂
    tractable = ρ_t > 4                 ``rectify_threshold`` = rho_gt_4 (the paper)
              = ρ_t ≥ 5                 ``rectify_threshold`` = rho_ge_5 (ρ_t > 5 is the same test)
    if tractable:
        r_t = √[(ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t)]
        u_t = r_t · (√c₂/c₁) · m_t / (√v_t + ε)          ``eps_placement`` = hat
            = r_t · m̂_t / (√(v_t/c₂) + ε)                ``eps_placement`` = std
        θ_t = θ − η_t u_t
    else:
        θ_t = θ − η_t m̂_t                   ``below_threshold`` = sgd_momentum
        θ_t = θ  (no step, no decoupled decay)  ``below_threshold`` = skip

The two ``first_moment`` forms are equal in exact arithmetic; they differ only once m is
infinite (lerp gives ∞ − ∞ = NaN where the mix gives ±∞).
ρ_t = 4 or ρ_t = 5 exactly has no solution for a binary floating-point β₂ (see the spec page),
so "> 5" (torch) and "≥ 5" (optax, the authors' code) are one value of the axis.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations

from ..common import first_moment, weight_decay
from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like

THRESHOLDS = {"rho_gt_4": lambda rho: rho > 4, "rho_ge_5": lambda rho: rho >= 5}


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def rho(t, beta2):
    """ρ_∞ and ρ_t, the length of the approximated simple moving average."""
    rho_inf = 2 / (1 - beta2) - 1
    b2t = beta2 ** t
    return rho_inf, rho_inf - 2 * t * b2t / (1 - b2t)


def rectification(rho_t, rho_inf):
    """r_t: the variance rectification term."""
    return sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def step(p, g, state, h, sem, ctx):
    b1, b2, t = h.beta1, h.beta2, ctx.t
    rho_inf, rho_t = rho(t, b2)
    tractable = THRESHOLDS[sem.rectify_threshold](rho_t)
    p_in = p
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    if tractable:
        r = rectification(rho_t, rho_inf)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        if sem.eps_placement == "hat":
            scale = sqrt(c2) / c1
            u = tmap(lambda mi, vi: r * scale * div(mi, sqrt(vi) + h.eps), m, v)
        elif sem.eps_placement == "std":
            u = tmap(lambda mi, vi: r * div(mi / c1, sqrt(vi / c2) + h.eps), m, v)
        else:
            raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")
        return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
    if sem.below_threshold == "skip":
        return p_in
    if sem.below_threshold != "sgd_momentum":
        raise ValueError(f"unknown below_threshold {sem.below_threshold!r}")
    c1 = 1 - b1 ** t
    return tmap(lambda pi, mi: pi - h.lr * (mi / c1), p, m)
