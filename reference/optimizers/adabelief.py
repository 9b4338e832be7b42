"""AdaBelief (Zhuang et al., 2020, Algorithm 2), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε, ε_s (``eps_root``) the hyperparameters and m₀ = s₀ = 0:

    m_t = β₁ m_{t−1} + (1 − β₁) g_t
    s_t = β₂ s_{t−1} + (1 − β₂)(g_t − m_t)² + ε_s    ``belief_eps`` = state (stored: ε_s accumulates)
    s_t = β₂ s_{t−1} + (1 − β₂)(g_t − m_t)²          ``belief_eps`` = use   (s_t + ε_s is used, not stored)
                                                      ``belief_eps`` = none  (no ε_s at all)
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ                       (1 when ``bias_correction`` = off)
    u_t = (m_t/c₁) / (√(s_t/c₂) + ε)                 ``eps_placement`` = std (hat, inside: as Adam)
    θ_t = θ − η_t u_t

Note the belief residual uses the *new* first moment m_t.  Because ε_s is stored in s_t, after
bias correction it contributes ε_s·(1 − β₂ᵗ)/((1 − β₂)(1 − β₂ᵗ)) = ε_s/(1 − β₂) to ŝ_t in the
long run: 1000 ε_s with β₂ = 0.999.

State: ``exp_avg`` = m_t, ``exp_avg_var`` = s_t.
"""
from __future__ import annotations

from ..tensor import tmap, zeros_like
from .adam import bias_corrections, direction


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_var": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    b1, b2, eps_s = h.beta1, h.beta2, h.eps_root
    m = state["exp_avg"] = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, state["exp_avg"], g)
    s = tmap(lambda si, gi, mi: b2 * si + (1 - b2) * (gi - mi) * (gi - mi), state["exp_avg_var"], g, m)
    if sem.belief_eps == "state":
        s = tmap(lambda si: si + eps_s, s)
        used = s
    elif sem.belief_eps == "use":
        used = tmap(lambda si: si + eps_s, s)
    elif sem.belief_eps == "none":
        used = s
    else:
        raise ValueError(f"unknown belief_eps {sem.belief_eps!r}")
    state["exp_avg_var"] = s
    c1, c2 = bias_corrections(b1, b2, ctx.t, sem)
    u = direction(m, used, c1, c2, h, sem)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
