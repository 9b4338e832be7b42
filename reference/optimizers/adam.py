"""Adam (Kingma & Ba, 2015, Algorithm 1), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε the hyperparameters and m₀ = v₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²                      ``second_moment`` = mix (common.py)
        = v_{t−1} + (1 − β₂)(g_t² − v_{t−1})              ``second_moment`` = delta
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          (c₁ = c₂ = 1 when ``bias_correction`` = off)
    u_t = (m_t/c₁) / (√(v_t/c₂) + ε)      ``eps_placement`` = std
        = (√c₂/c₁) · m_t / (√v_t + ε)     ``eps_placement`` = hat  (ε̂ = ε√c₂ in the std form)
        = (m_t/c₁) / √(v_t/c₂ + ε)        ``eps_placement`` = inside
    θ_t = θ − η_t u_t

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite; the delta
form of v (Keras, tf_keras) likewise once v is infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.

Precision emulations (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``; reference/algorithm.py, reference/effects.py), each a step with this signature:

* ``step_rounded_powers`` (effects ``power_beta1``, ``power_beta2``; Keras on the TensorFlow
  backend, jax.example_libraries): c₁ = 1 − fl(β₁)ᵗ, c₂ = 1 − fl(β₂)ᵗ with β rounded to the
  declared format in the powers only (the moment updates keep β); fl(β) = 1 gives c = 0, and the
  division by it is IEEE's (numeric.div: v̂ = v/0 = +∞), as the framework's;
* ``step_torch_tensor_scalars`` (effect ``scalars``; torch capturable/differentiable, where the
  step count is a float32 tensor): c₁, c₂, η/c₁, √c₂ and ε/(η/c₁) are 0-d tensors of that format,
  and the update is θ − m/(√v/D + E) with D, E from ``common.tensor_step_adam_scalars``
  (``eps_placement`` = std);
* ``step_torch_compiled_scalars`` (effect ``scalars_compiled``; a torch.compile'd step): c₁, c₂ and
  √c₂ are 0-d tensors of that format, s = η/c₁ a float64 one, and the update is
  θ − s·m/(√v/√c₂ + ε) (``common.compiled_adam_scalars``).
* ``step_running_powers`` (effects ``running_power_beta1``, ``running_power_beta2``;
  tf.compat.v1.train.AdamOptimizer): c₁ = 1 − P₁(t), c₂ = 1 − P₂(t), where P(t) is the framework's
  running product of β in the declared format: P(1) = fl(β), P(t) = fl(P(t − 1)·fl(β)) (a variable
  created at β and multiplied by β after every update), not fl(β)ᵗ rounded once.
"""
from __future__ import annotations

import operator

from ..algorithm import Variant
from ..common import compiled_adam_scalars, first_moment, second_moment, tensor_step_adam_scalars, weight_decay
from ..effects import cast
from ..numeric import div, exact_mul, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def moments(p, g, state, h, sem, ctx):
    """(θ, m_t, v_t): the weight decay and the moment updates (axes ``first_moment``,
    ``second_moment``), stored in ``state``; every variant of Adam, AdamW and AMSGrad calls it."""
    b1, b2 = h.beta1, h.beta2
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = second_moment(state["exp_avg_sq"], g, b2, sem)
    return p, m, v


def bias_corrections(beta1, beta2, t, sem):
    """(c₁, c₂) = (1 − β₁ᵗ, 1 − β₂ᵗ), or (1, 1) when ``bias_correction`` = off."""
    return (1 - beta1 ** t, 1 - beta2 ** t) if sem.bias_correction == "on" else (1, 1)


def direction(m, v, c1, c2, h, sem, over=operator.truediv):
    """u_t from the moments and the bias corrections (shared by AdamW, LAMB, AdaBelief).

    ``over`` divides by the bias corrections: the exact division by default (with β < 1 neither
    correction is ever 0, so a zero one is a bug and raises), numeric.div where a variant rounds β
    to a format in which it can be 1 (IEEE: v/0 = +∞, 0/0 = NaN, as the framework computes)."""
    eps = h.eps
    if sem.eps_placement == "std":
        return tmap(lambda mi, vi: div(over(mi, c1), sqrt(over(vi, c2)) + eps), m, v)
    if sem.eps_placement == "hat":
        scale = over(sqrt(c2), c1)
        return tmap(lambda mi, vi: scale * div(mi, sqrt(vi) + eps), m, v)
    if sem.eps_placement == "inside":
        return tmap(lambda mi, vi: div(over(mi, c1), sqrt(over(vi, c2) + eps)), m, v)
    raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")


def step(p, g, state, h, sem, ctx):
    p, m, v = moments(p, g, state, h, sem, ctx)
    c1, c2 = bias_corrections(h.beta1, h.beta2, ctx.t, sem)
    u = direction(m, v, c1, c2, h, sem)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


# --- precision emulations ----------------------------------------------------------------------


