"""SGDR: restart indices, cycle lengths, peak multiplier and the clamp after the listed cycles."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator

value = evaluator("cosine_restarts")
KW = dict(lr="0.5", first_cycle=4, t_mult="2", eta_min="0.125", cycles=3)


def test_restarts_at_4_12_28_60():
    for k in (0, 4, 12, 28, 60):
        assert close(value(k, **KW), Fraction(1, 2)), k
    for k in (3, 11, 27, 59):  # the last update of each cycle, one step before the floor
        assert value(k, **KW) < mpmath.mpf("0.2")
    assert close(value(2, **KW), Fraction(5, 16))  # middle of cycle 0 (length 4)
    assert close(value(8, **KW), Fraction(5, 16))  # middle of cycle 1 (length 8: 4 + 4)
    assert close(value(20, **KW), Fraction(5, 16))  # middle of cycle 2 (length 16: 12 + 8)


def test_equal_cycles_and_peak_multiplier():
    kw = dict(KW, t_mult="1", m_mult="0.5")
    assert close(value(4, **kw), Fraction(1, 8) + Fraction(3, 8) * Fraction(1, 2))
    assert close(value(8, **kw), Fraction(1, 8) + Fraction(3, 8) * Fraction(1, 4))
    assert close(value(10, **kw), Fraction(1, 8) + Fraction(3, 8) * Fraction(1, 4) * Fraction(1, 2))


def test_clamped_after_the_listed_cycles():
    clamped = {"past_horizon": "clamped"}
    assert close(value(27, clamped, **KW), value(27, **KW))
    assert close(value(28, clamped, **KW), Fraction(1, 8))
    assert close(value(40, clamped, **KW), Fraction(1, 8))
    assert close(value(28, {"floor": "relative"}, **KW), Fraction(1, 2))  # periodic: a restart
    assert close(value(8, {"floor": "relative"}, **KW), Fraction(9, 32))  # cycle 1 (k = 4..11), T_cur = 4 of 8: 1/16 + 7/32


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(0, 120))
def test_matches_the_torch_step_recursion(T0, t, k):
    """T_cur += 1; if T_cur >= T_i: T_cur −= T_i, T_i *= t — the counting of torch's step()."""
    T_cur, T_i = 0, T0
    for _ in range(k):
        T_cur += 1
        if T_cur >= T_i:
            T_cur -= T_i
            T_i *= t
    kw = dict(lr="1", first_cycle=T0, t_mult=str(t), eta_min="0")
    with mpmath.workdps(80):
        exact = (1 + mpmath.cos(mpmath.pi * T_cur / T_i)) / 2
    assert abs(value(k, **kw) - exact) < mpmath.mpf(10) ** -58
