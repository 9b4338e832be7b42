"""Which axis values a vector separates (Wycheproof-style flags).

A vector holds the exact trajectory of one profile's semantics on one scenario. For every axis
active in it (``Case.effective_semantics``) and every other value of that axis, the reference is
rerun with only that value changed; the value is *separated* when that trajectory fails the
vector under the float64 bound of spec/tolerance.md (max(8t, 4·S_t) ulps of float64 at σ_t, S_t
the vector's float64 rounding spread; a non-finite value must meet the same non-finite value) —
the exclusion analysis of tests/test_framework_profiles.py with the reference's alternative in
place of a framework's run. So an implementation that made that choice fails this vector in
float64, and a port that reads only ``vectors/`` knows what each file tests.

The vector records ``separates`` = {axis: [values it rules out]} and ``flags``, the sorted flag
names of those axes: each axis's ``flag`` in reference/axes.toml (an axis declared in one
algorithm's profile file without one is flagged by its name in CamelCase).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import sys
import tomllib

import mpmath

from .errors import UserError
from .model import AXES_FILE


@functools.lru_cache(maxsize=1)
def _declared_flags() -> dict:
    with open(AXES_FILE, "rb") as fh:
        raw = tomllib.load(fh)
    return {name: body["flag"] for name, body in raw.items() if isinstance(body, dict) and "flag" in body}


def flag_of(axis: str) -> str:
    """The flag name of an axis (reference/axes.toml ``flag``, else its name in CamelCase)."""
    return _declared_flags().get(axis) or "".join(part.capitalize() for part in axis.split("_"))


def flag_definitions() -> dict:
    """{flag: axis} of every axis of every algorithm."""
    from .model import algorithms

    out = {}
    for alg in algorithms().values():
        for axis in alg.axes:
            out[flag_of(axis)] = axis
    return dict(sorted(out.items()))


def exact_view(case, exact: list) -> tuple:
    """(xs, σ): every step's values of the exact records, in vector order (tolerance.flatten), and
    each value's scale σ (tolerance.scales), once per case: the rounding spread and the
    separations read both (σ_t looks at steps t and t − 1 only, so a prefix of the view is the
    view of a prefix)."""
    from .tolerance import flatten, scales

    kind = case.algorithm.kind
    xs = [flatten(r, kind) for r in exact]
    if kind == "optimizer":
        return xs, scales([x for t in case.params.values() for x in t.data], xs)
    return xs, scales([], xs, base_lr=case.groups[0][1].lr)


def _float64_units(view: tuple) -> list:
    """The ulp of float64 at each σ of ``view``, as a float (``math.inf`` past float's range)."""
    from .tolerance import lead_exponent, ulp_float

    return [[ulp_float(lead_exponent(s), "float64") for s in row] for row in view[1]]


_SMALLEST_NORMAL = sys.float_info.min


def _fails(case, view: tuple, other: list, spread: list, steps: int, units: list | None = None) -> bool:
    """Whether ``other`` (records) fails the float64 bound around the first ``steps`` steps of the
    exact records (``view``, :func:`exact_view`): |y − x| / ulp(σ) > bound, with y − x at the
    working precision.

    Each element is first compared in floats: with u the ulp as a float and b·u a normal float
    (exact: b times a power of two), the float f of |y − x| is rounded monotonically, so f > b·u
    implies |y − x| > b·u and f < b·u implies |y − x| < b·u; only f = b·u, or b·u out of float's
    normal range, takes the exact comparison."""
    from .tolerance import bound, finite, flatten, ulp

    kind = case.algorithm.kind
    xs, sigma = view
    units = units if units is not None else _float64_units(view)
    prec, rounding = mpmath.mp._prec_rounding
    sub, to_float, zero = mpmath.libmp.mpf_sub, mpmath.libmp.to_float, mpmath.libmp.fzero
    ys = [flatten(r, kind) for r in other]
    for i, (row, alt, urow, srow) in enumerate(zip(xs[:steps], ys, units, sigma)):
        b = bound(i + 1, spread[i] if i < len(spread) else 0.0, "float64")
        for x, y, u, s in zip(row, alt, urow, srow):
            xr, yr = getattr(x, "_mpf_", None), getattr(y, "_mpf_", None)
            if xr is not None and yr is not None and (xr[1] or xr == zero) and (yr[1] or yr == zero):
                limit = b * u
                if _SMALLEST_NORMAL <= limit < math.inf:
                    f = abs(to_float(sub(yr, xr, prec, rounding), rnd=rounding))
                    if f > limit:
                        return True
                    if f < limit:
                        continue
            elif not (finite(x) and finite(y)):
                same = (mpmath.isnan(x) and mpmath.isnan(y)) or x == y
                if not same:
                    return True
                continue
            if abs(y - x) / ulp(s, "float64") > b:
                return True
    return len(ys) < min(steps, len(xs))


# an alternative runs first for 1 step, then (on a long trajectory) for 12: one that already fails
# there is ruled out without running it to the end (the first steps of a run do not depend on how
# many follow, so the verdict is the same). Measured on adam, amsgrad and lookahead: of 754
# alternatives ruled out, 631 fail at step 1 and the rest by step 4.
PREFIX_STEPS = (1, 12)


def _rules_out(case, other, view: tuple, spread: list, units: list | None = None) -> bool:
    """Whether the trajectory of ``other`` (``case`` with one axis changed) fails the float64 bound
    around the exact records (``view``); False where the reference cannot run it."""
    from .trajectory import run

    try:
        for steps in PREFIX_STEPS:
            if 2 * steps < case.steps:
                if _fails(case, view, run(dataclasses.replace(other, steps=steps)), spread, steps, units):
                    return True
        return _fails(case, view, run(other), spread, case.steps, units)
    except (ArithmeticError, ValueError, UserError):
        return False


def separations(case, records: list, spread: list | None, view: tuple | None = None) -> dict:
    """{axis: [the other values of the axis that this case's trajectory rules out]}, over the axes
    active in the case (an alternative the reference cannot run is left out); ``view``: the
    records' :func:`exact_view`, where the caller has it."""
    alg = case.algorithm
    view = view if view is not None else exact_view(case, records)
    units = _float64_units(view)
    out = {}
    for axis, value in case.effective_semantics().items():
        ruled_out = []
        for alt in alg.axes[axis]:
            if alt == value:
                continue
            semantics = dict(case.profile.semantics, **{axis: alt})
            other = dataclasses.replace(case, profile=dataclasses.replace(case.profile, semantics=semantics))
            if _rules_out(case, other, view, spread or [], units):
                ruled_out.append(alt)
        if ruled_out:
            out[axis] = ruled_out
    return out


def flags(separates: dict) -> list:
    return sorted({flag_of(axis) for axis in separates})
