"""Inverse-time decay η/(1 + r·k/T): exact rational values, staircase, monotonicity."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator, frac

value = evaluator("inverse_time")


def test_closed_form_fractions():
    kw = dict(lr="0.5", decay_rate="0.75", decay_steps=3)
    assert frac(value(0, **kw)) == Fraction(1, 2)
    assert close(value(1, **kw), Fraction(1, 2) / (1 + Fraction(3, 4) * Fraction(1, 3)))  # 0.4
    assert close(value(4, **kw), Fraction(1, 2) / (1 + Fraction(3, 4) * Fraction(4, 3)))  # 0.25
    assert frac(value(4, **kw)) == Fraction(1, 4)


def test_staircase_holds_within_a_period():
    kw = dict(lr="0.5", decay_rate="0.75", decay_steps=3, staircase=True)
    assert frac(value(2, **kw)) == Fraction(1, 2)
    assert close(value(3, **kw), Fraction(1, 2) / Fraction(7, 4))
    assert close(value(5, **kw), Fraction(2, 7))
    assert close(value(6, **kw), Fraction(1, 5))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(1, 5), st.booleans())
def test_reciprocal_is_affine(k, T, stair):
    """1/η_k = (1 + r·p_k)/η: the reciprocal grows by r/η per T updates."""
    kw = dict(lr="0.5", decay_rate="0.75", decay_steps=T, staircase=stair)
    p = Fraction(k // T) if stair else Fraction(k, T)
    assert close(1 / value(k, **kw), (1 + Fraction(3, 4) * p) * 2)
    assert value(k + 1, **kw) <= value(k, **kw)
