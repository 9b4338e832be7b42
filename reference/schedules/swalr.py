"""SWALR: anneal the learning rate from its starting value to a constant SWA rate (torch's
torch.optim.swa_utils.SWALR, for Stochastic Weight Averaging: Izmailov et al., 2018, §3.2, a
constant or cyclical rate while the weights are averaged).

For update index k = 0, 1, ... (k = 0 is the first update after the scheduler is created), the
starting rate η (``lr``, the optimizer's rate), the SWA rate η_swa (``swa_lr``), E anneal steps
(``anneal_epochs``) and the annealing function A (``anneal_strategy``):

    t_k = min(1, k/E)                     (t_k = 1 for every k when E = 0: η_swa at once)
    A(t) = (1 − cos(π t))/2               anneal_strategy = cos
         = t                              anneal_strategy = linear
    η_k = η_swa·A(t_k) + η·(1 − A(t_k))

so η₀ = η (for E > 0), η_E = η_swa and the rate stays η_swa after E updates. torch computes η_k
from η_{k−1} (it recovers η = (η_{k−1} − A(t_{k−1})·η_swa)/(1 − A(t_{k−1})) each step): the same
values, rounded once more per step.
"""
from __future__ import annotations

import mpmath


def horizon(h):
    return max(int(h.anneal_epochs), 1)


def anneal(t, h):
    """A(t) of the strategy."""
    if h.anneal_strategy == "cos":
        return (1 - mpmath.cos(mpmath.pi * t)) / 2
    return t


def value(k, h, sem):
    E = int(h.anneal_epochs)
    t = mpmath.mpf(1) if E == 0 else min(mpmath.mpf(1), mpmath.mpf(k) / E)
    a = anneal(t, h)
    return h.swa_lr * a + h.lr * (1 - a)
