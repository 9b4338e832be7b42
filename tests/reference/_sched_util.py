"""Helpers for the schedule unit tests: evaluate a schedule exactly (one value, or the records of a run),
compare with exact values."""
from fractions import Fraction

import mpmath

from optconform.reference.model import Namespace, get
from optconform.reference.numeric import precision
from optconform.reference.trajectory import _schedule_steps

TINY = mpmath.mpf(10) ** -55


def _resolve(alg, profile, semantics, hyper):
    """The hyperparameters (strings except bool, int, list, tuple) and the semantics with overrides."""
    h = alg.resolve(profile, {n: (v if isinstance(v, (bool, int, list, tuple)) else str(v)) for n, v in hyper.items()})
    return h, Namespace(dict(alg.profiles[profile].semantics, **(semantics or {})))


def evaluator(name):
    """value(k, semantics=None, profile="spec", **hyper): the schedule's η at update k."""
    alg = get(name)

    def value(k, semantics=None, profile="spec", **hyper):
        h, sem = _resolve(alg, profile, semantics, hyper)
        with precision(64):
            return alg.impl.value(k, h, sem)

    return value


def records(name, steps, semantics=None, profile="spec", **hyper):
    """[(lr, extra)] of updates k = 0 .. steps−1 under ``profile`` with ``semantics`` overrides."""
    alg = get(name)
    h, sem = _resolve(alg, profile, semantics, hyper)
    metrics = alg.impl.metrics(steps) if hasattr(alg.impl, "metrics") else None
    with precision(64):
        return [(s.lr, s.extra) for s in _schedule_steps(alg, h, sem, steps, metrics)]


def lrs(name, steps, semantics=None, profile="spec", **hyper):
    return [lr for lr, _ in records(name, steps, semantics, profile, **hyper)]


def frac(x) -> Fraction:
    """An mpf as an exact Fraction (mpf values are dyadic)."""
    m, e = mpmath.mpf(x).man_exp
    return Fraction(m) * Fraction(2) ** e


def close(x, exact) -> bool:
    """|x − exact| within 1e-55 relative (the reference runs at 64 digits); exact: Fraction, str or mpf."""
    exact = mpmath.mpf(exact.numerator) / exact.denominator if isinstance(exact, Fraction) else mpmath.mpf(exact)
    return abs(mpmath.mpf(x) - exact) <= TINY * max(1, abs(exact))
