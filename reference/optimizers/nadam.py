"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with the axes implementations differ on.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, ψ the momentum decay, m₀ = v₀ = 0 and Π₀ = 1:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    μ_t = β₁ (1 − ½ · 0.96^{tψ})                         ``nadam_momentum`` = scheduled (Dozat, torch)
    μ_t = β₁ (1 − ½ · 0.96^{t})                          ``nadam_momentum`` = unscaled (Keras 3)
    μ_t = β₁                                             ``nadam_momentum`` = constant (optax)
    Π_t = Π_{t−1} μ_t
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²                      ``second_moment`` = mix (common.py)
        = v_{t−1} + (1 − β₂)(g_t² − v_{t−1})              ``second_moment`` = delta
    m̄_t = (1 − μ_t) g_t / (1 − Π_t) + μ_{t+1} m_t / (1 − Π_t μ_{t+1})
    θ_t = θ − η_t m̄_t / (√(v_t/(1 − β₂ᵗ)) + ε)

With μ_t = β₁ the products are Π_t = β₁ᵗ and m̄_t = (1 − β₁)g_t/(1 − β₁ᵗ) + β₁m_t/(1 − β₁^{t+1}).

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite; the delta
form of v (Keras, tf_keras) likewise once v is infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t, ``mu_product`` = Π_t (a scalar; it is the same for
every tensor).

Precision emulations (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``, which give the format fl of each quantity), each a step with this signature:

* ``step_torch_mu_product`` (``mu_product``, ``mu_product@checkpoint``): torch holds Π_t in a 0-d
  tensor of its default dtype and multiplies it in place by the Python float μ_t:
  Π_t = fl(Π_{t−1}·fl(μ_t)); loading a checkpoint casts it to the parameters' dtype;
