"""The tolerance policy of spec/tolerance.md, as functions (no framework imported).

``ulp(x, dtype)`` — the unit in the last place of ``dtype`` at ``x``;
``bound(t, spread_t, dtype)`` — the bound after ``t`` steps, in ulps: the one bound the checker
(adapters/checker.py, which also measures the errors) and every test apply;
``flatten``, ``scales``, ``rounding_spread`` — the rounding spread S_t, measured when a vector is
generated.
"""
from __future__ import annotations

import math

import gmpy2
import mpmath

from .numeric import FORMATS, GMPY_ROUNDING, MPFR, mpf, mpfr_active, refuse_mpf, to_mpfr

_ZERO = mpmath.libmp.fzero
FLOAT64_ULPS_PER_STEP = 8  # the floor of the float64 bound, per step
LOW_ULPS_PER_STEP = 2  # the floor of the float32, bfloat16 and float16 bound, per step
SPREAD_FACTOR = 4  # the multiple of the measured rounding spread S_t that the bound allows


def ulp(x, dtype: str = "float64"):
    """``2^(max(floor(log2|x|), emin) − p + 1)``; at zero the smallest subnormal (an MPFR value in
    an MPFR emulation, numeric.mpfr_arithmetic)."""
    k = ulp_exponent(lead_exponent(x), dtype)
    if mpfr_active():
        return gmpy2.mul_2exp(gmpy2.mpfr(1), k)
    return mpmath.ldexp(mpf(1), k)


def ulp_exponent(e: int | None, dtype: str) -> int:
    """k with ulp(x, dtype) = 2^k = 2^(max(e, emin) − p + 1), from ``e = lead_exponent(x)``."""
    fmt = FORMATS[dtype]
    return (fmt.emin if e is None else max(e, fmt.emin)) - fmt.precision + 1


def lead_exponent(x) -> int | None:
    """floor(log2|x|), the exponent of the leading bit of a finite non-zero ``x``; None for zero
    and non-finite values (whose ulp is that of zero)."""
    if type(x) is MPFR:
        if x.precision > gmpy2.get_context().precision:
            x = +x  # read at the working precision, as mpf(x) reads an mpf
        return gmpy2.get_exp(x) - 1 if gmpy2.is_regular(x) else None  # MPFR writes x = 0.1f·2^e
    raw = x._mpf_ if isinstance(x, mpmath.mpf) else None
    if raw is None or raw[3] > mpmath.mp.prec:  # read at the working precision, as mpf(x) reads it
        raw = mpf(x)._mpf_
    _sign, man, exp, bc = raw
    if not man:  # zero, ±∞ and NaN have no significand
        return None
    return exp + bc - 1


def ulp_float(e: int | None, dtype: str) -> float:
    """``float(ulp(x, dtype))`` from ``e = lead_exponent(x)``, without mpmath (the checker's fast
    path: every element of every step of every case)."""
    try:
        return math.ldexp(1.0, ulp_exponent(e, dtype))
    except OverflowError:
        return math.inf


def bound(t: int, spread_t: float, dtype: str) -> float:
    """The bound of spec/tolerance.md after step ``t``, in ulps of ``dtype`` at σ_t:

        max(8t, 4·S_t)   float64          max(2t, 4·S_t)   float32, bfloat16, float16

    with S_t the vector's rounding spread for ``dtype`` at step t (0 where the vector has none).
    A schedule's value for update k is held to t = k + 1; one-step mode to t = 1 (one step
    cannot accumulate error)."""
    per_step = FLOAT64_ULPS_PER_STEP if dtype == "float64" else LOW_ULPS_PER_STEP
    return max(float(per_step * max(int(t), 1)), SPREAD_FACTOR * float(spread_t))


# --- the rounding spread (spec/tolerance.md), computed when a vector is generated -------------------


def flatten(record, kind: str) -> list:
    """A trajectory record's values in vector order: parameters, state entries, learning rates
    (optimizers); the learning rate and any momentum (schedules)."""
    from .tensor import Tensor

    if kind == "optimizer":
        out = []
        for p in record.params.values():
            out += p.data
        for entries in record.state.values():
            for value in entries.values():
                out += value.data if isinstance(value, Tensor) else [value]
        return out + list(record.lr)
    return [record.lr] + ([record.extra["momentum"]] if "momentum" in record.extra else [])


