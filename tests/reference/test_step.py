"""Step decay η·γ^⌊k/s⌋: values at and around each boundary, by hand, with exact fractions."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import evaluator, frac

value = evaluator("step")
KW = dict(lr="0.5", step_size=3, gamma="0.25")


def test_boundaries_at():
    # k:       0    1    2    3      5      6       9
    expected = {0: Fraction(1, 2), 2: Fraction(1, 2), 3: Fraction(1, 8), 5: Fraction(1, 8),
                6: Fraction(1, 32), 9: Fraction(1, 128)}
    for k, v in expected.items():
        assert frac(value(k, **KW)) == v, k


def test_boundaries_after_switch_one_update_later():
    after = {"boundary": "after"}
    assert frac(value(3, after, **KW)) == Fraction(1, 2)
    assert frac(value(4, after, **KW)) == Fraction(1, 8)
    assert frac(value(6, after, **KW)) == Fraction(1, 8)
    assert frac(value(7, after, **KW)) == Fraction(1, 32)
    assert frac(value(0, after, **KW)) == Fraction(1, 2)


def test_far_past_the_horizon_keeps_decaying():
    assert frac(value(300, **KW)) == Fraction(1, 2) * Fraction(1, 4) ** 100


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.integers(0, 60), st.integers(0, 60))
def test_group_law(s, a, b):
    """γ^⌊k/s⌋: shifting k by a whole number of periods multiplies by γ per period."""
    kw = dict(lr="1", step_size=s, gamma="0.5")
    assert frac(value(a + b * s, **kw)) == frac(value(a, **kw)) * Fraction(1, 2) ** b
    assert frac(value(a + 1, **kw)) <= frac(value(a, **kw))  # monotone for γ < 1
