"""Cosine annealing with warm restarts, SGDR (Loshchilov & Hutter 2017, eq. (5)).

For update index k = 0, 1, ... (k = 0 is the first update), peak η, first cycle length T_0
(``first_cycle``), cycle multiplier t ≥ 1 (``t_mult``), peak multiplier m (``m_mult``) and floor
η_min (axis ``floor``: absolute, or relative so that η_min = floor·η). Cycle i = 0, 1, ... has
length T_i = T_0 · tⁱ and starts at S_i = T_0 + T_0 t + ... + T_0 t^(i−1) (S_0 = 0):

    i       = the cycle with S_i ≤ k < S_(i+1)
    T_cur   = k − S_i
    η_k     = η_min + (η − η_min) · mⁱ · ½ (1 + cos(π T_cur/T_i))

Restarts (T_cur = 0, η_k = η_min + (η − η_min)mⁱ) happen at k = S_1, S_2, .... The horizon is the
end of the first n cycles (``cycles``), S_n; after it (axis ``past_horizon``):

    periodic:  the restarts go on forever (the formula above for every k)
    clamped:   η_k = η_min for k ≥ S_n (the last listed cycle ends at its floor and stays there)
"""
from __future__ import annotations

import mpmath

from ..errors import UserError


def validate(h, where):
    if h.t_mult < 1:
        raise UserError(f"{where}: t_mult must be >= 1, got {h.t_mult}")


def cycle_start(i, h):
    """S_i, exact (a geometric sum; i·T_0 when t = 1)."""
    T0, t = mpmath.mpf(int(h.first_cycle)), h.t_mult
    return T0 * i if t == 1 else T0 * (t ** i - 1) / (t - 1)


def horizon(h):
    return int(mpmath.ceil(cycle_start(int(h.cycles), h)))


def cycle_of(k, h):
    i = 0
    while cycle_start(i + 1, h) <= k:
        i += 1
    return i


def floor_value(h, sem):
    return h.eta_min if sem.floor == "absolute" else h.eta_min * h.lr


def value(k, h, sem):
    lo = floor_value(h, sem)
    if sem.past_horizon == "clamped" and k >= cycle_start(int(h.cycles), h):
        return lo
    i = cycle_of(k, h)
    T_i = int(h.first_cycle) * h.t_mult ** i
    T_cur = k - cycle_start(i, h)
    return lo + (h.lr - lo) * h.m_mult ** i * (1 + mpmath.cos(mpmath.pi * T_cur / T_i)) / 2