def scales(initial: list, steps: list, base_lr=None) -> list:
    """σ for every element of every step: max(|x_t|, |x_{t−1}|); schedules also |η|.

    ``initial`` holds the values before the first step (the initial parameters, zeros for the
    state); elements that appear only later start from zero. Non-finite values count as 0.
    """
    prec, rounding = mpmath.mp._prec_rounding
    mabs, gt, make = mpmath.libmp.mpf_abs, mpmath.libmp.mpf_gt, mpmath.mp.make_mpf

    def magnitude(x):
        # |x| at the working precision as a raw value, 0 for ±∞ and NaN; None where x is not an mpf
        raw = getattr(x, "_mpf_", None)
        if raw is None:
            return None
        return mabs(raw, prec, rounding) if raw[1] else _ZERO

    floor = mpf(0) if base_lr is None else abs(mpf(base_lr))
    floor_raw = floor._mpf_
    prev = [abs(mpf(x))._mpf_ for x in initial]
    if not all(r[1] or r == _ZERO for r in (floor_raw, *prev)):  # a NaN or ∞: mpmath's comparisons
        return _scales_slow(initial, steps, floor)
    out = []
    for xs in steps:
        cur = []
        for x in xs:
            raw = magnitude(x)
            if raw is None:  # not an mpf (an integer counter): as mpmath reads it
                raw = mpf(abs(x))._mpf_ if mpmath.isfinite(x) else _ZERO
            cur.append(raw)
        if len(prev) < len(cur):
            prev = prev + [_ZERO] * (len(cur) - len(prev))
        row = []
        for c, q in zip(cur, prev):
            top = q if gt(q, c) else c
            row.append(make(floor_raw if gt(floor_raw, top) else top))
        out.append(row)
        prev = cur
    return out


def _scales_slow(initial: list, steps: list, floor) -> list:
    """:func:`scales` with mpmath's own comparisons (a non-finite floor)."""
    out = []
    prev = [abs(mpf(x)) for x in initial]
    for xs in steps:
        cur = [abs(x) if mpmath.isfinite(x) else mpf(0) for x in xs]
        if len(prev) < len(cur):
            prev = prev + [mpf(0)] * (len(cur) - len(prev))
        out.append([max(c, p, floor) for c, p in zip(cur, prev)])
        prev = cur
    return out


def rounding_spread(exact: list, emulations: list, step_scales: list, dtype: str) -> list:
    """S_t: the largest error of any emulated run, in ulps of ``dtype`` at σ, over every element up
    to step t (a running maximum). Non-finite values are skipped.

    The error of an element is float(y − x), the difference at the working precision, over the
    ulp: this loop visits every element of every emulated step of every vector generated, so it
    reads mpf's raw values (see :func:`_float_difference`, which it inlines). An emulation run in
    MPFR (trajectory.run_optimizer, ``arithmetic="mpfr"``) holds MPFR values: the difference is
    then MPFR's, at the same precision and rounding, from the exact values converted once."""
    prec, rounding = mpmath.mp._prec_rounding
    sub, to_float = mpmath.libmp.mpf_sub, mpmath.libmp.to_float
    worst = 0.0
    out = []
    for t, (xs, ss) in enumerate(zip(exact, step_scales)):
        rows = [emul[t] for emul in emulations if t < len(emul)]
        if rows:
            units = [ulp_float(lead_exponent(s), dtype) for s in ss]
            exact_mpfr = None
            for ys in rows:
                if any(type(y) is MPFR for y in ys):
                    if exact_mpfr is None:
                        exact_mpfr = [to_mpfr(x) if finite(x) else None for x in xs]
                    worst = max(worst, _largest_mpfr_error(exact_mpfr, units, ys, prec, rounding))
                    continue
                for x, u, y in zip(xs, units, ys):
                    xr, yr = getattr(x, "_mpf_", None), getattr(y, "_mpf_", None)
                    if xr is not None and yr is not None:
                        if not ((xr[1] or xr == _ZERO) and (yr[1] or yr == _ZERO)):
                            continue  # a non-finite value
                        e = abs(to_float(sub(yr, xr, prec, rounding), rnd=rounding)) / u
                    else:
                        if y is None or not (finite(x) and finite(y)):
                            continue
                        e = abs(_float_difference(y, x)) / u
                    if e > worst:
                        worst = e
        out.append(worst)
    return out


def _largest_mpfr_error(xs: list, units: list, ys: list, prec: int, rounding: str) -> float:
    """max |float(y − x)| / u over the elements of one emulated step held in MPFR (an MPFR run meets
    no value that is not finite), y − x and the float rounded as mpmath's at ``prec``, ``rounding``;
    an exact value that is not finite (None in ``xs``) is skipped; an mpf among ``ys`` is an
    emulation that met mpmath's arithmetic (numeric.MixedArithmetic)."""
    refuse_mpf(ys)
    worst = 0.0
    with gmpy2.context(precision=prec, round=GMPY_ROUNDING[rounding], emax=gmpy2.get_emax_max(),
                       emin=gmpy2.get_emin_min()):
        for x, u, y in zip(xs, units, ys):
            if x is not None:
                e = abs(float(y - x)) / u
                if e > worst:
                    worst = e
    return worst


def _float_difference(y, x) -> float:
    """float(y − x), the difference taken at the working precision as mpf's − takes it (raw
    values, no mpf in between)."""
    yr, xr = getattr(y, "_mpf_", None), getattr(x, "_mpf_", None)
    if yr is None or xr is None:
        return float(y - x)
    prec, rounding = mpmath.mp._prec_rounding
    return mpmath.libmp.to_float(mpmath.libmp.mpf_sub(yr, xr, prec, rounding), rnd=rounding)


def finite(x) -> bool:
    """mpmath.isfinite, read from an mpf's raw value (zero, or a non-zero significand) where it has
    one: the spread and the flags test every element of every emulated step."""
    raw = getattr(x, "_mpf_", None)
    if raw is None:
        return mpmath.isfinite(x)
    return bool(raw[1]) or raw == _ZERO
