"""AMSGrad (Reddi, Kale & Kumar, 2018, Algorithm 2), with the axes practical versions differ on.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step and m₀ = v₀ = v̄₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ
    axis ``amsgrad_form``:
      paper:      v̄_t = max(v̄_{t−1}, v_t),       u_t = m_t / (√v̄_t + ε)
      raw_v:      v̄_t = max(v̄_{t−1}, v_t),       u_t = (m_t/c₁) / (√(v̄_t/c₂) + ε)      (torch)
      raw_v_hat:  v̄_t = max(v̄_{t−1}, v_t),       u_t = (√c₂/c₁) · m_t / (√v̄_t + ε)    (Keras)
      v_hat:      v̄_t = max(v̄_{t−1}, v_t/c₂),    u_t = (m_t/c₁) / (√v̄_t + ε)          (optax)
    θ_t = θ − η_t u_t

In the terms of the shared axes: ``paper`` is bias_correction = off (where the other two choices
vanish); ``raw_v`` is amsgrad_max = raw_v with eps_placement = std; ``raw_v_hat`` the same with
eps_placement = hat; ``v_hat`` is amsgrad_max = v_hat with std.  They are one axis here because
without bias correction the other two choices are the same equations.

The paper's Algorithm 2 is x_{t+1} = x_t − α_t m_t/√v̂_t with v̂_t = max(v̂_{t−1}, v_t): no bias
correction and no ε (ε = 0; a non-zero ε is added to √v̂ as in Adam), the projection Π onto the
feasible set omitted (unconstrained).
Its analysis uses α_t = α/√t and β₁ₜ ≤ β₁; here α_t is the (possibly scheduled) learning rate and
β₁ is constant, as in practice and in every implementation.

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t, ``max_exp_avg_sq`` = v̄_t (the maximum of the raw
v_t under raw_v, of the bias-corrected v_t/c₂ under v_hat).

Declared precision effect ``scalars`` (torch capturable/differentiable): raw_v with Adam's
tensor-step scalars, θ − m/(√v̄/D + E) (adam.py). Declared effect ``max_tail`` (torch fused, CPU):
the maximum ignores a NaN v_t in the elements of the scalar tail (``running_max``).
"""
from __future__ import annotations

from ..common import first_moment, weight_decay
from ..numeric import div, fmax, sqrt
from ..tensor import Tensor, tmap, zeros_like
from .adam import tensor_scalar_update


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p), "max_exp_avg_sq": zeros_like(p)}


VECTOR_BYTES = 32  # the width of the CPU kernels' vectors (AVX2, 256 bits)
ELEMENT_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}


def std_max(a, b):
    """C++ ``std::max(a, b)``: ``a < b ? b : a``, so a NaN ``b`` is ignored and a NaN ``a`` kept."""
    return b if a < b else a


def running_max(vmax: Tensor, v: Tensor, tail_dtype: str | None) -> Tensor:
    """v̄ = max(v̄, v) elementwise, NaN-propagating; under the declared precision effect
    ``max_tail`` (torch's fused CPU kernel, parameters of dtype ``tail_dtype``), the elements after
    the last whole vector of ``VECTOR_BYTES`` (the scalar tail of the flattened tensor) take
    ``std_max`` instead, which ignores a NaN v."""
    if not tail_dtype:
        return tmap(fmax, vmax, v)
    lanes = VECTOR_BYTES // ELEMENT_BYTES[tail_dtype]
    body = len(v.data) - len(v.data) % lanes
    return Tensor(v.shape, [fmax(a, b) if i < body else std_max(a, b)
                            for i, (a, b) in enumerate(zip(vmax.data, v.data))])


def step(p, g, state, h, sem, ctx):
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    form = sem.amsgrad_form
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    c1, c2 = 1 - h.get("power_beta1", b1) ** t, 1 - h.get("power_beta2", b2) ** t
    if form == "v_hat":
        vmax = state["max_exp_avg_sq"] = tmap(lambda a, vi: fmax(a, vi / c2), state["max_exp_avg_sq"], v)
        u = tmap(lambda mi, vi: div(mi / c1, sqrt(vi) + eps), m, vmax)
    else:
        vmax = state["max_exp_avg_sq"] = running_max(state["max_exp_avg_sq"], v, h.get("max_tail"))
        if form == "paper":
            u = tmap(lambda mi, vi: div(mi, sqrt(vi) + eps), m, vmax)
        elif form == "raw_v" and h.get("scalars"):  # torch capturable/differentiable (adam.py)
            return tensor_scalar_update(p, m, vmax, t, h, sem)
        elif form == "raw_v":
            u = tmap(lambda mi, vi: div(mi / c1, sqrt(vi / c2) + eps), m, vmax)
        elif form == "raw_v_hat":
            scale = sqrt(c2) / c1
            u = tmap(lambda mi, vi: scale * div(mi, sqrt(vi) + eps), m, vmax)
        else:
            raise ValueError(f"unknown amsgrad_form {form!r}")
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
