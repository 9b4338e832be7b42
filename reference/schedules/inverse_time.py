"""Inverse-time decay (Bottou 2012 §5.2: γ_t = γ_0 (1 + γ_0 λ t)^(−1)).

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η, decay rate
r ≥ 0 and decay length T ≥ 1 (``decay_steps``):

    p_k = k/T                    staircase = false
    p_k = ⌊k/T⌋                  staircase = true
    η_k = η / (1 + r · p_k)
"""
from __future__ import annotations

import mpmath

from ..numeric import div


def horizon(h):
    return 20 * int(h.decay_steps)


def value(k, h, sem):
    T = int(h.decay_steps)
    p = mpmath.mpf(k // T) if h.staircase else mpmath.mpf(k) / T
    return div(h.lr, 1 + h.decay_rate * p)
