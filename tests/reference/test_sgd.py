"""SGD: closed forms for constant gradients (geometric sums), hand-computed steps with exact
fractions, the first-step and learning-rate-placement axes, and linearity in the gradient."""
from fractions import Fraction
from functools import partial

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, trajectory as _trajectory

SGD = get("sgd")
trajectory = partial(_trajectory, SGD, states=True)
thetas = partial(_trajectory, SGD)


def test_plain_sgd_constant_gradient():
    """μ = 0: θ_t = θ₀ − tηg exactly, under every profile."""
    for profile in ("spec", "torch", "optax", "keras"):
        steps = thetas([1, -2], [["0.5", "-3"]] * 6, profile=profile, lr="0.125", momentum=0)
        for t, (a, b) in enumerate(steps, 1):
            assert (F(a), F(b)) == (1 - Fraction(t, 16), -2 + Fraction(3 * t, 8))


def test_heavy_ball_constant_gradient_geometric_sum():
    """b₁ = g, so b_t = g(1 − μᵗ)/(1 − μ) and θ_T = θ₀ − ηg Σ_{t≤T} (1 − μᵗ)/(1 − μ)."""
    mu, eta, g = Fraction(7, 8), Fraction(1, 16), Fraction(3, 4)
    steps = thetas([0], [["0.75"]] * 12, profile="torch", lr="0.0625", momentum="0.875")
    theta = Fraction(0)
    for t, (x,) in enumerate(steps, 1):
        theta -= eta * g * (1 - mu ** t) / (1 - mu)
        assert F(x) == theta


def test_first_momentum_axis_with_dampening():
    """τ = 1/4, constant g: torch b_t = μ^{t−1}g + (1−τ)g(1 − μ^{t−1})/(1−μ); zero-init
    (spec, dampened) b_t = (1−τ)g(1 − μᵗ)/(1−μ)."""
    mu, tau, eta, g = Fraction(1, 2), Fraction(1, 4), Fraction(1, 8), Fraction(1)
    hyper = dict(lr="0.125", momentum="0.5", dampening="0.25")
    grad_first = thetas([0], [[1]] * 8, semantics={"first_momentum": "grad", "lr_placement": "outside"}, **hyper)
    zero_init = thetas([0], [[1]] * 8, semantics={"first_momentum": "dampened", "lr_placement": "outside"}, **hyper)
    a = b = Fraction(0)
    for t in range(1, 9):
        a -= eta * (mu ** (t - 1) * g + (1 - tau) * g * (1 - mu ** (t - 1)) / (1 - mu))
        b -= eta * (1 - tau) * g * (1 - mu ** t) / (1 - mu)
        assert F(grad_first[t - 1][0]) == a
        assert F(zero_init[t - 1][0]) == b


def test_nesterov_constant_gradient():
    """u_t = g + μ b_t with b_t = g(1 − μᵗ)/(1 − μ)."""
    mu, eta, g = Fraction(3, 4), Fraction(1, 32), Fraction(-2)
    steps = thetas([1], [[-2]] * 10, profile="torch", lr="0.03125", momentum="0.75", nesterov=True)
    theta = Fraction(1)
    for t, (x,) in enumerate(steps, 1):
        theta -= eta * (g + mu * g * (1 - mu ** t) / (1 - mu))
        assert F(x) == theta


def test_lr_placement_hand_computed_with_changing_lr():
    """η₁ = 1/4, η₂ = 1/8, g = 1, μ = 1/2, b₁ = d₁.
    outside: b₁ = 1, θ₁ = −1/4; b₂ = 3/2, θ₂ = −1/4 − 3/16 = −7/16.
    inside:  b₁ = 1/4, θ₁ = −1/4; b₂ = 1/8 + 1/8 = 1/4, θ₂ = −1/2."""
    out = thetas([0], [[1], [1]], semantics={"lr_placement": "outside", "first_momentum": "grad"},
                 lrs=["0.25", "0.125"], lr="0.25", momentum="0.5")
    ins = thetas([0], [[1], [1]], semantics={"lr_placement": "inside", "first_momentum": "grad"},
                 lrs=["0.25", "0.125"], lr="0.25", momentum="0.5")
    assert [F(x[0]) for x in out] == [Fraction(-1, 4), Fraction(-7, 16)]
    assert [F(x[0]) for x in ins] == [Fraction(-1, 4), Fraction(-1, 2)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-64, 64), min_size=3, max_size=8), st.booleans(), st.sampled_from(["grad", "dampened"]))
