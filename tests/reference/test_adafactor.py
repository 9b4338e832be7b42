"""Adafactor: first steps by hand, exact factoring of rank-1 second moments, clipping, relative step,
and the scale laws (hypothesis)."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import TOL, trajectory as _trajectory

ALG = get("adafactor")
trajectory = partial(_trajectory, ALG)


def test_first_step_vector_is_alpha_times_sign():
    """β̂₁ = 0 and ε₁ = 0: v₁ = g², U = sign(g), RMS(U) = 1 ≤ d; α = RMS(θ)·min(η, 1) = 0.01·√12.5."""
    (theta,) = trajectory([3, 4], [["0.5", "-7"]], eps1="0")
    alpha = mpmath.mpf("0.01") * mpmath.sqrt(mpmath.mpf("12.5"))
    assert abs(theta[0] - (3 - alpha)) < TOL and abs(theta[1] - (4 + alpha)) < TOL


def test_rank_one_square_gradient_is_factored_exactly():
    """g = a bᵀ: R_i = a_i² mean(b²), C_j = b_j² mean(a²), mean(R) = mean(a²)mean(b²), so V̂ = g² exactly
    and the factored step equals the unfactored one: U = sign(g)."""
    a, b = [1, -2], ["0.5", "3", "-0.25"]
    g = [str(mpmath.mpf(x) * mpmath.mpf(y)) for x in a for y in b]
    params = [1, 2, 3, -1, -2, -3]
    (fact,) = trajectory(params, [g], shape=(2, 3), eps1="0")
    (vect,) = trajectory(params, [g], eps1="0")
    assert all(abs(x - y) < TOL for x, y in zip(fact, vect))


def test_clipping_by_hand():
    """g = I₂ (ε₁ = 0): R = C = (1/2, 1/2), V̂ = 1/2, U = √2·I with RMS 1; d = 1/2 halves it:
    Û = (√2/2)·I, α = RMS(θ)·η = 1·(1/4) with θ all ones."""
    (theta,) = trajectory([1, 1, 1, 1], [[1, 0, 0, 1]], shape=(2, 2), eps1="0", clip_threshold="0.5", lr="0.25")
    step = mpmath.mpf("0.25") * mpmath.sqrt(2) / 2
    assert abs(theta[0] - (1 - step)) < TOL and theta[1] == 1 and theta[2] == 1 and abs(theta[3] - (1 - step)) < TOL


def test_constant_gradient_recursion_with_relative_step():
    """Constant g: v_t = g² for every t, U = sign(g), so θ_t = θ_{t−1} − RMS(θ_{t−1})·min(η, 1/√t)·sign(g);
    with η = 1 the relative step is 1/√t from t = 1."""
    steps = trajectory([2], [["0.5"]] * 5, eps1="0", eps2="0", lr="1")
    theta = mpmath.mpf(2)
    for t, (got,) in enumerate(steps, 1):
        theta = theta - abs(theta) / mpmath.sqrt(t)
        assert abs(got - theta) < TOL
    steps = trajectory([2], [["0.5"]] * 5, semantics={"adafactor_step": "param_scaled"}, eps1="0", eps2="0",
                       lr="0.5")
    assert abs(steps[-1][0] - 2 * mpmath.mpf("0.5") ** 5) < TOL


def test_eps2_floors_the_parameter_scale():
    (theta,) = trajectory([0, 0], [["0.5", "-0.25"]], eps1="0", eps2="0.001", lr="0.01")
    assert all(abs(x - y) < TOL for x, y in zip(theta, [mpmath.mpf("-1e-5"), mpmath.mpf("1e-5")]))


def test_decay_schedule_second_step():
    """t = 2: β̂₂ = 1 − 2^−0.8; v₂ = β̂₂g₁² + (1 − β̂₂)g₂² for a one-element vector, U = g₂/√v₂ (|U| ≤ 1 = d)."""
    (a,), (b,) = trajectory([1], [[1], ["0.5"]], eps1="0", eps2="0", lr="0.25")
    beta = 1 - mpmath.mpf(2) ** mpmath.mpf("-0.8")
    v2 = beta + (1 - beta) * mpmath.mpf("0.25")
    assert a == mpmath.mpf("0.75")
    assert abs(b - (a - a * mpmath.mpf("0.25") * mpmath.mpf("0.5") / mpmath.sqrt(v2))) < TOL


def test_torch_python_max_with_nan():
    """A vector with a NaN gradient element: RMS(U) = NaN. torch's Python max(1, NaN) = 1 keeps the other
    element finite (its step is α·sign(g) at t = 1); IEEE max makes the whole tensor NaN."""
    (theta,) = trajectory([1, 1], [["nan", "0.5"]], profile="torch", eps1="1e-30")
    assert mpmath.isnan(theta[0]) and mpmath.isfinite(theta[1])
    (theta,) = trajectory([1, 1], [["nan", "0.5"]])
    assert all(mpmath.isnan(x) for x in theta)


mat = st.lists(st.integers(-32, 32).filter(bool), min_size=6, max_size=6)


@settings(max_examples=25, deadline=None)
@given(st.lists(mat, min_size=1, max_size=4), st.integers(-8, 8))
def test_gradient_scale_invariance_without_eps1(grads, k):
    """ε₁ = 0: V̂ is homogeneous of degree 2 in g, so U and the trajectory do not change under g → 2^k g."""
    g1 = [[str(Fraction(x, 8)) for x in r] for r in grads]
    g2 = [[str(Fraction(x, 8) * Fraction(2) ** k) for x in r] for r in grads]
    kw = dict(eps1="0", lr="0.125")
    assert trajectory([1, 2, -3, 1, 1, 1], g1, shape=(2, 3), **kw) == \
        trajectory([1, 2, -3, 1, 1, 1], g2, shape=(2, 3), **kw)


@settings(max_examples=25, deadline=None)
@given(st.lists(mat, min_size=1, max_size=4), st.integers(-6, 6))
def test_parameter_scale_equivariance_without_eps2(grads, k):
    """ε₂ = 0: α ∝ RMS(θ), so θ₀ → 2^k θ₀ scales the whole trajectory by 2^k."""
    g = [[str(Fraction(x, 8)) for x in r] for r in grads]
    c = mpmath.mpf(2) ** k
    p = [1, 2, -3, 1, 1, 1]
    a = trajectory(p, g, shape=(2, 3), eps2="0", lr="0.125")
    b = trajectory([str(c * x) for x in p], g, shape=(2, 3), eps2="0", lr="0.125")
    assert [[c * x for x in r] for r in a] == b
