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


def _exact_view(case, exact: list) -> tuple:
    """The exact records as :func:`_fails` reads them, once per case: every step's values and the
    ulp of float64 at each value's scale σ (σ_t looks at steps t and t − 1 only, so a prefix of
    the view is the view of a prefix)."""
    from .tolerance import flatten, scales, ulp

    kind = case.algorithm.kind
    xs = [flatten(r, kind) for r in exact]
    if kind == "optimizer":
        sigma = scales([x for t in case.params.values() for x in t.data], xs)
    else:
        sigma = scales([], xs, base_lr=case.groups[0][1].lr)
    return xs, [[ulp(s, "float64") for s in row] for row in sigma]


def _fails(case, view: tuple, other: list, spread: list, steps: int) -> bool:
    """Whether ``other`` (records) fails the float64 bound around the first ``steps`` steps of the
    exact records (``view``, :func:`_exact_view`)."""
    from .tolerance import bound, finite, flatten

    kind = case.algorithm.kind
    xs, units = view
    ys = [flatten(r, kind) for r in other]
    for i, (row, alt, urow) in enumerate(zip(xs[:steps], ys, units)):
        b = bound(i + 1, spread[i] if i < len(spread) else 0.0, "float64")
        for x, y, u in zip(row, alt, urow):
            if not (finite(x) and finite(y)):
                same = (mpmath.isnan(x) and mpmath.isnan(y)) or x == y
                if not same:
                    return True
                continue
            if abs(y - x) / u > b:
                return True
    return len(ys) < min(steps, len(xs))


# an alternative runs first for 1 step, then (on a long trajectory) for 12: one that already fails
# there is ruled out without running it to the end (the first steps of a run do not depend on how
# many follow, so the verdict is the same). Measured on adam, amsgrad and lookahead: of 754
# alternatives ruled out, 631 fail at step 1 and the rest by step 4.
PREFIX_STEPS = (1, 12)


def _rules_out(case, other, view: tuple, spread: list) -> bool:
    """Whether the trajectory of ``other`` (``case`` with one axis changed) fails the float64 bound
    around the exact records (``view``); False where the reference cannot run it."""
    from .trajectory import run

    try:
        for steps in PREFIX_STEPS:
            if 2 * steps < case.steps:
                if _fails(case, view, run(dataclasses.replace(other, steps=steps)), spread, steps):
                    return True
        return _fails(case, view, run(other), spread, case.steps)
    except (ArithmeticError, ValueError, UserError):
        return False


def separations(case, records: list, spread: list | None) -> dict:
    """{axis: [the other values of the axis that this case's trajectory rules out]}, over the axes
    active in the case (an alternative the reference cannot run is left out)."""
    alg = case.algorithm
    view = _exact_view(case, records)
    out = {}
    for axis, value in case.effective_semantics().items():
        ruled_out = []
        for alt in alg.axes[axis]:
            if alt == value:
                continue
            semantics = dict(case.profile.semantics, **{axis: alt})
            other = dataclasses.replace(case, profile=dataclasses.replace(case.profile, semantics=semantics))
            if _rules_out(case, other, view, spread or []):
                ruled_out.append(alt)
        if ruled_out:
            out[axis] = ruled_out
    return out


def flags(separates: dict) -> list:
    return sorted({flag_of(axis) for axis in separates})
