"""LambdaLR: η·f(k) for every function family, f(0) applied to the first update."""
from fractions import Fraction as F

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs


def test_families_by_hand():
    assert all(close(x, F(1, 2) * F(7, 8) ** k) for k, x in enumerate(lrs("lambda_lr", 10, lr="0.5", fn="power", c="0.875")))
    assert all(close(x, F(1, 2) / (1 + F(k, 2))) for k, x in enumerate(lrs("lambda_lr", 10, lr="0.5", fn="inverse", c="0.5")))
    sq = lrs("lambda_lr", 9, lr="0.5", fn="inverse_sqrt", c="1")
    assert close(sq[0], F(1, 2)) and close(sq[3], F(1, 4)) and close(sq[8], F(1, 6))
    const = lrs("lambda_lr", 3, lr="0.5", fn="constant", c="0.25")
    assert all(close(x, F(1, 8)) for x in const)  # f(0) = c applies to the first update too


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 30), j=st.integers(0, 30))
def test_power_is_a_homomorphism(k, j):
    r = lrs("lambda_lr", k + j + 1, lr="1", fn="power", c="0.875")
    assert abs(r[k + j] - r[k] * r[j]) < mpmath.mpf(10) ** -55
