"""Learning rate multiplied by a factor at every update (torch MultiplicativeLR).

Base η (hyper ``lr``); the factor function f is the family of ``lambda_lr`` (``fn`` with
parameter c: constant c, power c^k, inverse 1/(1 + ck), inverse_sqrt 1/√(1 + ck)).  For update
k = 0, 1, ... (k = 0 is the first update):

    η_0 = η
    η_k = η_{k−1} · f(k) = η · ∏_{i=1}^{k} f(i)

f(0) is never applied: the first update uses η itself.  With fn = constant this is exponential
decay η·c^k.  ``total_steps`` only sets the length of the scenarios.
"""
from __future__ import annotations

from .lambda_lr import factor


def horizon(h):
    return int(h.total_steps)


def entry_factor(h):
    """The factor torch applies when SequentialLR enters this child at a milestone: there
    MultiplicativeLR.get_lr runs outside its initial step with last_epoch = 0, so f(0) multiplies
    the rate in force (see ``sequential``)."""
    return factor(0, h.fn, h.c)


def value(k, h, sem):
    out = +h.lr
    for i in range(1, k + 1):
        out = out * factor(i, h.fn, h.c)
    return out
