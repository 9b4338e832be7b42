"""Adam (Kingma & Ba, 2015, Algorithm 1), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε the hyperparameters and m₀ = v₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          (c₁ = c₂ = 1 when ``bias_correction`` = off)
    u_t = (m_t/c₁) / (√(v_t/c₂) + ε)      ``eps_placement`` = std
        = (√c₂/c₁) · m_t / (√v_t + ε)     ``eps_placement`` = hat  (ε̂ = ε√c₂ in the std form)
        = (m_t/c₁) / √(v_t/c₂ + ε)        ``eps_placement`` = inside
    θ_t = θ − η_t u_t

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.

Declared precision effect ``scalars`` (torch capturable/differentiable, where the step count is a
float32 tensor): c₁, c₂, η/c₁, √c₂ and ε/(η/c₁) are float32 0-d tensors, and the update is
θ − m/(√v/D + E) with D, E from ``common.tensor_step_adam_scalars`` (``eps_placement`` = std).
Declared precision effect ``scalars_compiled`` (a torch.compile'd step): c₁, c₂ and √c₂ are float32
0-d tensors, s = η/c₁ a float64 one, and the update is θ − s·m/(√v/√c₂ + ε)
(``common.compiled_adam_scalars``).
"""
from __future__ import annotations

from ..common import compiled_adam_scalars, first_moment, tensor_step_adam_scalars, weight_decay
from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def direction(m, v, t, h, sem):
    """u_t from the moments (shared by AdamW)."""
    eps = h.eps
    # a declared precision effect may round β only inside the powers (Keras, TensorFlow backend)
    b1, b2 = h.get("power_beta1", h.beta1), h.get("power_beta2", h.beta2)
    c1, c2 = (1 - b1 ** t, 1 - b2 ** t) if sem.bias_correction == "on" else (1, 1)
    if sem.eps_placement == "std":
        return tmap(lambda mi, vi: div(mi / c1, sqrt(vi / c2) + eps), m, v)
    if sem.eps_placement == "hat":
        scale = sqrt(c2) / c1
        return tmap(lambda mi, vi: scale * div(mi, sqrt(vi) + eps), m, v)
    if sem.eps_placement == "inside":
        return tmap(lambda mi, vi: div(mi / c1, sqrt(vi / c2 + eps)), m, v)
    raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")


def step(p, g, state, h, sem, ctx):
    b1, b2 = h.beta1, h.beta2
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    if h.get("scalars") or h.get("scalars_compiled"):
        return tensor_scalar_update(p, m, v, ctx.t, h, sem)
    u = direction(m, v, ctx.t, h, sem)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


def tensor_scalar_update(p, m, v, t, h, sem):
    """θ − m/(√v/D + E) with torch's tensor-step scalars (declared precision effect ``scalars``), or
    θ − s·m/(√v/r + ε) with those of a torch.compile'd step (``scalars_compiled``)."""
    if sem.get("eps_placement", "std") != "std" or sem.get("bias_correction", "on") != "on":
        raise ValueError("the scalars precision effect models eps_placement = std with bias correction")
    directions = h.get("scalars_nudge") or (0, 0)
    if h.get("scalars_compiled"):
        s, r = compiled_adam_scalars(h.lr, h.beta1, h.beta2, t, h.scalars_compiled, directions=directions)
        return tmap(lambda pi, mi, vi: pi - s * div(mi, sqrt(vi) / r + h.eps), p, m, v)
    d, e = tensor_step_adam_scalars(h.lr, h.beta1, h.beta2, h.eps, t, h.scalars, directions)
    return tmap(lambda pi, mi, vi: pi - div(mi, div(sqrt(vi), d) + e), p, m, v)
