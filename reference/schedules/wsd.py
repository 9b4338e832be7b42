"""Warmup-stable-decay (WSD; Hu et al. 2024, MiniCPM §4.1): linear warmup, a constant plateau, a short decay.

Peak η (hyper ``lr``), warmup W, decay D, total T (stable length S = T − W − D), floor ratio r
(``min_lr_ratio``).  For update k = 0, 1, ... (k = 0 is the first update):

    k < W:              η_k = η · k/W
    W ≤ k < W + S:      η_k = η
    k ≥ W + S:          p = (k − W − S)/D,   η_k = η · (r + (1 − r) · f(p))
        f(p) = 1 − p                    decay_shape = linear
               ½(1 + cos(π p))          decay_shape = cosine
               1 − √p                   decay_shape = 1-sqrt

After the horizon (k > T, axis ``past_horizon``): clamped — η_k = rη; periodic — the cosine shape
keeps following the cosine (period 2D, torch CosineAnnealingLR), linear and 1-sqrt hold rη.
"""
from __future__ import annotations

import mpmath

from ..errors import UserError
from ..numeric import sqrt


def validate(h, where):
    if h.total_steps < h.warmup_steps + h.decay_steps:
        raise UserError(f"{where}: total_steps must be at least warmup_steps + decay_steps")


def horizon(h):
    return int(h.total_steps)


def shape(p, kind):
    if kind == "linear":
        return 1 - p
    if kind == "cosine":
        return (1 + mpmath.cos(mpmath.pi * p)) / 2
    return 1 - sqrt(p)


def value(k, h, sem):
    W, D, T = int(h.warmup_steps), int(h.decay_steps), int(h.total_steps)
    if k < W:
        return h.lr * mpmath.mpf(k) / W
    if k < T - D:
        return h.lr
    p = mpmath.mpf(k - (T - D)) / D
    if p > 1 and not (sem.past_horizon == "periodic" and h.decay_shape == "cosine"):
        p = mpmath.mpf(1)
    r = h.min_lr_ratio
    return h.lr * (r + (1 - r) * shape(p, h.decay_shape))
