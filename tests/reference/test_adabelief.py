"""AdaBelief: first step and constant-gradient closed forms in fractions, ε_s accumulation, invariances."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get
from optconform.reference.numeric import precision

from ._trajectory_util import close as _close, trajectory as _trajectory

ALG = get("adabelief")
trajectory = partial(_trajectory, ALG)
close = partial(_close, digits=55)


def test_first_step_is_lr_over_beta1_not_lr():
    """t = 1, ε = ε_s = 0: m₁ = (1−β₁)g, s₁ = (1−β₂)(β₁g)², so m̂ = g, ŝ = β₁²g² and u = sign(g)/β₁."""
    (theta,), = trajectory([1], [["0.5"]], lr="0.1", eps="0", eps_root="0")
    assert close(theta, 1 - Fraction(1, 10) / Fraction(9, 10))  # 0.8888..., not Adam's 0.9


def test_constant_gradient_closed_form_with_both_eps():
    """Constant g: m_t = (1−β₁ᵗ)g, g − m_t = β₁ᵗg, so
    s_t = (1−β₂)g² Σ_{k=1..t} β₂^{t−k} β₁^{2k} + ε_s Σ_{k=0..t−1} β₂^k (state form)."""
    b1, b2, g, lr, eps, eps_s = Fraction(7, 8), Fraction(15, 16), Fraction(3, 4), Fraction(1, 64), Fraction(1, 2 ** 20), Fraction(1, 2 ** 12)
    steps = trajectory([1], [["0.75"]] * 6, lr="0.015625", beta1="0.875", beta2="0.9375",
                       eps=str(eps), eps_root=str(eps_s))
    with precision(80):
        theta = mpmath.mpf(1)
        for t, (got,) in enumerate(steps, 1):
            s = (1 - b2) * g * g * sum(b2 ** (t - k) * b1 ** (2 * k) for k in range(1, t + 1)) \
                + eps_s * sum(b2 ** k for k in range(t))
            s_hat = s / (1 - b2 ** t)
            m_hat = g
            theta -= mpmath.mpf(lr.numerator) / lr.denominator * (mpmath.mpf(m_hat.numerator) / m_hat.denominator) / (
                mpmath.sqrt(mpmath.mpf(s_hat.numerator) / s_hat.denominator) + mpmath.mpf(eps.numerator) / eps.denominator)
            assert abs(got - theta) < mpmath.mpf(10) ** -55


def test_eps_root_accumulates_in_state_but_not_in_use_form():
    """Zero gradients: s_t is exactly ε_s(1 + β₂ + … + β₂^{t−1}) in the state form and 0 otherwise."""
    recs = trajectory([1], [[0]] * 4, states=True, beta2="0.5", eps_root="0.25")
    for t, r in enumerate(recs, 1):
        expected = Fraction(1, 4) * sum(Fraction(1, 2 ** k) for k in range(t))
        assert r.state["x"]["exp_avg_var"].data[0] == mpmath.mpf(expected.numerator) / expected.denominator
    recs = trajectory([1], [[0]] * 4, states=True, semantics={"belief_eps": "use"}, beta2="0.5", eps_root="0.25")
    assert all(r.state["x"]["exp_avg_var"].data[0] == 0 for r in recs)


def test_no_eps_at_all_gives_nan_for_zero_gradient_at_step_one():
    """belief_eps = none and ε = 0: m̂ = 0 and ŝ = 0, so 0/0 = NaN (the reason ε_s exists)."""
    (theta,), = trajectory([1], [[0]], semantics={"belief_eps": "none"}, eps="0", eps_root="0")
    assert mpmath.isnan(theta)
    (theta,), = trajectory([1], [[0]], eps="0", eps_root="1e-16")
    assert theta == 1


grads_st = st.lists(st.lists(st.integers(-64, 64).filter(bool), min_size=2, max_size=2), min_size=1, max_size=5)


@settings(max_examples=30, deadline=None)
@given(grads_st, st.integers(-8, 8))
def test_scale_invariance_without_eps(grads, k):
    """With ε = ε_s = 0, m and s are homogeneous of degree 1 and 2 in g: g → 2^k g leaves θ unchanged."""
    g1 = [[str(Fraction(x, 16)) for x in r] for r in grads]
    g2 = [[str(Fraction(x, 16) * Fraction(2) ** k) for x in r] for r in grads]
    a = trajectory([1, -1], g1, eps="0", eps_root="0", lr="0.015625")
    b = trajectory([1, -1], g2, eps="0", eps_root="0", lr="0.015625")
    assert a == b


@settings(max_examples=30, deadline=None)
@given(grads_st)
def test_sign_symmetry(grads):
    g = [[str(Fraction(x, 16)) for x in r] for r in grads]
    ng = [[str(-Fraction(x, 16)) for x in r] for r in grads]
    a = trajectory([1, -1], g, lr="0.015625")
    b = trajectory([-1, 1], ng, lr="0.015625")
    assert [[-x for x in r] for r in a] == b
