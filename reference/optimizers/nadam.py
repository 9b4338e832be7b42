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
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    m̄_t = (1 − μ_t) g_t / (1 − Π_t) + μ_{t+1} m_t / (1 − Π_t μ_{t+1})
    θ_t = θ − η_t m̄_t / (√(v_t/(1 − β₂ᵗ)) + ε)

With μ_t = β₁ the products are Π_t = β₁ᵗ and m̄_t = (1 − β₁)g_t/(1 − β₁ᵗ) + β₁m_t/(1 − β₁^{t+1}).

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t, ``mu_product`` = Π_t (a scalar; it is the same for
every tensor).  A declared precision effect ``mu_product`` rounds Π_t to a format after every
multiplication, by μ_t rounded to that format (torch holds Π_t in a 0-d tensor of its default dtype
and multiplies it in place by the Python float μ_t).  A declared precision effect ``scalars``
(torch capturable/differentiable) computes the two coefficients as 0-d tensors of that format
(of mu_product's format where one is declared: after a checkpoint, the parameters' dtype):
Π_{t+1}' = fl(Π_t·fl(μ_{t+1})), c_g = fl(fl(1/fl(1 − Π_t))·fl(η_t(1 − μ_t))) and
c_m = fl(fl(1/fl(1 − Π_{t+1}'))·fl(η_t μ_{t+1})), and θ_t = θ − (c_g g_t + c_m m_t)/(√(v_t/c₂) + ε).
"""
from __future__ import annotations

from ..common import first_moment, tensor_scalar_quotient, weight_decay
from ..numeric import div, mpf, round_to, sqrt
from ..tensor import tmap, zeros_like

DECAY_BASE = mpf("0.96")


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p), "mu_product": mpf(1)}


def momentum(t, beta1, base, h, sem):
    """μ_t of the momentum schedule (axis ``nadam_momentum``), from β₁ and the base 0.96."""
    if sem.nadam_momentum == "scheduled":
        return beta1 * (1 - base ** (t * h.momentum_decay) / 2)
    if sem.nadam_momentum == "unscaled":
        return beta1 * (1 - base ** t / 2)
    if sem.nadam_momentum == "constant":
        return +beta1
    raise ValueError(f"unknown nadam_momentum {sem.nadam_momentum!r}")


def _fl(x, dtype):
    return round_to(x, dtype) if dtype else x


def step(p, g, state, h, sem, ctx):
    b1, b2, eps, t = h.beta1, h.beta2, h.eps, ctx.t
    p, g = weight_decay(p, g, h, sem, ctx)
    # Declared precision effects (dtype names; absent in the exact reference):
    #   decay_base: 0.96 rounded everywhere; mix_momentum: β₁ and 0.96 rounded in the μ_t, μ_{t+1}
    #   of the Nesterov mix only; moments: β₁, β₂ rounded in the moment updates only;
    #   mu_product: Π_t held in that format, multiplied by fl(μ_t).
    base = _fl(DECAY_BASE, h.get("decay_base"))
    mix = h.get("mix_momentum")
    mu_prod = momentum(t, b1, base, h, sem)
    mu = momentum(t, _fl(b1, mix), _fl(base, mix), h, sem)
    mu_next = momentum(t + 1, _fl(b1, mix), _fl(base, mix), h, sem)
    held = h.get("mu_product")
    prod = _fl(state["mu_product"] * _fl(mu_prod, held), held)
    state["mu_product"] = prod
    prod_next = prod * mu_next
    a1, a2 = _fl(b1, h.get("moments")), _fl(b2, h.get("moments"))
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, a1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: a2 * vi + (1 - a2) * gi * gi, state["exp_avg_sq"], g)
    c2 = 1 - h.get("power_beta2", b2) ** t
    scalars = h.get("scalars") and (held or h.scalars)
    if scalars:  # torch capturable/differentiable: 0-d tensors of mu_product's dtype
        prod_next = _fl(prod * _fl(mu_next, scalars), scalars)
        cg = tensor_scalar_quotient(h.lr * (1 - mu), _fl(1 - prod, scalars), scalars)
        cm = tensor_scalar_quotient(h.lr * mu_next, _fl(1 - prod_next, scalars), scalars)
    else:
        cg, cm = h.lr * (1 - mu) / (1 - prod), h.lr * mu_next / (1 - prod_next)
    return tmap(lambda pi, gi, mi, vi: pi - div(cg * gi + cm * mi, sqrt(vi / c2) + eps), p, g, m, v)