* ``step_torch_tensor_scalars`` (``scalars``, with the above; torch capturable/differentiable):
  the two coefficients are 0-d tensors of Π's format (of ``scalars``' where Π is exact):
  Π_{t+1}' = fl(Π_t·fl(μ_{t+1})), c_g = fl(fl(1/fl(1 − Π_t))·fl(η_t(1 − μ_t))),
  c_m = fl(fl(1/fl(1 − Π_{t+1}'))·fl(η_t μ_{t+1})), and θ_t = θ − (c_g g_t + c_m m_t)/(√(v_t/c₂) + ε);
* ``step_float32_casts`` (Keras on the TensorFlow backend, which casts Python floats through
  float32): ``decay_base`` 0.96 rounded everywhere; ``mix_momentum`` β₁ and 0.96 rounded in the
  μ_t, μ_{t+1} of the Nesterov mix only (Π_t multiplies the exact μ_t); ``moments`` β₁, β₂ rounded
  in the moment updates only; ``power_beta2`` β₂ rounded in β₂ᵗ only. Keras casts the same
  quantities to bfloat16 for bfloat16 variables on every backend, where β₂ > 1 − 2⁻⁹ rounds to 1:
  1 − β₂ = 0 in the second moment, so v_t = 0, and c₂ = 1 − 1ᵗ = 0, so v_t/c₂ = 0/0 = NaN (IEEE
  division) and θ is NaN from the first step.
"""
from __future__ import annotations

import operator

from ..algorithm import Variant
from ..common import first_moment, second_moment, tensor_scalar_quotient, weight_decay
from ..numeric import div, mpf, num, operand, round_to, sqrt
from ..tensor import tmap, zeros_like

DECAY_BASE = mpf("0.96")


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p), "mu_product": num(1)}


def momentum(t, beta1, base, h, sem):
    """μ_t of the momentum schedule (axis ``nadam_momentum``), from β₁ and the base 0.96."""
    if sem.nadam_momentum == "scheduled":
        return beta1 * (1 - base ** (t * h.momentum_decay) / 2)
    if sem.nadam_momentum == "unscaled":
        return beta1 * (1 - base ** t / 2)
    if sem.nadam_momentum == "constant":
        return +beta1
    raise ValueError(f"unknown nadam_momentum {sem.nadam_momentum!r}")


def moments(g, state, beta1, beta2, sem):
    """(m_t, v_t) (axes ``first_moment``, ``second_moment``), stored in ``state``; every variant
    calls it."""
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, beta1, sem)
    v = state["exp_avg_sq"] = second_moment(state["exp_avg_sq"], g, beta2, sem)
    return m, v


def update(p, g, m, v, cg, cm, c2, eps, over=operator.truediv):
    """θ_t = θ − (c_g g_t + c_m m_t)/(√(v_t/c₂) + ε); ``over`` divides by c₂: exactly (c₂ = 0 is a
    bug and raises), or IEEE's div where a variant rounds β₂ to a format in which it is 1."""
    return tmap(lambda pi, gi, mi, vi: pi - div(cg * gi + cm * mi, sqrt(over(vi, c2)) + eps), p, g, m, v)


def step(p, g, state, h, sem, ctx):
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    p, g = weight_decay(p, g, h, sem, ctx)
    mu, mu_next = momentum(t, b1, operand(DECAY_BASE), h, sem), momentum(t + 1, b1, operand(DECAY_BASE), h, sem)
    prod = state["mu_product"] = state["mu_product"] * mu
    prod_next = prod * mu_next
    m, v = moments(g, state, b1, b2, sem)
    c2 = 1 - b2 ** t
    cg, cm = h.lr * (1 - mu) / (1 - prod), h.lr * mu_next / (1 - prod_next)
    return update(p, g, m, v, cg, cm, c2, eps)


# --- precision emulations ----------------------------------------------------------------------


def _fl(x, dtype):
    return round_to(x, dtype) if dtype else x


def step_torch_mu_product(p, g, state, h, sem, ctx):
    """``step`` with Π_t = fl(Π_{t−1}·fl(μ_t)) in the format of ``mu_product``."""
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    held = ctx.effects.format("mu_product")
    p, g = weight_decay(p, g, h, sem, ctx)
    mu, mu_next = momentum(t, b1, operand(DECAY_BASE), h, sem), momentum(t + 1, b1, operand(DECAY_BASE), h, sem)
    prod = state["mu_product"] = _fl(state["mu_product"] * _fl(mu, held), held)
    prod_next = prod * mu_next
    m, v = moments(g, state, b1, b2, sem)
    c2 = 1 - b2 ** t
    cg, cm = h.lr * (1 - mu) / (1 - prod), h.lr * mu_next / (1 - prod_next)
    return update(p, g, m, v, cg, cm, c2, eps)


def step_torch_tensor_scalars(p, g, state, h, sem, ctx):
    """``step_torch_mu_product`` with the coefficients as 0-d tensors of Π's format."""
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    held = ctx.effects.format("mu_product")
    fmt = held or ctx.effects.format("scalars")
    p, g = weight_decay(p, g, h, sem, ctx)
    mu, mu_next = momentum(t, b1, operand(DECAY_BASE), h, sem), momentum(t + 1, b1, operand(DECAY_BASE), h, sem)
    prod = state["mu_product"] = _fl(state["mu_product"] * _fl(mu, held), held)
    prod_next = round_to(prod * round_to(mu_next, fmt), fmt)
    m, v = moments(g, state, b1, b2, sem)
    c2 = 1 - b2 ** t
    cg = tensor_scalar_quotient(h.lr * (1 - mu), round_to(1 - prod, fmt), fmt)
    cm = tensor_scalar_quotient(h.lr * mu_next, round_to(1 - prod_next, fmt), fmt)
    return update(p, g, m, v, cg, cm, c2, eps)


def step_float32_casts(p, g, state, h, sem, ctx):
    """``step`` with 0.96, the β of the Nesterov mix, of the moments and of β₂ᵗ each rounded to
    the format its effect declares (``decay_base``, ``mix_momentum``, ``moments``, ``power_beta2``).

    The first three are rounded in the step's own arithmetic (``_fl``: an emulation of that
    arithmetic at a narrower width, spec/tolerance.md, rounds them like its other operations),
    β₂ of the power exactly (``ctx.effects.rounded``), as the reference always has; the one-step
    spreads of the Keras vectors depend on that choice."""
    fx = ctx.effects
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    p, g = weight_decay(p, g, h, sem, ctx)
    base = _fl(operand(DECAY_BASE), fx.format("decay_base"))
    mix = fx.format("mix_momentum")
    mix_b1, mix_base = _fl(b1, mix), _fl(base, mix)
    prod = state["mu_product"] = state["mu_product"] * momentum(t, b1, base, h, sem)
    mu, mu_next = momentum(t, mix_b1, mix_base, h, sem), momentum(t + 1, mix_b1, mix_base, h, sem)
    prod_next = prod * mu_next
    held = fx.format("moments")
    m, v = moments(g, state, _fl(b1, held), _fl(b2, held), sem)
    c2 = 1 - fx.rounded("power_beta2", b2) ** t
    cg, cm = h.lr * (1 - mu) / (1 - prod), h.lr * mu_next / (1 - prod_next)
    return update(p, g, m, v, cg, cm, c2, eps, over=div)


VARIANTS = {
    "torch_mu_product": Variant(step_torch_mu_product, ("mu_product",),
                                doc="torch: Π_t a 0-d tensor of the default dtype (float32)"),
    "torch_tensor_scalars": Variant(step_torch_tensor_scalars, ("mu_product", "scalars"),
                                    doc="torch capturable/differentiable: the Nesterov coefficients as 0-d tensors"),
    "float32_casts": Variant(step_float32_casts, ("decay_base", "mix_momentum", "moments", "power_beta2"),
                             doc="Keras on TensorFlow: Python floats cast through float32"),
}
