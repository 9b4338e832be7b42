"""Piecewise-constant absolute values: which side of each boundary an index belongs to."""
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.errors import UserError

from ._sched_util import evaluator, frac

value = evaluator("piecewise_constant")
KW = dict(lr="0.5", boundaries=["3", "8"], values=["0.125", "0.375"])


def test_at_switches_at_the_boundary():
    expected = {0: Fraction(1, 2), 2: Fraction(1, 2), 3: Fraction(1, 8), 7: Fraction(1, 8), 8: Fraction(3, 8),
                50: Fraction(3, 8)}
    for k, v in expected.items():
        assert frac(value(k, **KW)) == v, k


def test_after_switches_one_later_keras_style():
    after = {"boundary": "after"}
    assert frac(value(3, after, **KW)) == Fraction(1, 2)
    assert frac(value(4, after, **KW)) == Fraction(1, 8)
    assert frac(value(8, after, **KW)) == Fraction(1, 8)
    assert frac(value(9, after, **KW)) == Fraction(3, 8)


def test_lengths_and_order_are_checked():
    with pytest.raises(UserError):
        value(0, lr="1", boundaries=["3"], values=["0.5", "0.25"])
    with pytest.raises(UserError):
        value(0, lr="1", boundaries=["5", "3"], values=["0.5", "0.25"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=5, unique=True), st.integers(0, 50))
def test_at_and_after_differ_only_on_a_boundary(bs, k):
    bs = sorted(bs)
    vals = [str(Fraction(1, 2 + j)) for j in range(len(bs))]
    kw = dict(lr="1", boundaries=[str(b) for b in bs], values=vals)
    same = value(k, **kw) == value(k, {"boundary": "after"}, **kw)
    assert same == (k not in bs)
    assert value(k, {"boundary": "after"}, **kw) == value(max(k - 1, 0), **kw) or k == 0
