"""Cyclical learning rate (Smith 2017, CLR): triangular, triangular2 and exp_range, with cycled momentum.

Lower bound η_lo (hyper ``min_lr``), upper bound η (hyper ``lr``), an up leg of U updates and a down
leg of D updates (U = D in the paper), cycle length C = U + D.  For update k = 0, 1, ... (k = 0 is
the first update):

    c_k = ⌊1 + k/C⌋                   (1-based cycle number)
    x_k = 1 + k/C − c_k               (position in the cycle, 0 ≤ x_k < 1)
    r   = U/C
    s_k = x_k/r             if x_k ≤ r (rising)
          (x_k − 1)/(r − 1) otherwise (falling)
    f_k = 1                 mode triangular
          1/2^(c_k − 1)     mode triangular2  (the amplitude halves every cycle)
          γ^k               mode exp_range
    η_k = η_lo + (η − η_lo)·s_k·f_k
    μ_k = M − (M − m)·s_k·f_k          (momentum between m = base_momentum and M = max_momentum)

η_k = η_lo and μ_k = M at the start of every cycle; the peak η·f is reached at k = (c − 1)C + U.
"""
from __future__ import annotations

from fractions import Fraction

import mpmath


def horizon(h):
    return int(h.step_size_up) + int(h.step_size_down)


def shape(k, h):
    """(s_k, f_k): the triangle height in [0, 1] and the amplitude factor."""
    U, D = int(h.step_size_up), int(h.step_size_down)
    C = U + D
    cycle = (k + C) // C  # ⌊1 + k/C⌋, exact in integers
    x = Fraction(k, C) + 1 - cycle
    r = Fraction(U, C)
    s = x / r if x <= r else (x - 1) / (r - 1)
    if h.mode == "triangular":
        f = mpmath.mpf(1)
    elif h.mode == "triangular2":
        f = mpmath.mpf(1) / mpmath.mpf(2) ** (cycle - 1)
    else:
        f = h.gamma ** k
    return mpmath.mpf(s.numerator) / s.denominator, f


def run(h, sem, steps, metrics=None):
    out = []
    for k in range(steps):
        s, f = shape(k, h)
        out.append({"lr": h.min_lr + (h.lr - h.min_lr) * s * f,
                    "momentum": h.max_momentum - (h.max_momentum - h.base_momentum) * s * f})
    return out
