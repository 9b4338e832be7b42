"""Warmup: the ramp, the hold, relative starts (torch) and the constant shape."""
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, evaluator, frac

value = evaluator("linear_warmup")
KW = dict(lr="0.5", warmup_steps=4, warmup_start="0.0625")


def test_ramp_endpoints_and_hold():
    assert frac(value(0, **KW)) == Fraction(1, 16)
    assert close(value(2, **KW), Fraction(9, 32))  # halfway: (1/16 + 1/2)/2
    assert frac(value(4, **KW)) == Fraction(1, 2)
    assert frac(value(100, **KW)) == Fraction(1, 2)


def test_warmup_from_zero_first_update_is_zero():
    assert value(0, lr="0.5", warmup_steps=4, warmup_start="0") == 0
    assert close(value(1, lr="0.5", warmup_steps=4, warmup_start="0"), Fraction(1, 8))


def test_relative_start_is_a_factor():
    rel = {"start": "relative"}
    assert frac(value(0, rel, **KW)) == Fraction(1, 32)
    assert frac(value(4, rel, **KW)) == Fraction(1, 2)


def test_constant_shape_jumps_at_W():
    kw = dict(KW, shape="constant")
    assert frac(value(3, **kw)) == Fraction(1, 16)
    assert frac(value(4, **kw)) == Fraction(1, 2)


def test_zero_length_warmup_is_constant():
    assert frac(value(0, lr="0.5", warmup_steps=0, warmup_start="0")) == Fraction(1, 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(0, 50))
def test_linear_in_k_then_flat(W, k):
    kw = dict(lr="1", warmup_steps=W, warmup_start="0.25")
    assert close(value(k, **kw), Fraction(1, 4) + Fraction(3, 4) * Fraction(min(k, W), W))
    assert value(k + 1, **kw) >= value(k, **kw)
