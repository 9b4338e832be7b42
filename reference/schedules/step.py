"""Step decay: multiply the learning rate by γ every s updates (Krizhevsky et al. 2012 §5).

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η, decay factor
γ and step size s ≥ 1, the boundaries are b_j = j·s (j = 1, 2, ...) and n_k is the number of
boundaries already passed (axis ``boundary``):

    n_k = ⌊k/s⌋                         boundary = at     (the decay applies from k = j·s)
    n_k = ⌊(k − 1)/s⌋ for k ≥ 1, 0 at 0   boundary = after  (the decay applies from k = j·s + 1)
    η_k = η · γ^(n_k)
"""
from __future__ import annotations


def horizon(h):
    return 4 * int(h.step_size)


def decays(k, h, sem):
    s = int(h.step_size)
    if sem.boundary == "at":
        return k // s
    return (k - 1) // s if k >= 1 else 0


def value(k, h, sem):
    return h.lr * h.gamma ** decays(k, h, sem)
