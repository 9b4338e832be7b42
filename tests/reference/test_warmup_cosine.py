"""Linear warmup + cosine: endpoints, midpoints and the behaviour past the horizon, by hand."""
import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import evaluator

value = evaluator("warmup_cosine")


def test_endpoints_and_midpoint():
    kw = dict(lr="0.5", warmup_steps=4, total_steps=12, warmup_start="0.1", eta_min="0.05")
    assert value(0, **kw) == mpmath.mpf("0.1")
    assert value(2, **kw) == mpmath.mpf("0.3")  # halfway up the ramp
    assert value(4, **kw) == mpmath.mpf("0.5")  # the peak
    assert abs(value(8, **kw) - mpmath.mpf("0.275")) < mpmath.mpf(10) ** -60  # cos(π/2) = 0: the mean
    assert abs(value(12, **kw) - mpmath.mpf("0.05")) < mpmath.mpf(10) ** -60


def test_past_horizon_clamped_vs_periodic():
    kw = dict(lr="1", warmup_steps=0, total_steps=10, warmup_start="0", eta_min="0")
    assert value(15, **kw) == 0
    assert abs(value(15, {"past_horizon": "periodic"}, **kw) - value(5, **kw)) < mpmath.mpf(10) ** -60
    assert abs(value(20, {"past_horizon": "periodic"}, **kw) - 1) < mpmath.mpf(10) ** -60


def test_relative_floor_is_a_fraction_of_the_peak():
    kw = dict(lr="0.5", warmup_steps=2, total_steps=6, warmup_start="0", eta_min="0.25")
    assert abs(value(6, {"floor": "relative"}, **kw) - mpmath.mpf("0.125")) < mpmath.mpf(10) ** -60
    assert abs(value(6, **kw) - mpmath.mpf("0.25")) < mpmath.mpf(10) ** -60


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 8), st.integers(1, 20), st.integers(0, 60))
def test_bounded_and_monotone_decay(w, d, k):
    kw = dict(lr="1", warmup_steps=w, total_steps=w + d, warmup_start="0", eta_min="0.125")
    v = value(k, **kw)
    assert -mpmath.mpf(10) ** -60 <= v <= 1 + mpmath.mpf(10) ** -60
    if w <= k < w + d:
        assert value(k + 1, **kw) <= v + mpmath.mpf(10) ** -60
