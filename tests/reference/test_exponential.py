"""Exponential decay: η·γ^(k/T) and η·exp(−a·k/T), with the laws the two forms share."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator, frac

value = evaluator("exponential")


def test_factor_form_exact_powers():
    kw = dict(lr="0.5", gamma="0.75")
    assert frac(value(0, **kw)) == Fraction(1, 2)
    assert frac(value(1, **kw)) == Fraction(3, 8)
    assert frac(value(5, **kw)) == Fraction(1, 2) * Fraction(3, 4) ** 5


def test_decay_steps_gives_fractional_exponent():
    kw = dict(lr="1", gamma="0.25", decay_steps=2)
    assert frac(value(2, **kw)) == Fraction(1, 4)
    assert close(value(1, **kw), Fraction(1, 2))  # 0.25^(1/2)
    assert close(value(3, **kw), Fraction(1, 8))  # 0.25^(3/2)


def test_rate_form_is_exp():
    kw = dict(lr="2", form="rate", rate="0.125")
    assert frac(value(0, **kw)) == 2
    with mpmath.workdps(80):
        assert close(value(8, **kw), 2 * mpmath.exp(-1))
        assert close(value(16, **kw), 2 * mpmath.exp(-2))


def test_rate_form_equals_factor_form_with_gamma_e_minus_a():
    with mpmath.workdps(80):
        gamma = mpmath.nstr(mpmath.exp(-mpmath.mpf("0.125")), 75)
    for k in (0, 1, 7, 40):
        assert abs(value(k, lr="1", form="rate", rate="0.125") - value(k, lr="1", gamma=gamma)) < mpmath.mpf(10) ** -60


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(1, 4))
def test_semigroup_law(a, b, T):
    """γ^((a+b)/T) = γ^(a/T)·γ^(b/T): η_(a+b)·η = η_a·η_b."""
    kw = dict(lr="0.5", gamma="0.875", decay_steps=T)
    lhs = value(a + b, **kw) * mpmath.mpf("0.5")
    rhs = value(a, **kw) * value(b, **kw)
    assert abs(lhs - rhs) <= mpmath.mpf(10) ** -58 * abs(rhs)
    assert value(a + 1, **kw) < value(a, **kw)
