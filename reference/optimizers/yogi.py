"""Yogi (Zaheer, Reddi, Sachan, Kale & Kumar, 2018, Algorithm 2), with the axes on which
implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε the hyperparameters and v₀ = c the initial accumulator (0 in the paper):

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m₀ = 0                                               ``first_moment_init`` = zero (the paper)
       = c                                               ``first_moment_init`` = accumulator
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = v_{t−1} − (1 − β₂) sign(v_{t−1} − g_t²) g_t²    the additive (sign) update
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          (c₁ = c₂ = 1 when ``bias_correction`` = off: the paper)
    u_t = (m_t/c₁) / (√(v_t/c₂) + ε)      ε after the correction (Adam's std placement)
    θ_t = θ − η_t u_t

Adam's v_t = β₂v_{t−1} + (1 − β₂)g_t² is v_{t−1} − (1 − β₂)(v_{t−1} − g_t²): Yogi keeps the
direction of that change and replaces its size |v_{t−1} − g_t²| by g_t². v_t stays ≥ 0 when v₀ ≥ 0
(it moves by (1 − β₂)g_t² towards g_t² and never past 0). sign(0) = 0 (v_{t−1} = g_t² leaves v
unchanged) and sign(NaN) = NaN (numeric.sign); 0·∞ = NaN, as in IEEE arithmetic.

The step is Adam's (adam.py: ``direction`` with ε placed as its ``std``, ``bias_corrections``);
only v_t and the initial moments differ. No implementation places ε otherwise (TensorFlow Addons'
ε-hat, √c₂/c₁ · m_t/(√v_t + ε), is the same equation as this one without bias correction).

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations

from ..common import first_moment, weight_decay
from ..model import Namespace
from ..numeric import sign
from ..tensor import full_like, tmap
from . import adam


STD = Namespace(eps_placement="std")


def init(p, h, sem):
    """m₀ (axis ``first_moment_init``) and v₀ = c (``initial_accumulator``)."""
    c = h.initial_accumulator
    if sem.first_moment_init == "zero":
        m0 = 0
    elif sem.first_moment_init == "accumulator":
        m0 = c
    else:
        raise ValueError(f"unknown first_moment_init {sem.first_moment_init!r}")
    return {"exp_avg": full_like(p, m0), "exp_avg_sq": full_like(p, c)}


def second_moment_value(v, g, beta2):
    """One element of v_t = v − (1 − β₂)·sign(v − g²)·g²."""
    g2 = g * g
    return v - (1 - beta2) * sign(v - g2) * g2


def step(p, g, state, h, sem, ctx):
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, h.beta1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: second_moment_value(vi, gi, h.beta2), state["exp_avg_sq"], g)
    c1, c2 = adam.bias_corrections(h.beta1, h.beta2, ctx.t, sem)
    u = adam.direction(m, v, c1, c2, h, STD)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
