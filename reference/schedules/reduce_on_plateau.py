"""Reduce the learning rate when a monitored metric stops improving (ReduceLROnPlateau).

Base η (hyper ``lr``), factor γ < 1, patience P, cooldown C, thresholds r (``rtol``) and a
(``atol``), floor φ (``min_lr``: absolute, or φ·η under axis ``floor`` = relative), guard ε
(``eps``), ``mode`` min or max.  Metric m_j is observed after (or with) update j.  State: best b
(+∞ in min mode, −∞ in max), bad count n, cooldown counter c, current rate ρ = η.

    improved(m):  m < b(1 − r) − a   (min)      m > b(1 + r) + a   (max)
    due(n):       n > P (patience_rule = exceeds) · n ≥ P (reaches) · n = P (equals)
    reduce:       ρ' = max(ργ, φ); the rate becomes ρ' only if ρ − ρ' > ε

For each metric m_j, axis ``cooldown_rule``:

    skip:            if improved(m_j): b ← m_j, n ← 0  else n ← n + 1
                     if c > 0: c ← c − 1, n ← 0
                     elif due(n): reduce; c ← C; n ← 0
    resume_at_zero:  if c > 0: c ← c − 1, n ← 0
                     if improved(m_j): b ← m_j, n ← 0
                     elif c = 0: n ← n + 1; if due(n) and ρ > φ: reduce; c ← C; n ← 0

(under resume_at_zero the step on which c reaches 0 already counts, and nothing is reset when
the rate is already at its floor).  Axis ``decision_timing``: next — the state after m_0..m_{k−1}
sets the rate of update k (k = 0 uses η); same — the state after m_0..m_k sets it (the metric
passed with update k scales update k).
"""
from __future__ import annotations

from fractions import Fraction

import mpmath

from ..numeric import fmax

# one cycle of the metric stream: an improving start, a plateau, an improvement exactly at the
# probe's relative threshold (6 → 5.625 = 6·(1 − 1/16)), one exactly at the probe's absolute
# threshold (5.625 → 5.5625 = 5.625 − 1/16), a long plateau, a spike, a last step down of 1/16 and a
# plateau long enough for the default patience of 10; each later cycle is the same, halved.
CYCLE = ("8", "7", "6", "6", "6", "6", "5.625", "5.625", "5.5625", "5.5625", "5.5625", "5.5625",
         "5.5625", "5.5625", "5.5625", "7", "5.5", "5.5", "5.5", "5.5", "5.5", "5.5", "5.5", "5.5",
         "5.5", "5.5", "5.5", "5.5", "5.5", "5.5", "5.5", "5.5")


def metrics(steps):
    """The deterministic metric stream m_0 .. m_{steps−1}: CYCLE[j mod 32] / 2^⌊j/32⌋."""
    out = []
    for j in range(steps):
        q = Fraction(CYCLE[j % len(CYCLE)]) / 2 ** (j // len(CYCLE))
        out.append(mpmath.mpf(q.numerator) / q.denominator)  # dyadic: exact
    return out


def horizon(h):
    return int(h.total_steps)


def improved(m, best, h):
    if h.mode == "min":
        return m < best * (1 - h.rtol) - h.atol
    return m > best * (1 + h.rtol) + h.atol


def due(n, h, sem):
    P = int(h.patience)
    return n > P if sem.patience_rule == "exceeds" else n >= P if sem.patience_rule == "reaches" else n == P


def run(h, sem, steps, metrics=None):
    floor = h.min_lr if sem.floor == "absolute" else h.min_lr * h.lr
    best = mpmath.inf if h.mode == "min" else -mpmath.inf
    n, c, rate = 0, 0, +h.lr
    C = int(h.cooldown)

    def reduced(rate):
        new = fmax(rate * h.factor, floor)
        return new if rate - new > h.eps else rate

    def record():
        return {"lr": rate, "state": {"best": best, "num_bad": n, "cooldown": c}}

    out = []
    for j in range(steps):
        if sem.decision_timing == "next":
            out.append(record())
        m = metrics[j]
        if sem.cooldown_rule == "skip":
            if improved(m, best, h):
                best, n = m, 0
            else:
                n += 1
            if c > 0:
                c, n = c - 1, 0
            elif due(n, h, sem):
                rate, c, n = reduced(rate), C, 0
        else:
            if c > 0:
                c, n = c - 1, 0
            if improved(m, best, h):
                best, n = m, 0
            elif c == 0:
                n += 1
                if due(n, h, sem) and rate > floor:
                    rate, c, n = reduced(rate), C, 0
        if sem.decision_timing == "same":
            out.append(record())
    return out
