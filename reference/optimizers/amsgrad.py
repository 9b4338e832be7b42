"""AMSGrad (Reddi, Kale & Kumar, 2018, Algorithm 2), with the axes practical versions differ on.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step and m₀ = v₀ = v̄₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²                      ``second_moment`` = mix (common.py)
        = v_{t−1} + (1 − β₂)(g_t² − v_{t−1})              ``second_moment`` = delta
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
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite; the delta
form of v (Keras, tf_keras) likewise once v is infinite, and the NaN-propagating maximum v̄ follows
it. The moments are Adam's (adam.moments), shared by every variant.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t, ``max_exp_avg_sq`` = v̄_t (the maximum of the raw
v_t under raw_v, of the bias-corrected v_t/c₂ under v_hat).

Precision emulations (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``), each a step with this signature:

* ``step_rounded_powers`` (``power_beta1``, ``power_beta2``; Keras on the TensorFlow backend):
  c₁ = 1 − fl(β₁)ᵗ, c₂ = 1 − fl(β₂)ᵗ;
* ``step_torch_tensor_scalars`` (``scalars``; torch capturable/differentiable): raw_v with Adam's
  tensor-step scalars, θ − m/(√v̄/D + E) (adam.py); the other forms are not torch's and keep the
  exact update;
* ``step_torch_fused_cpu`` (``max_tail``; torch's fused CPU kernel): the maximum ignores a NaN v_t
  in the elements of the scalar tail (``fused_cpu_maximum``).
"""
from __future__ import annotations

from ..algorithm import Variant
from ..numeric import div, fmax, sqrt
from ..tensor import Tensor, tmap, zeros_like
from .adam import moments, tensor_scalar_update


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p), "max_exp_avg_sq": zeros_like(p)}


def maximum(vmax: Tensor, v: Tensor) -> Tensor:
    """v̄ = max(v̄, v) elementwise, NaN-propagating."""
    return tmap(fmax, vmax, v)


def step(p, g, state, h, sem, ctx):
    p, m, v = moments(p, g, state, h, sem, ctx)
    return update(p, m, v, 1 - h.beta1 ** ctx.t, 1 - h.beta2 ** ctx.t, maximum, state, h, sem)


def update(p, m, v, c1, c2, running_max, state, h, sem):
    """θ_t from the moments, given the bias corrections and the running maximum (axis
    ``amsgrad_form``); stores v̄_t in ``state``."""
    eps, form = h.eps, sem.amsgrad_form
    if form == "v_hat":
        vmax = state["max_exp_avg_sq"] = tmap(lambda a, vi: fmax(a, vi / c2), state["max_exp_avg_sq"], v)
        u = tmap(lambda mi, vi: div(mi / c1, sqrt(vi) + eps), m, vmax)
    else:
        vmax = state["max_exp_avg_sq"] = running_max(state["max_exp_avg_sq"], v)
        if form == "paper":
            u = tmap(lambda mi, vi: div(mi, sqrt(vi) + eps), m, vmax)
        elif form == "raw_v":
            u = tmap(lambda mi, vi: div(mi / c1, sqrt(vi / c2) + eps), m, vmax)
        elif form == "raw_v_hat":
            scale = sqrt(c2) / c1
            u = tmap(lambda mi, vi: scale * div(mi, sqrt(vi) + eps), m, vmax)
        else:
            raise ValueError(f"unknown amsgrad_form {form!r}")
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


# --- precision emulations ----------------------------------------------------------------------

VECTOR_BYTES = 32  # the width of the CPU kernels' vectors (AVX2, 256 bits)
ELEMENT_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}


def std_max(a, b):
    """C++ ``std::max(a, b)``: ``a < b ? b : a``, so a NaN ``b`` is ignored and a NaN ``a`` kept."""
    return b if a < b else a


def fused_cpu_maximum(vmax: Tensor, v: Tensor, dtype: str) -> Tensor:
    """v̄ = max(v̄, v) as torch's fused CPU kernel takes it for parameters of ``dtype``: the
    NaN-propagating vector maximum over whole vectors of ``VECTOR_BYTES``, and ``std_max``, which
    ignores a NaN v, over the elements after the last whole vector (the scalar tail of the
    flattened tensor)."""
    lanes = VECTOR_BYTES // ELEMENT_BYTES[dtype]
    body = len(v.data) - len(v.data) % lanes
    return Tensor(v.shape, [fmax(a, b) if i < body else std_max(a, b)
                            for i, (a, b) in enumerate(zip(vmax.data, v.data))])


def step_rounded_powers(p, g, state, h, sem, ctx):
    """``step`` with c₁ = 1 − fl(β₁)ᵗ, c₂ = 1 − fl(β₂)ᵗ (Keras, TensorFlow backend)."""
    fx = ctx.effects
    p, m, v = moments(p, g, state, h, sem, ctx)
    c1 = 1 - fx.rounded("power_beta1", h.beta1) ** ctx.t
    c2 = 1 - fx.rounded("power_beta2", h.beta2) ** ctx.t
    return update(p, m, v, c1, c2, maximum, state, h, sem)


def step_torch_fused_cpu(p, g, state, h, sem, ctx):
    """``step`` with the fused CPU kernel's maximum (``fused_cpu_maximum`` in the format of ``max_tail``)."""
    dtype = ctx.effects.format("max_tail")
    p, m, v = moments(p, g, state, h, sem, ctx)
    return update(p, m, v, 1 - h.beta1 ** ctx.t, 1 - h.beta2 ** ctx.t,
                  lambda vmax, vt: fused_cpu_maximum(vmax, vt, dtype), state, h, sem)


def step_torch_tensor_scalars(p, g, state, h, sem, ctx):
    """``step`` with torch's tensor-step scalars for raw_v: θ − m/(√v̄/D + E) (adam.py)."""
    if sem.amsgrad_form != "raw_v":
        return step(p, g, state, h, sem, ctx)
    p, m, v = moments(p, g, state, h, sem, ctx)
    vmax = state["max_exp_avg_sq"] = maximum(state["max_exp_avg_sq"], v)
    return tensor_scalar_update(p, m, vmax, h, sem, ctx)


VARIANTS = {
    "torch_tensor_scalars": Variant(step_torch_tensor_scalars, ("scalars",), bracketed=True,
                                    doc="torch capturable/differentiable: bias corrections and step size as float32 0-d tensors"),
    "torch_fused_cpu": Variant(step_torch_fused_cpu, ("max_tail",),
                               doc="torch fused, CPU: std::max over the scalar tail ignores a NaN v"),
    "rounded_powers": Variant(step_rounded_powers, ("power_beta1", "power_beta2"),
                              doc="Keras on TensorFlow: β cast through float32 for β₁ᵗ and β₂ᵗ"),
}
