"""Cosine annealing: endpoints, the quarter points, floor forms, clamped vs periodic (period 2T)."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator

value = evaluator("cosine")
KW = dict(lr="0.5", total_steps=12, eta_min="0.125")


def test_endpoints_and_midpoint():
    assert close(value(0, **KW), Fraction(1, 2))
    assert close(value(6, **KW), Fraction(5, 16))  # cos(π/2) = 0: the mean of 0.5 and 0.125
    assert close(value(12, **KW), Fraction(1, 8))
    assert close(value(4, **KW), Fraction(1, 8) + Fraction(3, 8) * Fraction(3, 4))  # cos(π/3) = 1/2
    assert close(value(8, **KW), Fraction(1, 8) + Fraction(3, 8) * Fraction(1, 4))


def test_relative_floor_and_exponent():
    assert close(value(12, {"floor": "relative"}, **KW), Fraction(1, 16))
    assert close(value(6, exponent="2", **KW), Fraction(1, 8) + Fraction(3, 8) * Fraction(1, 4))


def test_past_horizon():
    assert close(value(18, **KW), Fraction(1, 8))  # clamped
    periodic = {"past_horizon": "periodic"}
    assert close(value(18, periodic, **KW), Fraction(5, 16))  # back up to the mean
    assert close(value(24, periodic, **KW), Fraction(1, 2))  # the peak again at 2T


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(0, 90))
def test_periodic_has_period_2T_and_symmetry(T, k):
    kw = dict(lr="1", total_steps=T, eta_min="0.125")
    p = {"past_horizon": "periodic"}
    tol = mpmath.mpf(10) ** -58
    assert abs(value(k + 2 * T, p, **kw) - value(k, p, **kw)) < tol
    assert abs(value(2 * T - k, p, **kw) - value(k, p, **kw)) < tol if k <= 2 * T else True
    if k < T:
        assert value(k + 1, **kw) < value(k, **kw)  # strictly decreasing on [0, T]
    assert mpmath.mpf("0.125") - tol <= value(k, **kw) <= 1 + tol
