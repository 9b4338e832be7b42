"""Polynomial decay: endpoints, power laws, the clamp past T and Keras's cycle."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator, frac

value = evaluator("polynomial")


def test_endpoints_and_quadratic_midpoint():
    kw = dict(lr="0.5", total_steps=4, power="2", end_lr="0.0625")
    assert frac(value(0, **kw)) == Fraction(1, 2)
    assert frac(value(2, **kw)) == Fraction(7, 16) * Fraction(1, 4) + Fraction(1, 16)
    assert frac(value(4, **kw)) == Fraction(1, 16)
    assert frac(value(9, **kw)) == Fraction(1, 16)  # held past T


def test_fractional_power():
    kw = dict(lr="1", total_steps=4, power="0.5")
    assert close(value(3, **kw), Fraction(1, 2))  # (1/4)^(1/2)
    assert value(4, **kw) == 0


def test_cycle_restarts_below_the_peak():
    kw = dict(lr="1", total_steps=4, power="1", end_lr="0", cycle=True)
    assert value(4, **kw) == 0  # k = T is the end of the first cycle
    assert close(value(5, **kw), Fraction(3, 8))  # D = 8: 1 − 5/8, not back to 1
    assert value(8, **kw) == 0
    assert close(value(9, **kw), Fraction(1, 4))  # D = 12: 1 − 9/12


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(0, 80), st.sampled_from(["0.5", "1", "1.5", "2"]))
def test_monotone_and_reaches_the_end(T, k, p):
    kw = dict(lr="0.5", total_steps=T, power=p, end_lr="0.125")
    v = value(k, **kw)
    assert value(k + 1, **kw) <= v
    assert (frac(v) == Fraction(1, 8)) == (k >= T)
    x = Fraction(max(T - k, 0), T)
    with mpmath.workdps(80):
        exact = mpmath.mpf(3) / 8 * (mpmath.mpf(x.numerator) / x.denominator) ** mpmath.mpf(p) + mpmath.mpf(1) / 8
    assert abs(v - exact) < mpmath.mpf(10) ** -58
