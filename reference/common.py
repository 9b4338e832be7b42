"""Pieces shared by several optimizers, each one the equation its spec pages cite.

Weight decay (axis ``weight_decay``), with λ the decay, η_t the learning rate of this step and
s_t = η_t / η the schedule multiplier (1 without a schedule):

* ``none``                — no decay;
* ``l2``                  — coupled L2: g ← g + λ·θ (the decay passes through the moments);
* ``decoupled_lr``        — θ ← θ·(1 − η_t·λ), before the update (torch AdamW, Keras ``weight_decay``);
* ``decoupled_schedule``  — θ ← θ·(1 − s_t·λ) (Loshchilov & Hutter, Algorithm 2: decay scaled by
  the schedule multiplier only, not by the learning rate);
* ``decoupled``           — θ ← θ·(1 − λ), never scaled.

Since the decoupled forms multiply θ_{t−1} and the update does not depend on θ, applying them
"before" or "together with" the update is the same equation.
"""
from __future__ import annotations

from .tensor import Tensor, tmap


def weight_decay(p: Tensor, g: Tensor, h, sem, ctx) -> tuple[Tensor, Tensor]:
    """Apply the ``weight_decay`` axis; returns the (possibly decayed) parameter and gradient."""
    lam = h.weight_decay
    mode = sem.weight_decay
    if lam == 0 or mode == "none":
        return p, g
    if mode == "l2":
        return p, tmap(lambda gi, pi: gi + lam * pi, g, p)
    if mode == "decoupled_lr":
        factor = 1 - ctx.lr * lam
    elif mode == "decoupled_schedule":
        factor = 1 - ctx.lr_factor * lam
    elif mode == "decoupled":
        factor = 1 - lam
    else:
        raise ValueError(f"unknown weight_decay semantics {mode!r}")
    return tmap(lambda pi: pi * factor, p), g


def first_moment_value(m, g, beta1, form: str):
    """One element of the ``first_moment`` axis, with w = 1 − β₁:

    * ``mix``  — β₁·m + (1 − β₁)·g;
    * ``lerp`` — torch.lerp(m, g, w): m + w·(g − m) for w < ½, else g − (g − m)·(1 − w).

    Equal in exact arithmetic; with m = ±∞ and g finite, lerp gives ∞ − ∞ = NaN where mix stays ±∞.
    """
    if form == "mix":
        return beta1 * m + (1 - beta1) * g
    if form == "lerp":
        w = 1 - beta1
        return m + w * (g - m) if w < 0.5 else g - (g - m) * (1 - w)
    raise ValueError(f"unknown first_moment {form!r}")


def first_moment(m: Tensor, g: Tensor, beta1, sem) -> Tensor:
    """m_t from m_{t−1} and g_t under the ``first_moment`` axis (see first_moment_value)."""
    form = sem.first_moment
    return tmap(lambda mi, gi: first_moment_value(mi, gi, beta1, form), m, g)
