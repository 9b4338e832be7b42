"""Warmup-stable-decay: the three phases, every decay shape at hand-computed points, past the horizon."""
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs

KW = dict(lr="0.5", warmup_steps=3, decay_steps=8, total_steps=20, min_lr_ratio="0.125")
ETA, R = F(1, 2), F(1, 8)


def test_phases_and_shapes():
    lin = lrs("wsd", 25, decay_shape="linear", **KW)
    assert lin[0] == 0 and close(lin[1], ETA / 3)
    assert all(close(x, ETA) for x in lin[3:13])  # stable 3..11 and the decay's start at 12
    assert close(lin[16], ETA * (R + (1 - R) / 2)) and close(lin[20], ETA * R) and close(lin[24], ETA * R)
    sq = lrs("wsd", 21, decay_shape="1-sqrt", **KW)
    assert close(sq[14], ETA * (R + (1 - R) / 2))  # p = 1/4: 1 − √(1/4) = 1/2
    assert close(sq[20], ETA * R)
    cos = lrs("wsd", 21, decay_shape="cosine", **KW)
    assert close(cos[16], ETA * (R + (1 - R) / 2)) and close(cos[20], ETA * R)


def test_past_horizon():
    clamped = lrs("wsd", 30, {"past_horizon": "clamped"}, decay_shape="cosine", **KW)
    periodic = lrs("wsd", 30, {"past_horizon": "periodic"}, decay_shape="cosine", **KW)
    assert close(clamped[24], ETA * R)
    assert close(periodic[24], ETA * (R + (1 - R) / 2))  # p = 3/2: cos(3π/2) = 0
    assert close(periodic[28], ETA)  # p = 2: back at the peak
    lin = lrs("wsd", 30, {"past_horizon": "periodic"}, decay_shape="linear", **KW)
    assert close(lin[28], ETA * R)  # only the cosine keeps going


@settings(max_examples=30, deadline=None)
@given(W=st.integers(0, 6), S=st.integers(0, 6), D=st.integers(1, 8),
       shape=st.sampled_from(["linear", "cosine", "1-sqrt"]))
def test_nonincreasing_after_warmup(W, S, D, shape):
    r = lrs("wsd", W + S + D + 3, lr="0.5", warmup_steps=W, decay_steps=D, total_steps=W + S + D,
            decay_shape=shape, min_lr_ratio="0.125")
    assert all(a >= b for a, b in zip(r[W:], r[W + 1:]))
    assert close(r[W + S + D], ETA * R) and all(x >= 0 for x in r)
