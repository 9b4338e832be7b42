"""Adamax: sign steps for constant gradients, the decay of the infinity norm, the two ε
placements computed by hand in fractions, and invariances."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import F, close as _close, trajectory as _trajectory

ADAMAX = get("adamax")
trajectory = partial(_trajectory, ADAMAX, states=True)
thetas = partial(_trajectory, ADAMAX)
close = partial(_close, digits=55)


def test_constant_gradient_steps_are_exactly_lr_sign():
    """ε = 0: u_t = |g| for every t and m_t/(1 − β₁ᵗ) = g, so each step is −η·sign(g)."""
    steps = thetas([1, -1], [["0.375", "-12"]] * 9, lr="0.0625", beta1="0.75", beta2="0.5")
    for t, (a, b) in enumerate(steps, 1):
        assert (F(a), F(b)) == (1 - Fraction(t, 16), -1 + Fraction(t, 16))


def test_infinity_norm_decays_after_a_single_gradient():
    """g₁ = 2 then zeros, ε = 0: u_t = β₂^{t−1}·2, m_t = β₁^{t−1}(1 − β₁)·2, so step t moves by
    η β₁^{t−1}(1 − β₁) / ((1 − β₁ᵗ) β₂^{t−1})."""
    b1, b2, eta = Fraction(3, 4), Fraction(7, 8), Fraction(1, 8)
    rec = trajectory([0], [[2]] + [[0]] * 6, lr="0.125", beta1="0.75", beta2="0.875")
    theta = Fraction(0)
    for t, r in enumerate(rec, 1):
        theta -= eta * b1 ** (t - 1) * (1 - b1) / ((1 - b1 ** t) * b2 ** (t - 1))
        assert close(r.params["x"].data[0], theta)
        assert close(r.state["x"]["exp_inf"].data[0], 2 * b2 ** (t - 1))


def test_eps_placement_by_hand():
    """ε = 1/4, g = (1, 0), β₁ = 1/2, β₂ = 1/2, η = 1.
    t = 1 (both): m = 1/2, u = 1 (+1/4 inside); step = 2m/(u + ε) or 2m/u = 1/(5/4) = 4/5.
    t = 2, g = 0: m = 1/4, step = (4/3)·m/…;
      inside:  u = max(5/8, 1/4) = 5/8, step = (1/3)/(5/8) = 8/15;
      outside: u = max(1/2, 0) = 1/2, step = (1/3)/(3/4) = 4/9."""
    kw = dict(lr=1, beta1="0.5", beta2="0.5", eps="0.25")
    ins = thetas([0], [[1], [0]], semantics={"adamax_eps": "inside_max"}, **kw)
    out = thetas([0], [[1], [0]], semantics={"adamax_eps": "outside_max"}, **kw)
    assert all(close(x[0], e) for x, e in zip(ins, [Fraction(-4, 5), Fraction(-4, 5) - Fraction(8, 15)]))
    assert all(close(x[0], e) for x, e in zip(out, [Fraction(-4, 5), Fraction(-4, 5) - Fraction(4, 9)]))


def test_zero_gradient_from_the_start_without_eps_is_nan():
    """The paper's Adamax (ε = 0) divides 0 by 0 when an element has never seen a gradient."""
    (x,), = thetas([1], [[0]])
    assert mpmath.isnan(x)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-100, 100).filter(bool), min_size=2, max_size=8),
       st.sampled_from(["1/1024", "1/4", "8", "4096"]), st.sampled_from(["spec", "torch", "keras"]))
def test_scale_and_sign_invariance_without_eps(gs, c, profile):
    """ε = 0, no decay: g → c·g (c > 0) leaves θ unchanged, g → −g mirrors the displacement."""
    c = Fraction(c)
    grads = [[str(Fraction(g, 16))] for g in gs]
    a = thetas([0], grads, profile=profile, eps=0)
    b = thetas([0], [[str(Fraction(g, 16) * c)] for g in gs], profile=profile, eps=0)
    m = thetas([0], [[str(-Fraction(g, 16))] for g in gs], profile=profile, eps=0)
    for x, y, z in zip(a, b, m):
        assert abs(x[0] - y[0]) < mpmath.mpf(10) ** -55 and abs(x[0] + z[0]) < mpmath.mpf(10) ** -55
