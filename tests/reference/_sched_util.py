"""Helpers for the schedule unit tests: evaluate a schedule exactly, compare with exact values."""
from fractions import Fraction

import mpmath

from optconform.reference.model import Namespace, get
from optconform.reference.numeric import precision

TINY = mpmath.mpf(10) ** -55


def evaluator(name):
    alg = get(name)

    def value(k, semantics=None, profile="spec", **hyper):
        h = alg.resolve(profile, {n: (v if isinstance(v, (bool, int, list, tuple)) else str(v))
                                  for n, v in hyper.items()})
        sem = dict(alg.profiles[profile].semantics, **(semantics or {}))
        with precision(64):
            return alg.impl.value(k, h, Namespace(sem))

    return value


def frac(x) -> Fraction:
    """An mpf as an exact Fraction (mpf values are dyadic)."""
    m, e = mpmath.mpf(x).man_exp
    return Fraction(m) * Fraction(2) ** e


def close(x, exact) -> bool:
    """|x − exact| within 1e-55 relative (the reference runs at 64 digits)."""
    exact = mpmath.mpf(exact.numerator) / exact.denominator if isinstance(exact, Fraction) else mpmath.mpf(exact)
    return abs(mpmath.mpf(x) - exact) <= TINY * max(1, abs(exact))
