"""The tolerance policy of spec/tolerance.md, as functions (no framework imported).

``ulp(x, dtype)`` — the unit in the last place of ``dtype`` at ``x``;
``float64_bound(t)`` — the float64 bound after ``t`` steps, in ulps;
``error_ulps(y, exact, scale, dtype)`` — an implementation value's error in ulps at ``scale``.
"""
from __future__ import annotations

import math

import mpmath

from .numeric import FORMATS, mpf

FLOAT64_ULPS_PER_STEP = 8


def ulp(x, dtype: str = "float64"):
    """``2^(max(floor(log2|x|), emin) − p + 1)``; at zero the smallest subnormal."""
    fmt = FORMATS[dtype]
    x = abs(mpf(x))
    if x == 0 or not mpmath.isfinite(x):
        e = fmt.emin
    else:
        _, exp = mpmath.frexp(x)
        e = max(int(exp) - 1, fmt.emin)
    return mpf(2) ** (e - fmt.precision + 1)


def float64_ulp(x: float) -> float:
    """Fast float version of :func:`ulp` for float64."""
    x = abs(x)
    if x == 0 or not math.isfinite(x):
        return 2.0 ** -1074
    m, e = math.frexp(x)
    return 2.0 ** (max(e - 1, -1022) - 52)


def float64_bound(t: int) -> int:
    """Float64 agreement after ``t`` steps: ``8·t`` ulps (spec/tolerance.md)."""
    return FLOAT64_ULPS_PER_STEP * max(int(t), 1)


def error_ulps(y: float, exact, scale: float, dtype: str = "float64") -> float:
    """``|y − exact| / ulp_dtype(scale)`` (infinite when finiteness differs)."""
    exact = mpf(exact)
    if not mpmath.isfinite(exact) or not math.isfinite(y):
        same = (mpmath.isnan(exact) and y != y) or (mpmath.isinf(exact) and math.isinf(y) and (exact > 0) == (y > 0))
        return 0.0 if same else math.inf
    diff = abs(mpf(y) - exact)
    unit = float64_ulp(scale) if dtype == "float64" else float(ulp(scale, dtype))
    return float(diff / unit)
