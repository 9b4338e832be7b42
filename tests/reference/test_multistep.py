"""Multi-step decay: γ at each milestone, duplicated milestones compound."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import evaluator, frac

value = evaluator("multistep")
KW = dict(lr="1", milestones=["3", "7", "7", "12"], gamma="0.5")


def test_each_milestone_at():
    expected = {0: 1, 2: 1, 3: Fraction(1, 2), 6: Fraction(1, 2), 7: Fraction(1, 8), 11: Fraction(1, 8),
                12: Fraction(1, 16), 100: Fraction(1, 16)}
    for k, v in expected.items():
        assert frac(value(k, **KW)) == v, k


def test_each_milestone_after():
    after = {"boundary": "after"}
    assert frac(value(3, after, **KW)) == 1
    assert frac(value(4, after, **KW)) == Fraction(1, 2)
    assert frac(value(7, after, **KW)) == Fraction(1, 2)
    assert frac(value(8, after, **KW)) == Fraction(1, 8)


def test_unsorted_milestones_are_a_multiset():
    assert frac(value(9, lr="1", milestones=["7", "3", "7"], gamma="0.5")) == Fraction(1, 8)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=6), st.integers(0, 40))
def test_exponent_counts_passed_milestones(ms, k):
    v = value(k, lr="1", milestones=[str(m) for m in ms], gamma="0.5")
    assert frac(v) == Fraction(1, 2) ** sum(1 for m in ms if m <= k)
    assert frac(value(k + 1, lr="1", milestones=[str(m) for m in ms], gamma="0.5")) <= frac(v)
