"""Linear warmup followed by cosine decay (Goyal et al. 2017 warmup; Loshchilov & Hutter 2017 cosine).

For update index k = 0, 1, ... (k = 0 is the first update), peak η, warmup length W, total length
T (including the warmup), warmup start η_s and floor η_min (axis ``floor``: absolute, or relative
so that η_min = floor·η):

    k < W:        η_k = η_s + (η − η_s) · k/W
    W ≤ k ≤ T:    η_k = η_min + (η − η_min) · ½(1 + cos(π (k − W)/(T − W)))
    k > T:        η_k = η_min                          axis ``past_horizon`` = clamped
                  the cosine formula, period 2(T − W)   axis ``past_horizon`` = periodic
"""
from __future__ import annotations

import mpmath

from ..errors import UserError


def validate(h, where):
    if h.total_steps <= h.warmup_steps:
        raise UserError(f"{where}: total_steps must be greater than warmup_steps "
                        f"(got {h.total_steps} <= {h.warmup_steps})")


def horizon(h):
    return int(h.total_steps)


def floor_value(h, sem):
    return h.eta_min if sem.floor == "absolute" else h.eta_min * h.lr


def value(k, h, sem):
    W, T = int(h.warmup_steps), int(h.total_steps)
    lo = floor_value(h, sem)
    if k < W:
        return h.warmup_start + (h.lr - h.warmup_start) * mpmath.mpf(k) / W
    if k > T and sem.past_horizon == "clamped":
        return lo
    return lo + (h.lr - lo) * (1 + mpmath.cos(mpmath.pi * (k - W) / (T - W))) / 2
