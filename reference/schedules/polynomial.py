"""Polynomial ("poly") decay from η to η_end over T updates (Chen et al., DeepLab, §4.1).

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η, end learning
rate η_end, length T ≥ 1 (``total_steps``) and power p > 0:

    cycle = false:   s_k = min(k, T),  D_k = T                         (clamped at η_end past T)
    cycle = true:    s_k = k,          D_k = T · max(1, ⌈k/T⌉)          (Keras ``cycle``)
    η_k = (η − η_end) · (1 − s_k/D_k)^p + η_end

With ``cycle`` the value at k = jT is η_end and the next cycle starts at k = jT + 1 with
(η − η_end)(1 − (jT + 1)/((j + 1)T))^p + η_end, not at η.
"""
from __future__ import annotations

import mpmath


def horizon(h):
    return int(h.total_steps)


def value(k, h, sem):
    T = int(h.total_steps)
    if h.cycle:
        s, D = k, T * max(1, -(-k // T))
    else:
        s, D = min(k, T), T
    return (h.lr - h.end_lr) * (1 - mpmath.mpf(s) / D) ** h.power + h.end_lr
