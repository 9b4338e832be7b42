"""Warmup to the base learning rate, then constant (Goyal et al. 2017 §2.2).

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η, warmup length
W (``warmup_steps``) and start η_s (axis ``start``: absolute, or relative so that
η_s = warmup_start·η):

    shape = linear   ("gradual warmup"):   η_k = η_s + (η − η_s) · min(k, W)/W
    shape = constant ("constant warmup"):  η_k = η_s for k < W,  η for k ≥ W

With W = 0 the schedule is the constant η.
"""
from __future__ import annotations

import mpmath


def horizon(h):
    return 2 * int(h.warmup_steps) + 2


def start_value(h, sem):
    return h.warmup_start if sem.start == "absolute" else h.warmup_start * h.lr


def value(k, h, sem):
    W = int(h.warmup_steps)
    if k >= W:
        return +h.lr
    s = start_value(h, sem)
    if h.shape == "constant":
        return s
    return s + (h.lr - s) * mpmath.mpf(k) / W
