"""One-cycle learning rate (Smith 2018; Smith & Topin 2019, "super-convergence"), with cycled momentum.

Peak η (hyper ``lr``), total steps T, start fraction p (``pct_start``), η₀ = η/d (``div_factor``),
final η_end = η₀/f (``final_div_factor``); momentum between m (``base_momentum``) and M
(``max_momentum``).  Update index k = 0, 1, ... (k = 0 is the first update).

Phase boundaries 0 = b₀ < b₁ (< b₂) < b_E.  The boundary rule B (axis ``phase_ends``) maps a
position x·T to an index: exact B(x) = xT; minus_one B(x) = xT − 1 (torch); floor B(x) = ⌊xT⌋
(optax).  The end b_E = T (exact, floor) or T − 1 (minus_one).

    two phases:    b₁ = B(p);  η₀ → η on [b₀, b₁], η → η_end on [b₁, b_E];  momentum M → m → M
    three phases:  b₁ = B(p);  b₂ = 2·b₁ (axis ``middle_end`` = symmetric) or B(p_final) (pct_final)
                   η₀ → η → η₀ → η_end;  momentum M → m → M → M

Update k lies in the first phase i with k ≤ b_i (the last phase when k > b_E); with
π_k = (k − b_{i−1})/(b_i − b_{i−1}) and the phase going from a to b (``anneal``):

    cos:     a_k = b + (a − b)·½(1 + cos(π π_k))
    linear:  a_k = a + (b − a)·π_k

After the end (axis ``after_end``): clamped — k ≥ b_E gives η_end and M; raise — the last phase's
formula is used (π_k > 1 extrapolates) up to k = T, and k > T is an error: those records carry
lr = +∞ and ``raises = True`` (no finite learning rate can match them).
"""
from __future__ import annotations

import mpmath

from ..errors import UserError


def validate(h, where):
    T, p = int(h.total_steps), h.pct_start
    if not p * T > 1:
        raise UserError(f"{where}: pct_start·total_steps must exceed 1 (the warmup phase needs a step)")
    if h.three_phase:
        if not 2 * p * T < T + 1:
            raise UserError(f"{where}: three_phase needs 2·pct_start·total_steps < total_steps + 1")
        if not p < h.pct_final < 1:
            raise UserError(f"{where}: three_phase needs pct_start < pct_final < 1")


def horizon(h):
    return int(h.total_steps)


def _floor(x):
    """⌊x⌋ of the decimal a hyperparameter was read from: x within a few working-precision ulps of
    an integer n is n (mpf('0.3')·20 is 5.999…9 in binary, the decimal 0.3·20 is 6)."""
    n = mpmath.nint(x)
    if abs(x - n) <= abs(x) * mpmath.mpf(2) ** (8 - mpmath.mp.prec):
        return int(n)
    return int(mpmath.floor(x))


def boundary(x, h, sem):
    T = int(h.total_steps)
    if sem.phase_ends == "exact":
        return x * T
    if sem.phase_ends == "minus_one":
        return x * T - 1
    return mpmath.mpf(_floor(x * T))


def phases(h, sem):
    """[(start, end, (lr_from, lr_to), (momentum_from, momentum_to))] in order."""
    T = int(h.total_steps)
    peak, m, M = h.lr, h.base_momentum, h.max_momentum
    init = peak / h.div_factor
    final = init / h.final_div_factor
    end = mpmath.mpf(T - 1 if sem.phase_ends == "minus_one" else T)
    b1 = boundary(h.pct_start, h, sem)
    if not h.three_phase:
        return [(mpmath.mpf(0), b1, (init, peak), (M, m)), (b1, end, (peak, final), (m, M))]
    b2 = 2 * b1 if sem.middle_end == "symmetric" else boundary(h.pct_final, h, sem)
    return [(mpmath.mpf(0), b1, (init, peak), (M, m)), (b1, b2, (peak, init), (m, M)),
            (b2, end, (init, final), (M, M))]


def anneal(a, b, pct, kind):
    if kind == "cos":
        return b + (a - b) * (1 + mpmath.cos(mpmath.pi * pct)) / 2
    return a + (b - a) * pct


def point(k, h, sem):
    """(lr, momentum) of update k, or None where the schedule raises (after_end = raise, k > T)."""
    table = phases(h, sem)
    last_start, end, lr_ends, mom_ends = table[-1]
    if k > end and sem.after_end == "clamped":
        return lr_ends[1], mom_ends[1]
    if k > int(h.total_steps):
        return None
    for start, stop, lrs, moms in table:
        if k <= stop or stop == end:
            pct = (k - start) / (stop - start)
            return anneal(*lrs, pct, h.anneal), anneal(*moms, pct, h.anneal)


def value(k, h, sem):
    out = point(k, h, sem)
    if out is None:
        raise UserError(f"one_cycle: update {k} is past total_steps = {int(h.total_steps)} (the schedule raises)")
    return out[0]


def run(h, sem, steps, metrics=None):
    records = []
    for k in range(steps):
        out = point(k, h, sem)
        if out is None:  # the framework raises: there is no learning rate for this update
            records.append({"lr": mpmath.inf, "momentum": mpmath.nan, "raises": True})
        else:
            records.append({"lr": out[0], "momentum": out[1]})
    return records
