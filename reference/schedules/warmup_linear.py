"""Linear warmup then linear decay to zero (the BERT schedule, Devlin et al. 2019).

Peak η (hyper ``lr``), warmup length W, total length T (including the warmup).  For update
k = 0, 1, ... (k = 0 is the first update; its learning rate is 0 when W > 0):

    k < W:   η_k = η · k/W
    k ≥ W:   η_k = η · (1 − min(k, T)/T)                 axis ``decay_origin`` = zero
             η_k = η · (T − min(k, T))/(T − W)           axis ``decay_origin`` = warmup_end

``zero`` is the original BERT code: one linear decay from η at k = 0 to 0 at k = T, replaced by
the warmup ramp while k < W (so η_W = η(1 − W/T), never η itself).  ``warmup_end`` starts the decay
at the peak η at k = W.  Both hold 0 from k = T on.
"""
from __future__ import annotations

import mpmath

from . import warmup_cosine

# the same hyperparameters and constraint as warmup_cosine (total_steps > warmup_steps)
validate, horizon = warmup_cosine.validate, warmup_cosine.horizon


def value(k, h, sem):
    W, T = int(h.warmup_steps), int(h.total_steps)
    if k < W:
        return h.lr * mpmath.mpf(k) / W
    if sem.decay_origin == "zero":
        return h.lr * (1 - mpmath.mpf(min(k, T)) / T)
    return h.lr * mpmath.mpf(T - min(k, T)) / (T - W)
