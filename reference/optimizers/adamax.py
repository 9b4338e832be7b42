"""Adamax (Kingma & Ba, 2015, §7.1, Algorithm 2): Adam with the infinity norm.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step and m₀ = u₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    u_t = max(β₂ u_{t−1}, |g_t|)                          ``adamax_eps`` = outside_max
    u_t = max(β₂ u_{t−1}, |g_t| + ε)                      ``adamax_eps`` = inside_max
    θ_t = θ − (η_t/(1 − β₁ᵗ)) · m_t/(u_t + ε)             ``adamax_eps`` = outside_max
    θ_t = θ − (η_t/(1 − β₁ᵗ)) · m_t/u_t                   ``adamax_eps`` = inside_max

The paper has no ε (ε = 0 makes the two placements the same equations); u_t needs no bias
correction (the paper, end of §7.1). max propagates NaN.

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite.

State: ``exp_avg`` = m_t, ``exp_inf`` = u_t.

Precision emulation (``VARIANTS``, selected through ``ctx.effects``): ``step_rounded_powers``
(effect ``power_beta1``; Keras on the TensorFlow backend), c₁ = 1 − fl(β₁)ᵗ with β₁ rounded to the
declared format in the power only.
"""
from __future__ import annotations

from ..algorithm import Variant
from ..common import first_moment, weight_decay
from ..numeric import div, fmax
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    return update(p, g, state, 1 - h.beta1 ** ctx.t, h, sem, ctx)


def update(p, g, state, c1, h, sem, ctx):
    """The step's equations with the bias correction c₁ given."""
    b1, b2, eps = h.beta1, h.beta2, h.eps
    inside = sem.adamax_eps == "inside_max"
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    u = state["exp_inf"] = tmap(lambda ui, gi: fmax(b2 * ui, abs(gi) + (eps if inside else 0)),
                                state["exp_inf"], g)
    lr = h.lr / c1
    if inside:
        return tmap(lambda pi, mi, ui: pi - lr * div(mi, ui), p, m, u)
    return tmap(lambda pi, mi, ui: pi - lr * div(mi, ui + eps), p, m, u)


# --- precision emulation ------------------------------------------------------------------------


def step_rounded_powers(p, g, state, h, sem, ctx):
    """``step`` with c₁ = 1 − fl(β₁)ᵗ (Keras, TensorFlow backend)."""
    return update(p, g, state, 1 - ctx.effects.rounded("power_beta1", h.beta1) ** ctx.t, h, sem, ctx)


VARIANTS = {
    "rounded_powers": Variant(step_rounded_powers, ("power_beta1",),
                              doc="Keras on TensorFlow: β₁ cast through float32 for β₁ᵗ"),
}
