"""Rprop, resilient backpropagation (Riedmiller & Braun, 1993; the variants of Igel & Hüsken, 2000),
with the axes on which implementations differ.

Each element has its own step size s. For each tensor, with g_t the gradient (negated first when
``maximize``), s₀ = η (the learning rate ``lr`` is the initial step size Δ₀), the stored gradient
g̃₀ = 0, the stored step u₀ = 0, η₋ < 1 < η₊ and the bounds s_min ≤ s_max:

    q_t = g_t · g̃_{t−1}                           the sign test (0·∞ = NaN); g_t · u_{t−1} under
                                                    ``update_delay`` = one_step, as optax multiplies
    s_t = grow(s_{t−1})    if q_t > 0
          shrink(s_{t−1})  if q_t < 0
          s_{t−1}          if q_t = 0 (clip(s_{t−1}, s_min, s_max) under ``step_size_clamp`` = always)
          if q_t is NaN, axis ``nan_gradient``: NaN (propagate, IEEE); as for q_t = 0 (ignore: torch's
          sign(NaN) = 0); shrink(s_{t−1}) (shrink: optax's where(q > 0, η₊, η₋))
    grow(s) = min(s η₊, s_max), shrink(s) = max(s η₋, s_min)   ``step_size_clamp`` = one_sided (the papers)
    grow(s) = clip(s η₊, …), shrink(s) = clip(s η₋, …)         on_change (optax), always (torch);
                                                                clip(x, …) = min(max(x, s_min), s_max)
    on a sign change (q_t < 0), axis ``sign_change``:
      backtrack (Rprop+, the original):  u_t = −u_{t−1} (the previous weight step is taken back), g̃_t = 0
      skip      (iRprop−: torch, optax): u_t = 0, g̃_t = 0
      step      (Rprop−):                u_t = s_t sign(g_t), g̃_t = g_t
    otherwise:                           u_t = s_t sign(g_t), g̃_t = g_t
    θ_t = θ − u_t                                   ``update_delay`` = none
    θ_t = θ − (0 if q_t < 0 else u_{t−1})           ``update_delay`` = one_step (optax 0.2.8: the update
                                                    returned is the one computed at the step before, so
                                                    the first step is 0)

sign(0) = 0; sign(NaN) is NaN (jnp.sign: ``nan_gradient`` = propagate, the spec, and shrink) or 0
(torch.sign on the CPU: ``nan_gradient`` = ignore, so a NaN gradient moves nothing). A NaN compares
false with 0, so it is never a sign change: g̃_t = g_t = NaN, and the next sign test is NaN again.

iRprop+ (Igel & Hüsken's fourth variant) takes the step back only if the loss increased; it needs
the loss, which an open-loop gradient stream does not have, and no framework implements it.

State: ``step_size`` = s_t, ``prev`` = g̃_t, ``prev_update`` = u_t (only where it is used: the
``backtrack`` and ``one_step`` forms).

Precision emulation (``VARIANTS``, selected by a profile's declared effects through ``ctx.effects``):

* ``product_in_format`` (effect ``sign_test``): q_t is computed in the parameters' dtype, as torch
  (grad.mul(prev)) and optax (g * prev_updates) compute it, and rounding keeps its sign except where
  it underflows to 0 — in float16 a product of magnitude at most 2⁻²⁵, half the smallest subnormal —
  which then counts as no sign change.
"""
from __future__ import annotations

import mpmath

from ..algorithm import Variant
from ..effects import cast
from ..errors import UserError
from ..numeric import fmax, fmin, isnan, num
from ..numeric import sign as ieee_sign
from ..tensor import Tensor, full_like, zeros_like


def _uses_prev_update(sem) -> bool:
    return sem.sign_change == "backtrack" or sem.update_delay == "one_step"


def init(p, h, sem):
    state = {"step_size": full_like(p, h.lr), "prev": zeros_like(p)}
    if _uses_prev_update(sem):
        state["prev_update"] = zeros_like(p)
    return state


def validate(h, where):
    if h.step_size_min > h.step_size_max:
        raise UserError(f"{where}: step_size_min ({mpmath.nstr(h.step_size_min, 17)}) must not exceed "
                        f"step_size_max ({mpmath.nstr(h.step_size_max, 17)})")


def sign(x, sem):
    """sign(x) ∈ {−1, 0, 1}; sign(NaN) is NaN, or 0 (torch.sign) where ``nan_gradient`` = ignore."""
    if isnan(x) and sem.nan_gradient == "ignore":
        return num(0)
    return ieee_sign(x)


