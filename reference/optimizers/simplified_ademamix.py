"""Simplified AdEMAMix (Morwani, Vyas, Zhang & Kakade, 2025, "Connections between Schedule-Free
Optimizers, AdEMAMix, and Accelerated SGD Variants", Simplified-AdEMAMix), with the axes on which
implementations differ.

For each tensor, with g_t the gradient at step t = 1, 2, …, η_t the learning rate of this step,
β₁, β₂, α, ε, λ the hyperparameters and m = v = 0 at the start:

    (θ, g_t) ← weight_decay(θ, g_t)           axis ``weight_decay`` (common.py): decoupled_lr
                                              θ ← θ(1 − η_t λ) (the authors' −η(u + λθ)); l2
    m  = β₁ m + g_t                           ``ema_form`` = sum: a momentum, not an average
                                              (the authors' "theory style", optax)
       = torch.lerp(m, g_t, 1 − β₁)            ``ema_form`` = average: β₁m + (1 − β₁)g_t
    v  = β₂ v + (1 − β₂) g_t²                 ``second_moment_form`` = mix (the authors' code)
       = g_t² + β₂ (v − g_t²)                 ``second_moment_form`` = reverse_lerp (optax's
                                              lerp(β₂, g², v); NaN where g² = +∞)
    c₂ = 1 − β₂ᵗ;  D = √(v/c₂) + ε            ``eps_placement`` = std (the authors' (√v + ε√c₂)/√c₂)
                   = (√v + ε)/√c₂            ``eps_placement`` = hat (ε̂ = ε√c₂)
                   = √(v/c₂ + ε)             ``eps_placement`` = inside
    u_t = (m + α g_t) / D                     ``root_correction`` = divide (the authors, optax)
        = (m + α g_t) / (c₂ D)                ``root_correction`` = inverted (pytorch-optimizer:
                                              (m + αg)/(√v + √c₂ ε)/√c₂, a division by √c₂ where
                                              the authors multiply by it)
        = (m + α g_t) / (√c₂ D)               ``root_correction`` = off: the authors'
                                              bias_correction2=False, (m + αg)/(√v + √c₂ ε)
    θ_t = θ − η_t u_t

Unlike AdEMAMix there is one momentum, and the current gradient is added with weight α; with
α = 0 (the default) the step is Adam's without the (1 − β₁) and without the first moment's bias
correction. It is not a setting of AdEMAMix's equations (spec/algorithms/simplified_ademamix.md).

State: ``exp_avg`` = m, ``exp_avg_sq`` = v.

Precision emulation (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``): ``step_held_root`` (effect ``bias_root``; pytorch-optimizer 4.1.0's foreach path,
which gathers the per-parameter √(1 − β₂ᵗ) into a float32 tensor whatever the parameters' dtype):
with fl the rounding to the declared format, S = fl(√c₂) and E = fl(S·fl(ε)) (the tensor times the
Python ε, computed in its dtype), the denominator's √c₂ and ε√c₂ are S and E:

    D = (√v + E)/S                            ``eps_placement`` = std (the only placement modelled)
    u_t = (m + α g_t)/D, /(S D), /(S² D)      ``root_correction`` = divide, off, inverted
                                              (inverted: (m + αg)/(√v + E)/S, the package's)
"""
from __future__ import annotations

from ..algorithm import Variant
from ..common import first_moment_value, weight_decay
from ..effects import cast
from ..numeric import div, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def momentum_value(m, g, beta1, sem):
    """One element of m (axis ``ema_form``): β₁m + g, or torch.lerp(m, g, 1 − β₁)."""
    if sem.ema_form == "sum":
        return beta1 * m + g
    if sem.ema_form == "average":
        return first_moment_value(m, g, beta1, "lerp")
    raise ValueError(f"unknown ema_form {sem.ema_form!r}")


def second_moment_value(v, g, beta2, sem):
    """One element of v (axis ``second_moment_form``): β₂v + (1 − β₂)g², or g² + β₂(v − g²)."""
    if sem.second_moment_form == "mix":
        return beta2 * v + (1 - beta2) * g * g
    if sem.second_moment_form == "reverse_lerp":
        return g * g + beta2 * (v - g * g)
    raise ValueError(f"unknown second_moment_form {sem.second_moment_form!r}")


def denominator(v, c2, h, sem):
    """The denominator of one element (axes ``eps_placement``, ``root_correction``): D =
    √(v/c₂) + ε (std), (√v + ε)/√c₂ (hat), √(v/c₂ + ε) (inside), times 1 (``root_correction`` =
    divide), √c₂ (off) or c₂ (inverted)."""
    factors = {"divide": 1, "off": sqrt(c2), "inverted": c2}
    if sem.root_correction not in factors:
        raise ValueError(f"unknown root_correction {sem.root_correction!r}")
    if sem.eps_placement == "std":
        d = sqrt(v / c2) + h.eps
    elif sem.eps_placement == "hat":
        d = (sqrt(v) + h.eps) / sqrt(c2)
    elif sem.eps_placement == "inside":
        d = sqrt(v / c2 + h.eps)
    else:
        raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")
    return factors[sem.root_correction] * d


def simplified_ademamix(p, g, state, h, sem, ctx, denom=denominator):
    """The step, line by line the module docstring's equations; ``denom(v, c2, h, sem)`` is the
    denominator of one element (a variant's holds √c₂ in a narrower format)."""
    b1, b2 = h.beta1, h.beta2
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = tmap(lambda mi, gi: momentum_value(mi, gi, b1, sem), state["exp_avg"], g)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: second_moment_value(vi, gi, b2, sem), state["exp_avg_sq"], g)
    n = tmap(lambda mi, gi: mi + h.alpha * gi, m, g)
    c2 = 1 - b2 ** ctx.t
    u = tmap(lambda ni, vi: div(ni, denom(vi, c2, h, sem)), n, v)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)


def step(p, g, state, h, sem, ctx):
    return simplified_ademamix(p, g, state, h, sem, ctx)


# --- precision emulation --------------------------------------------------------------------------


def held_root_denominator(v, c2, h, sem, fmt):
    """The denominator of one element with √c₂ held in ``fmt`` (module docstring): S = fl(√c₂),
    E = fl(S·fl(ε)), D = (√v + E)/S, times 1, S or S² (``root_correction`` = divide, off, inverted)."""
    if sem.eps_placement != "std":
        raise ValueError(f"bias_root models eps_placement = std only, not {sem.eps_placement!r}")
    s = cast(sqrt(c2), fmt)
    e = cast(s * cast(h.eps, fmt), fmt)
    factors = {"divide": 1, "off": s, "inverted": s * s}
    if sem.root_correction not in factors:
        raise ValueError(f"unknown root_correction {sem.root_correction!r}")
    return factors[sem.root_correction] * (sqrt(v) + e) / s


def step_held_root(p, g, state, h, sem, ctx):
    """``step`` with √(1 − β₂ᵗ) held in the format of ``bias_root`` (pytorch-optimizer's foreach
    den_sums, module docstring); exact where none is declared."""
    fmt = ctx.effects.format("bias_root")
    if not fmt:
        return step(p, g, state, h, sem, ctx)
    return simplified_ademamix(p, g, state, h, sem, ctx,
                               denom=lambda v, c2, h, sem: held_root_denominator(v, c2, h, sem, fmt))


VARIANTS = {
    "held_root": Variant(step_held_root, ("bias_root",),
                         doc="pytorch-optimizer foreach: √(1 − β₂ᵗ) in a float32 tensor, times ε in float32"),
}
