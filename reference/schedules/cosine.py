"""Cosine annealing (Loshchilov & Hutter 2017, eq. (5), one cycle without restart).

For update index k = 0, 1, ... (k = 0 is the first update), peak η, length T ≥ 1
(``total_steps``), floor η_min (axis ``floor``: absolute, or relative so that η_min = floor·η)
and exponent p (default 1; optax ``exponent``):

    c_k = ½ (1 + cos(π k/T))
    0 ≤ k ≤ T:   η_k = η_min + (η − η_min) · c_k^p
    k > T:       η_k = η_min                                  axis ``past_horizon`` = clamped
                 η_k = η_min + (η − η_min) · c_k^p  (period 2T) axis ``past_horizon`` = periodic
"""
from __future__ import annotations

import mpmath


def horizon(h):
    return int(h.total_steps)


def floor_value(h, sem):
    return h.eta_min if sem.floor == "absolute" else h.eta_min * h.lr


def value(k, h, sem):
    T = int(h.total_steps)
    lo = floor_value(h, sem)
    if k > T and sem.past_horizon == "clamped":
        return lo
    c = (1 + mpmath.cos(mpmath.pi * k / T)) / 2
    return lo + (h.lr - lo) * c ** h.exponent
