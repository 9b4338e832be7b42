"""Exponential decay, in either parameterization (hyperparameter ``form``).

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η and decay
length T ≥ 1 (``decay_steps``; the exponent is k/T, not ⌊k/T⌋ — that is the ``step`` schedule):

    form = factor:   η_k = η · γ^(k/T)          γ = ``gamma``, the factor per T updates
    form = rate:     η_k = η · exp(−a · k/T)     a = ``rate``, the continuous decay rate

The two describe the same family (γ = e^(−a)); they differ in what the user gives.
"""
from __future__ import annotations

import mpmath


def horizon(h):
    return 20 * int(h.decay_steps)


def value(k, h, sem):
    x = mpmath.mpf(k) / int(h.decay_steps)
    if h.form == "rate":
        return h.lr * mpmath.exp(-h.rate * x)
    return h.lr * h.gamma ** x
