"""Lion: sign steps derived by hand, closed forms for constant gradients, and invariances."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import F, trajectory as _trajectory

LION = get("lion")
trajectory = partial(_trajectory, LION)


def test_constant_gradient_moves_exactly_lr_per_step():
    """c_t lies between m_{t−1} and g, both of the sign of g, so every step is −η·sign(g)."""
    steps = trajectory([1, -2, 0.5], [[3, -0.25, 0]] * 7, lr="0.125")
    for t, theta in enumerate(steps, 1):
        assert [F(x) for x in theta] == [1 - Fraction(t, 8), -2 + Fraction(t, 8), Fraction(1, 2)]


def test_hand_computed_sign_flip_uses_old_momentum():
    """β₁ = 0.875, β₂ = 0.9375, g = (1, −0.5): m₁ = 0.0625; c₂ = 0.875·0.0625 − 0.125·0.5 = −0.0078125 < 0,
    so the second step goes up although m₁ > 0; with g₂ = −0.25, c₂ = 0.0234375 > 0 and it goes down again."""
    (a,), (b,) = trajectory([0], [[1], ["-0.5"]], lr="0.5", beta1="0.875", beta2="0.9375")
    assert F(a) == Fraction(-1, 2) and F(b) == 0  # −0.5, then +0.5
    (a,), (b,) = trajectory([0], [[1], ["-0.25"]], lr="0.5", beta1="0.875", beta2="0.9375")
    assert F(b) == -1  # c₂ = 0.0234375 > 0: a second step down


def test_decoupled_weight_decay_closed_form():
    """θ_t = θ_{t−1}(1 − ηλ) − η sign(g): a geometric recursion, computed in fractions."""
    steps = trajectory([2], [["0.5"]] * 5, lr="0.125", weight_decay="0.5")
    theta = Fraction(2)
    for (got,) in steps:
        theta = theta * (1 - Fraction(1, 16)) - Fraction(1, 8)
        assert F(got) == theta


def test_l2_weight_decay_enters_the_sign():
    """l2: g + λθ = −0.25 + 0.5·2 = 0.75 > 0, so θ moves down although g < 0."""
    (dec,), = trajectory([2], [["-0.25"]], lr="0.125", weight_decay="0.5")
    (l2,), = trajectory([2], [["-0.25"]], semantics={"weight_decay": "l2"}, lr="0.125", weight_decay="0.5")
    assert F(dec) == Fraction(2) * Fraction(15, 16) + Fraction(1, 8)
    assert F(l2) == Fraction(2) - Fraction(1, 8)


def test_zero_and_nan_gradients():
    steps = trajectory([1, 1], [[0, "nan"], [0, 1]], lr="0.25")
    assert F(steps[0][0]) == 1 and mpmath.isnan(steps[0][1])
    assert F(steps[1][0]) == 1 and mpmath.isnan(steps[1][1])


def test_defaults_are_the_authors():
    h = LION.resolve("spec")
    assert (h.lr, h.beta1, h.beta2, h.weight_decay) == (mpmath.mpf("1e-4"), mpmath.mpf("0.9"), mpmath.mpf("0.99"), 0)
    assert LION.resolve("optax").weight_decay == mpmath.mpf("0.001")
    assert LION.resolve("keras").lr == mpmath.mpf("0.001")


grads_st = st.lists(st.lists(st.integers(-64, 64), min_size=3, max_size=3), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(grads_st, st.integers(1, 6))
def test_positive_gradient_scale_does_not_change_the_trajectory(grads, k):
    """sign(c·x) = sign(x) for c > 0, and c_t, m_t are linear in g: g → 3·2^k·g changes nothing.
    (The scale must keep the arithmetic exact: with g/7, an interpolation that is exactly 0 for g
    comes out as ±1e-65 at 64 digits, and its sign is not 0.)"""
    g1 = [[Fraction(x, 8) for x in row] for row in grads]
    g2 = [[Fraction(x * 3 * 2 ** k, 8) for x in row] for row in grads]
    a = trajectory([1, 2, 3], [[str(x) for x in r] for r in g1], lr="0.0625", beta1="0.875", beta2="0.9375")
    b = trajectory([1, 2, 3], [[f"{x.numerator}/{x.denominator}" for x in r] for r in g2], lr="0.0625",
                   beta1="0.875", beta2="0.9375")
    assert a == b


@settings(max_examples=30, deadline=None)
@given(grads_st)
def test_sign_symmetry(grads):
    """Negating θ₀ and every gradient negates the trajectory (with decoupled decay)."""
    g = [[str(Fraction(x, 8)) for x in r] for r in grads]
    ng = [[str(-Fraction(x, 8)) for x in r] for r in grads]
    a = trajectory([1, -2, 3], g, lr="0.0625", weight_decay="0.25")
    b = trajectory([-1, 2, -3], ng, lr="0.0625", weight_decay="0.25")
    assert [[-x for x in r] for r in a] == b
