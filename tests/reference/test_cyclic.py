"""Cyclical learning rate: the triangle by hand, amplitude policies, inverse momentum, periodicity."""
from fractions import Fraction as F

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs, records

KW = dict(lr="0.5", min_lr="0.0625", step_size_up=3, step_size_down=5, gamma="0.875")
LO, HI = F(1, 16), F(1, 2)


def test_triangular_by_hand():
    r = records("cyclic", 17, mode="triangular", **KW)
    assert close(r[0][0], LO) and close(r[0][1]["momentum"], F(9, 10))
    assert close(r[1][0], LO + (HI - LO) / 3)
    assert close(r[3][0], HI) and close(r[3][1]["momentum"], F(8, 10))  # the peak after U = 3 updates
    # k = 4: x = 1/2, r = 3/8, falling: s = (1/2 − 1)/(3/8 − 1) = 4/5
    assert close(r[4][0], LO + (HI - LO) * F(4, 5))
    assert close(r[8][0], LO) and close(r[11][0], HI) and close(r[16][0], LO)


def test_triangular2_halves_and_exp_range_decays():
    t2 = lrs("cyclic", 20, mode="triangular2", **KW)
    assert close(t2[3], HI) and close(t2[11], LO + (HI - LO) / 2) and close(t2[19], LO + (HI - LO) / 4)
    ex = lrs("cyclic", 12, mode="exp_range", **KW)
    assert close(ex[3], LO + (HI - LO) * F(7, 8) ** 3)
    assert close(ex[4], LO + (HI - LO) * F(4, 5) * F(7, 8) ** 4)
    assert close(ex[8], LO)


@settings(max_examples=30, deadline=None)
@given(U=st.integers(1, 7), D=st.integers(1, 7), k=st.integers(0, 30))
def test_periodic_and_inverse_momentum(U, D, k):
    kw = dict(lr="0.5", min_lr="0.0625", step_size_up=U, step_size_down=D)
    C = U + D
    tri = records("cyclic", k + C + 1, mode="triangular", **kw)
    assert abs(tri[k][0] - tri[k + C][0]) < mpmath.mpf(10) ** -55
    # (lr − lo)/(hi − lo) = (M − μ)/(M − m)
    up = (tri[k][0] - mpmath.mpf("0.0625")) / mpmath.mpf("0.4375")
    down = (mpmath.mpf("0.9") - tri[k][1]["momentum"]) / (mpmath.mpf("0.9") - mpmath.mpf("0.8"))
    assert abs(up - down) < mpmath.mpf(10) ** -50
    t2 = lrs("cyclic", k + C + 1, mode="triangular2", **kw)
    assert abs((t2[k + C] - mpmath.mpf("0.0625")) * 2 - (t2[k] - mpmath.mpf("0.0625"))) < mpmath.mpf(10) ** -55
