"""Constant schedule: every update uses η."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import evaluator, frac

value = evaluator("constant")


def test_first_update_and_far_past_use_lr():
    assert frac(value(0, lr="0.5")) == Fraction(1, 2)
    assert frac(value(10**9, lr="0.5")) == Fraction(1, 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 1 << 20), st.integers(0, 20), st.integers(0, 10**6))
def test_every_index_gives_lr(m, e, k):
    lr = Fraction(m, 1 << e)
    assert frac(value(k, lr=f"{lr.numerator}/{lr.denominator}")) == lr
