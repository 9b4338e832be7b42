"""Adan: constant-gradient closed form, a two-step computation in fractions, weight-decay forms, invariances."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import TOL, mp, trajectory as _trajectory

ALG = get("adan")
trajectory = partial(_trajectory, ALG)


def test_constant_gradient_is_adam_like():
    """Δ_t = 0, so v = 0, m̂ = g, n̂ = g²: every step is η g/(|g| + ε), in both coefficient conventions."""
    for sem in ("beta2", "one_minus_beta2"):
        steps = trajectory([1], [["-0.75"]] * 5, semantics={"adan_diff_coef": sem}, lr="0.125", eps="0.25")
        for t, (theta,) in enumerate(steps, 1):
            assert abs(theta - (1 + t * mp(Fraction(1, 8) * Fraction(3, 4) / (Fraction(3, 4) + Fraction(1, 4))))) < TOL


def test_two_steps_by_hand():
    """β = (1/2, 1/4, 1/2), ε = 0, g = 1 then 3. t = 1: u = 1. t = 2: Δ = 2, m̂ = (7/4)/(3/4) = 7/3,
    v̂ = (3/2)/(15/16) = 8/5, n̂ = (1/4 + (3 + 2c)²/2)/(3/4); u = (m̂ + c v̂)/√n̂."""
    for sem, c in (("beta2", Fraction(1, 4)), ("one_minus_beta2", Fraction(3, 4))):
        (a,), (b,) = trajectory([0], [[1], [3]], semantics={"adan_diff_coef": sem}, lr="0.5",
                                beta1="0.5", beta2="0.25", beta3="0.5", eps="0")
        n_hat = (Fraction(1, 4) + (3 + 2 * c) ** 2 / 2) / Fraction(3, 4)
        u2 = mp(Fraction(7, 3) + c * Fraction(8, 5)) / mpmath.sqrt(mp(n_hat))
        assert a == mpmath.mpf("-0.5")
        assert abs(b - (a - u2 / 2)) < TOL


def test_weight_decay_forms_first_step():
    """t = 1, ε = 0: u = sign(g) = 1. prox: (θ − η)/(1 + ηλ); decoupled: θ(1 − ηλ) − η."""
    (p,), = trajectory([2], [["0.5"]], lr="0.25", eps="0", weight_decay="0.5")
    (d,), = trajectory([2], [["0.5"]], semantics={"adan_weight_decay": "decoupled_lr"}, lr="0.25", eps="0",
                       weight_decay="0.5")
    assert abs(p - mp(Fraction(7, 4) / Fraction(9, 8))) < TOL  # 14/9
    assert d == mpmath.mpf(2) * mpmath.mpf("0.875") - mpmath.mpf("0.25")


def test_eps_root_inside_the_root():
    """Constant g = 1/2 with ε_r = 3/4, ε = 0: u = (1/2)/√(1/4 + 3/4) = 1/2 each step."""
    steps = trajectory([0], [["0.5"]] * 3, lr="1", eps="0", eps_root="0.75")
    assert all(abs(theta - mpmath.mpf(-0.5) * t) < TOL for t, (theta,) in enumerate(steps, 1))


vec = st.lists(st.integers(-32, 32).filter(bool), min_size=2, max_size=2)


@settings(max_examples=30, deadline=None)
@given(st.lists(vec, min_size=1, max_size=5), st.integers(-8, 8))
def test_gradient_scale_invariance_without_eps(grads, k):
    g1 = [[str(Fraction(x, 8)) for x in r] for r in grads]
    g2 = [[str(Fraction(x, 8) * Fraction(2) ** k) for x in r] for r in grads]
    kw = dict(lr="0.0625", eps="0", beta1="0.875", beta2="0.75", beta3="0.9375")
    assert trajectory([1, -3], g1, **kw) == trajectory([1, -3], g2, **kw)


@settings(max_examples=30, deadline=None)
@given(st.lists(vec, min_size=1, max_size=5))
def test_sign_symmetry(grads):
    g = [[str(Fraction(x, 8)) for x in r] for r in grads]
    ng = [[str(-Fraction(x, 8)) for x in r] for r in grads]
    a = trajectory([1, -3], g, lr="0.0625", weight_decay="0.25")
    b = trajectory([-1, 3], ng, lr="0.0625", weight_decay="0.25")
    assert [[-x for x in r] for r in a] == b
