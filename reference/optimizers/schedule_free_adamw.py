"""Schedule-free AdamW (Defazio et al., 2024, "The Road Less Scheduled", arXiv:2405.15682,
Algorithm 1; the authors' package schedulefree: AdamWScheduleFreePaper, AdamWScheduleFree,
AdamWScheduleFreeReference).

For each tensor, with y the parameters the framework holds (where g_t is evaluated), z and x the
base and averaged sequences (z₁ = x₁ = y₁, v₀ = 0), η_t the learning rate of step t, β = ``beta1``,
β₂, ε, λ, and the rates γ_t, γ'_t and the averaging weight c_t of schedule_free_sgd.py:

    v_t = β₂v + (1 − β₂)g_t²               ``second_moment`` = mix (common.py)
        = v + (1 − β₂)(g_t² − v)           ``second_moment`` = delta (Keras)
    c₂ = 1 − β₂ᵗ
    u_t = g_t / (√(v_t/c₂) + ε)            ``bias_correction_at`` = denominator (the package,
                                           optax, Keras)
    u_t = g_t / (√v_t + ε),  γ_t ← γ_t√c₂  ``bias_correction_at`` = lr (the paper: the correction
                                           in the rate, which also scales the decay; ε "hat")
    d_t = u_t (+ λy or λz: ``decay_at``; Keras decays the parameters y instead)
    z_t = z − γ_t d_t
    x_t = (1 − c_t)x̄ + c_t z_t             x̄ = x, or recovered with the stepped z (``x_recovery``)
    y_t = (1 − β)z_t + βx_t

A β₂ a framework holds as 1 (Keras in bfloat16) gives c₂ = 0 and v/c₂ = 0/0: the divisions are
IEEE's (numeric.div), NaN as the framework's.

The averaging weight's rate is γ'_t = η_t min(1, t/W) (``weight_lr`` = scheduled) or
η_t min(1, t/W)√c₂ (corrected: the paper's γ_t, whose running maximum the weights take).

z never becomes infinite without becoming NaN (u_t is bounded for finite g and NaN for infinite g),
so holding x or recovering it from y and z gives the same values on every input: AdamW has no
``average_form`` axis (schedule_free_sgd.py).

State: ``z``, ``x`` (the evaluation parameters), ``exp_avg_sq`` = v_t, ``weight_sum``, ``lr_max``.

Precision emulation: ``VARIANTS`` ``reciprocal`` (schedule_free_sgd.py).
"""
from __future__ import annotations

from ..algorithm import Variant
from ..common import second_moment
from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like
from .schedule_free_sgd import RECIPROCAL_DOC, held_reciprocal, initial_state, schedule_free_step


def init(p, h, sem):
    return {**initial_state(p), "exp_avg_sq": zeros_like(p)}


def weight_correction(c2, sem):
    """a_t: 1, or √(1 − β₂ᵗ) when the averaging weight takes the corrected rate (``weight_lr``)."""
    if sem.weight_lr == "scheduled":
        return 1
    if sem.weight_lr == "corrected":
        return sqrt(c2)
    raise ValueError(f"unknown weight_lr {sem.weight_lr!r}")


def direction(g, state, h, sem, t):
    """(u_t, the factor of γ_t): the second moment's update and the normalized gradient (axes
    ``second_moment``, ``bias_correction_at``)."""
    v = state["exp_avg_sq"] = second_moment(state["exp_avg_sq"], g, h.beta2, sem)
    c2 = 1 - h.beta2 ** t
    if sem.bias_correction_at == "denominator":
        return tmap(lambda gi, vi: div(gi, sqrt(div(vi, c2)) + h.eps), g, v), 1
    if sem.bias_correction_at == "lr":
        return tmap(lambda gi, vi: div(gi, sqrt(vi) + h.eps), g, v), sqrt(c2)
    raise ValueError(f"unknown bias_correction_at {sem.bias_correction_at!r}")


def step(p, g, state, h, sem, ctx):
    u, scale = direction(g, state, h, sem, ctx.t)
    return schedule_free_step(p, state, u, h, sem, ctx, weight_correction(1 - h.beta2 ** ctx.t, sem), scale)


def step_reciprocal(p, g, state, h, sem, ctx):
    """``step`` with x recovered through fl(1/β₁) (schedule_free_sgd.held_reciprocal)."""
    u, scale = direction(g, state, h, sem, ctx.t)
    return schedule_free_step(p, state, u, h, sem, ctx, weight_correction(1 - h.beta2 ** ctx.t, sem), scale,
                              held_reciprocal(h, ctx))


VARIANTS = {"reciprocal": Variant(step_reciprocal, ("recover_reciprocal",), doc=RECIPROCAL_DOC)}
