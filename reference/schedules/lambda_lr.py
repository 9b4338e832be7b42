"""Learning rate as the base rate times a function of the update index (torch LambdaLR).

Base η (hyper ``lr``); f is data: a family (``fn``) with one parameter c:

    constant:      f(k) = c
    power:         f(k) = c^k                 (exponential decay)
    inverse:       f(k) = 1/(1 + c·k)         (inverse-time decay)
    inverse_sqrt:  f(k) = 1/√(1 + c·k)

For update k = 0, 1, ... (k = 0 is the first update, and f(0) applies to it):

    η_k = η · f(k)

``total_steps`` only sets the length of the scenarios (the schedule has no horizon).
"""
from __future__ import annotations

import mpmath

from ..numeric import div, sqrt


def factor(k, fn, c):
    """f(k) of the family ``fn`` with parameter c (shared with ``multiplicative``)."""
    k = mpmath.mpf(k)
    if fn == "constant":
        return +c
    if fn == "power":
        return c ** k
    if fn == "inverse":
        return div(1, 1 + c * k)
    return div(1, sqrt(1 + c * k))


def horizon(h):
    return int(h.total_steps)


def value(k, h, sem):
    return h.lr * factor(k, h.fn, h.c)