def clip(s, h):
    """min(max(s, s_min), s_max), NaN kept (torch.clamp, jnp.clip)."""
    return fmin(fmax(s, h.step_size_min), h.step_size_max)


def scaled(s, factor, h, sem):
    """s·η₊ or s·η₋ bounded as the axis ``step_size_clamp`` says: on the side it moves (one_sided), or both."""
    s = s * factor
    if sem.step_size_clamp == "one_sided":
        return fmin(s, h.step_size_max) if factor > 1 else fmax(s, h.step_size_min)
    if sem.step_size_clamp in ("on_change", "always"):
        return clip(s, h)
    raise ValueError(f"unknown step_size_clamp {sem.step_size_clamp!r}")


def kept(s, h, sem):
    """The step size when the product is 0: unchanged, or clipped as torch does in every branch."""
    return clip(s, h) if sem.step_size_clamp == "always" else s


def step_size(s, q, h, sem):
    """s_t from s_{t−1} and the sign test q_t (module docstring)."""
    if q > 0:
        return scaled(s, h.eta_plus, h, sem)
    if q < 0:
        return scaled(s, h.eta_minus, h, sem)
    if q == 0:
        return kept(s, h, sem)
    form = sem.nan_gradient  # q is NaN
    if form == "propagate":
        return num("nan")
    if form == "ignore":
        return kept(s, h, sem)
    if form == "shrink":
        return scaled(s, h.eta_minus, h, sem)
    raise ValueError(f"unknown nan_gradient {form!r}")


def sign_test(g, prev, u_prev, sem):
    """q_t = g_t·g̃_{t−1}, or g_t·u_{t−1} under ``update_delay`` = one_step (optax multiplies by its
    stored step s·sign(g̃): the same sign except for g̃ = ±∞ with g_t = 0)."""
    return g * (u_prev if sem.update_delay == "one_step" else prev)


def element(g, q, s, u_prev, h, sem):
    """One element, from its gradient g_t and sign test q_t: (s_t, g̃_t, u_t, the amount subtracted
    from θ)."""
    s = step_size(s, q, h, sem)
    changed = q < 0
    form = sem.sign_change
    if changed and form == "backtrack":
        stored, u = num(0), -u_prev
    elif changed and form == "skip":
        stored, u = num(0), num(0)
    elif form in ("backtrack", "skip", "step"):
        stored, u = g, s * sign(g, sem)
    else:
        raise ValueError(f"unknown sign_change {form!r}")
    if sem.update_delay == "none":
        applied = u
    elif sem.update_delay == "one_step":
        applied = num(0) if changed else u_prev
    else:
        raise ValueError(f"unknown update_delay {sem.update_delay!r}")
    return s, stored, u, applied


def rprop(p, g, state, h, sem, product=lambda q: q):
    """The update of one tensor, element by element; ``product(q)`` gives the sign test as the
    implementation holds it (exactly in ``step``)."""
    zero = zeros_like(p)
    previous_updates = state.get("prev_update", zero)
    sizes, stored, updates, out = [], [], [], []
    for pi, gi, gp, si, up in zip(p.data, g.data, state["prev"].data, state["step_size"].data,
                                  previous_updates.data):
        q = product(sign_test(gi, gp, up, sem))
        s, kept_g, u, applied = element(gi, q, si, up, h, sem)
        sizes.append(s)
        stored.append(kept_g)
        updates.append(u)
        out.append(pi - applied)
    state["step_size"] = Tensor(p.shape, sizes)
    state["prev"] = Tensor(p.shape, stored)
    if "prev_update" in state:
        state["prev_update"] = Tensor(p.shape, updates)
    return Tensor(p.shape, out)


def step(p, g, state, h, sem, ctx):
    return rprop(p, g, state, h, sem)


# --- precision emulations ---------------------------------------------------------------------------


def step_product_in_format(p, g, state, h, sem, ctx):
    """``step`` with the sign test q_t rounded to the format of ``sign_test`` (the parameters' dtype:
    torch's grad.mul(prev), optax's g * prev_updates). Rounding keeps the sign of a product, except
    where it underflows to 0: in float16 two gradients of about 2⁻¹³ give a product of at most 2⁻²⁵,
    half the smallest subnormal, which rounds to 0 and counts as no sign change (kept step size, no
    skip)."""
    fmt = ctx.effects.format("sign_test")
    return rprop(p, g, state, h, sem, product=lambda q: cast(q, fmt))


VARIANTS = {
    "product_in_format": Variant(step_product_in_format, ("sign_test",),
                                 doc="the sign test g·g̃ computed in the parameters' dtype, where it can "
                                     "underflow to 0"),
}