def step_rounded_powers(p, g, state, h, sem, ctx):
    """``step`` with c₁ = 1 − fl(β₁)ᵗ, c₂ = 1 − fl(β₂)ᵗ (Keras on TensorFlow, jax.example_libraries).

    fl(β) can be 1 (β₂ = 0.999 in bfloat16), so c = 0: the division by it is IEEE's (div), as in
    the framework — v̂ = v/0 = +∞ and the step m̂/(∞ + ε) = 0 (0/0 = NaN where v = 0)."""
    fx = ctx.effects
    p, m, v = moments(p, g, state, h, sem, ctx)
    c1, c2 = bias_corrections(fx.rounded("power_beta1", h.beta1), fx.rounded("power_beta2", h.beta2), ctx.t, sem)
    u = direction(m, v, c1, c2, h, sem, over=div)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


def step_torch_tensor_scalars(p, g, state, h, sem, ctx):
    """``step`` with torch's tensor-step scalars: θ − m/(√v/D + E)."""
    p, m, v = moments(p, g, state, h, sem, ctx)
    return tensor_scalar_update(p, m, v, h, sem, ctx)


def step_torch_compiled_scalars(p, g, state, h, sem, ctx):
    """``step`` with the scalars of a torch.compile'd step: θ − s·m/(√v/r + ε)."""
    p, m, v = moments(p, g, state, h, sem, ctx)
    return compiled_scalar_update(p, m, v, h, sem, ctx)


_RUNNING_POWERS: dict = {}  # (number type, fl(β), format) -> [P(1), P(2), ...]


def running_power(beta, t: int, fmt: str | None):
    """P(t), β^t as a running product held in ``fmt``: P(1) = fl(β), P(t) = fl(P(t − 1)·fl(β)),
    each product exact before its one rounding (a float32 product rounded to float32, as the
    framework's ``beta1_power * beta1``), whatever the working precision; β^t itself where no
    format is declared. The products of one β are kept, so a trajectory computes each once."""
    if fmt is None:
        return beta ** t
    b = cast(beta, fmt)
    powers = _RUNNING_POWERS.setdefault((type(b), b, fmt), [b])
    while len(powers) < t:
        powers.append(cast(exact_mul(powers[-1], b), fmt))
    return powers[t - 1]


def step_running_powers(p, g, state, h, sem, ctx):
    """``step`` with c₁ = 1 − P₁(t), c₂ = 1 − P₂(t): P the running products of β₁, β₂ in the formats
    of ``running_power_beta1``, ``running_power_beta2`` (tf.compat.v1.train.AdamOptimizer's
    non-slot variables beta1_power, beta2_power: float32, created at β and multiplied by β in
    _finish after every update). The moment updates keep β (its own declared rounding, if any)."""
    fx = ctx.effects
    p, m, v = moments(p, g, state, h, sem, ctx)
    c1, c2 = 1, 1
    if sem.bias_correction == "on":
        c1 = 1 - running_power(h.beta1, ctx.t, fx.format("running_power_beta1"))
        c2 = 1 - running_power(h.beta2, ctx.t, fx.format("running_power_beta2"))
    u = direction(m, v, c1, c2, h, sem, over=div)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


def _check_scalar_semantics(sem):
    if sem.get("eps_placement", "std") != "std" or sem.get("bias_correction", "on") != "on":
        raise ValueError("torch's tensor-step scalars model eps_placement = std with bias correction")


def tensor_scalar_update(p, m, v, h, sem, ctx):
    """θ − m/(√v/D + E), D and E torch's tensor-step scalars in the format of the effect
    ``scalars`` (``common.tensor_step_adam_scalars``; shared by AMSGrad with v̄ for v)."""
    _check_scalar_semantics(sem)
    fx = ctx.effects
    d, e = tensor_step_adam_scalars(h.lr, h.beta1, h.beta2, h.eps, ctx.t, fx.format("scalars"), fx.nudge)
    return tmap(lambda pi, mi, vi: pi - div(mi, div(sqrt(vi), d) + e), p, m, v)


def compiled_scalar_update(p, m, v, h, sem, ctx):
    """θ − s·m/(√v/r + ε), s and r the scalars of a torch.compile'd step in the format of the
    effect ``scalars_compiled`` (``common.compiled_adam_scalars``)."""
    _check_scalar_semantics(sem)
    fx = ctx.effects
    s, r = compiled_adam_scalars(h.lr, h.beta1, h.beta2, ctx.t, fx.format("scalars_compiled"), directions=fx.nudge)
    return tmap(lambda pi, mi, vi: pi - s * div(mi, sqrt(vi) / r + h.eps), p, m, v)


VARIANTS = {
    "torch_tensor_scalars": Variant(step_torch_tensor_scalars, ("scalars",), bracketed=True,
                                    doc="torch capturable/differentiable: bias corrections and step size as float32 0-d tensors"),
    "torch_compiled_scalars": Variant(step_torch_compiled_scalars, ("scalars_compiled",), bracketed=True,
                                      doc="torch.compile: bias corrections float32 0-d tensors, η/c₁ a float64 one"),
    "rounded_powers": Variant(step_rounded_powers, ("power_beta1", "power_beta2"),
                              doc="Keras on TensorFlow, jax.example_libraries: β cast to a narrower format for β₁ᵗ and β₂ᵗ"),
    "running_powers": Variant(step_running_powers, ("running_power_beta1", "running_power_beta2"),
                              doc="tf.compat.v1.train.AdamOptimizer: β₁ᵗ and β₂ᵗ running products in a narrower format"),
}
