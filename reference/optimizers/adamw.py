"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019, Algorithm 2).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, s_t = η_t/η the schedule multiplier (1 without a schedule), λ the weight decay and
m₀ = v₀ = 0:

    θ ← θ (1 − s_t λ)          ``weight_decay`` = decoupled_schedule (the paper: η_t λ θ with
                                η_t its schedule multiplier, not the learning rate α)
    θ ← θ (1 − η_t λ)          ``weight_decay`` = decoupled_lr (torch, optax, Keras: λ times lr)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    u_t = adam.direction(m_t, v_t)          axes ``eps_placement``, ``bias_correction`` (adam.py)
    θ_t = θ − η_t u_t

The decay multiplies θ_{t−1} and the Adam direction does not depend on θ, so decaying first or
adding λθ_{t−1} to the update (the paper, optax) is the same equation.

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations

from ..common import first_moment, weight_decay
from ..tensor import tmap, zeros_like
from .adam import direction


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    b1, b2 = h.beta1, h.beta2
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    u = direction(m, v, ctx.t, h, sem)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
