"""Warmup + linear decay (BERT): ramp from 0, the two decay origins, zero at and after T."""
from fractions import Fraction as F

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs

KW = dict(lr="0.5", warmup_steps=4, total_steps=20)


def test_original_bert_decays_from_zero():
    r = lrs("warmup_linear", 30, {"decay_origin": "zero"}, **KW)
    assert r[0] == 0 and close(r[2], F(1, 4)) and close(r[3], F(3, 8))
    assert close(r[4], F(1, 2) * (1 - F(4, 20)))  # never the peak itself: 0.4
    assert close(r[10], F(1, 4)) and r[20] == 0 and r[29] == 0


def test_transformers_decays_from_the_peak():
    r = lrs("warmup_linear", 30, {"decay_origin": "warmup_end"}, **KW)
    assert r[0] == 0 and close(r[4], F(1, 2)) and close(r[12], F(1, 4)) and close(r[19], F(1, 32))
    assert r[20] == 0 and r[29] == 0


@settings(max_examples=30, deadline=None)
@given(W=st.integers(0, 10), extra=st.integers(1, 20), origin=st.sampled_from(["zero", "warmup_end"]))
def test_monotone_pieces(W, extra, origin):
    T = W + extra
    r = lrs("warmup_linear", T + 3, {"decay_origin": origin}, lr="0.5", warmup_steps=W, total_steps=T)
    assert all(a <= b for a, b in zip(r[:W], r[1:W]))
    assert all(a >= b for a, b in zip(r[W:], r[W + 1:]))
    assert r[T] == 0 and all(x >= 0 for x in r) and max(r) <= mpmath.mpf("0.5")
