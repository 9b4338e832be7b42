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
