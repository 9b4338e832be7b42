"""MultiplicativeLR: the running product of f(1..k); f(0) is never applied."""
from fractions import Fraction as F
from math import factorial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs


def test_products_by_hand():
    const = lrs("multiplicative", 8, lr="0.5", fn="constant", c="0.25")
    assert close(const[0], F(1, 2))  # f(0) = 0.25 is not applied
    assert all(close(x, F(1, 2) * F(1, 4) ** k) for k, x in enumerate(const))
    inv = lrs("multiplicative", 8, lr="0.5", fn="inverse", c="1")
    assert all(close(x, F(1, 2) / factorial(k + 1)) for k, x in enumerate(inv))  # ∏ 1/(1 + i)
    power = lrs("multiplicative", 6, lr="1", fn="power", c="0.5")
    assert all(close(x, F(1, 2) ** (k * (k + 1) // 2)) for k, x in enumerate(power))  # ∏ c^i = c^(k(k+1)/2)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 30), fn=st.sampled_from(["constant", "power", "inverse", "inverse_sqrt"]))
def test_ratio_is_the_factor(k, fn):
    r = lrs("multiplicative", k + 1, lr="0.5", fn=fn, c="0.875")
    lam = lrs("lambda_lr", k + 1, lr="1", fn=fn, c="0.875")  # η = 1: the factor f itself
    assert abs(r[k] / r[k - 1] - lam[k]) < mpmath.mpf(10) ** -55