def test_lr_placement_is_invisible_with_a_constant_lr(gs, nesterov, first):
    """b_inside = η b_outside, so with a constant η both placements give the same trajectory."""
    grads = [[Fraction(g, 16)] for g in gs]
    hyper = dict(lr="0.0625", momentum="0.75", nesterov=nesterov, dampening=0 if nesterov else "0.125")
    a = thetas([1], [[str(g[0])] for g in grads], semantics={"lr_placement": "outside", "first_momentum": first}, **hyper)
    b = thetas([1], [[str(g[0])] for g in grads], semantics={"lr_placement": "inside", "first_momentum": first}, **hyper)
    for x, y in zip(a, b):
        assert abs(x[0] - y[0]) <= mpmath.mpf(10) ** -55


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-64, 64), min_size=2, max_size=8), st.sampled_from([-4, -1, 2, 8]),
       st.sampled_from(["spec", "torch", "keras"]))
def test_displacement_is_linear_in_the_gradient(gs, c, profile):
    """Without weight decay θ_t − θ₀ is a linear function of the gradients: g → c·g scales it by c."""
    base = thetas([0, 0], [[g, -g] for g in gs], profile=profile, lr="0.125", momentum="0.5")
    scaled = thetas([0, 0], [[c * g, -c * g] for g in gs], profile=profile, lr="0.125", momentum="0.5")
    for x, y in zip(base, scaled):
        assert [F(c * a) for a in x] == [F(b) for b in y]


def test_plain_sgd_weight_decay_forms_agree_and_differ_with_momentum():
    """μ = 0: l2 θ − η(g + λθ) and decoupled_lr θ(1 − ηλ) − ηg are the same equation; with momentum
    the l2 term also enters the buffer: θ₂ differs."""
    kw = dict(lr="0.125", weight_decay="0.5")
    l2 = thetas([2], [[1]] * 3, semantics={"weight_decay": "l2"}, momentum=0, **kw)
    dec = thetas([2], [[1]] * 3, semantics={"weight_decay": "decoupled_lr"}, momentum=0, **kw)
    theta = Fraction(2)
    for x, y in zip(l2, dec):
        theta = theta * (1 - Fraction(1, 16)) - Fraction(1, 8)
        assert F(x[0]) == F(y[0]) == theta
    l2 = thetas([2], [[1]] * 2, semantics={"weight_decay": "l2"}, momentum="0.5", **kw)
    dec = thetas([2], [[1]] * 2, semantics={"weight_decay": "decoupled_lr"}, momentum="0.5", **kw)
    # l2 (spec: zero-init, lr inside): d₁ = η(g + λθ₀) = 1/4, b₁ = 1/4, θ₁ = 7/4;
    # d₂ = (1 + 7/8)/8 = 15/64, b₂ = 1/8 + 15/64 = 23/64, θ₂ = 7/4 − 23/64 = 89/64.
    assert [F(x[0]) for x in l2] == [Fraction(7, 4), Fraction(89, 64)]
    # decoupled: θ ← θ(1 − 1/16) first: 15/8 − 1/8 = 7/4; then 105/64 − (1/16 + 1/8) = 93/64.
    assert [F(x[0]) for x in dec] == [Fraction(7, 4), Fraction(93, 64)]


def test_no_buffer_without_momentum_and_buffer_sign_convention():
    assert trajectory([1], [[1]], momentum=0)[0].state["x"] == {}
    rec = trajectory([1], [[1], [1]], profile="torch", lr="0.5", momentum="0.5")
    assert [F(r.state["x"]["momentum_buffer"].data[0]) for r in rec] == [1, Fraction(3, 2)]


@pytest.mark.parametrize("hyper", [dict(nesterov=True, momentum=0), dict(nesterov=True, momentum="0.5", dampening="0.25")])
def test_nesterov_needs_momentum_and_no_dampening(hyper):
    with pytest.raises(UserError, match="nesterov"):
        SGD.resolve("spec", {k: str(v) for k, v in hyper.items()})
