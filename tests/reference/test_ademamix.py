"""AdEMAMix: the first step and the schedulers derived by hand, the half-life reading of the β₃
warmup, every axis on a hand-derived step, α = 0 as Adam(W), and a float64 re-derivation in numpy
written from the paper's Algorithm 1."""
import math
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get
from optconform.reference.optimizers import ademamix

from ._trajectory_util import F, close, trajectory as _trajectory

ADEMAMIX = get("ademamix")
trajectory = partial(_trajectory, ADEMAMIX)
HYPER = dict(lr="0.125", beta1="0.75", beta2="0.9375", beta3="0.875", alpha="4", eps=0)


def h(**overrides):
    return ADEMAMIX.resolve("spec", {k: str(v) for k, v in overrides.items()})


def test_first_step_by_hand():
    """m₁ = (1 − β₁)g, m̂₁ = g; m₂ = (1 − β₃)g = g/8; v̂ = g²; with ε = 0 the step is
    −η·(g + αg/8)/|g| = −η·1.5·sign(g) for α = 4."""
    (r,) = trajectory(["1", "-1"], [["3", "-0.5"]], states=True, **HYPER)
    assert [F(x) for x in r.params["x"].data] == [1 - Fraction(3, 16), -1 + Fraction(3, 16)]
    assert [F(x) for x in r.state["x"]["exp_avg_slow"].data] == [Fraction(3, 8), -Fraction(1, 16)]
    assert [F(x) for x in r.state["x"]["exp_avg"].data] == [Fraction(3, 4), -Fraction(1, 8)]
    assert [F(x) for x in r.state["x"]["exp_avg_sq"].data] == [Fraction(9, 16), Fraction(1, 64)]


def test_the_slow_ema_is_not_bias_corrected():
    """slow_bias_correction = on divides m₂ by 1 − β₃: the first step becomes −η(1 + α)sign(g)."""
    (on,) = trajectory(["1"], [["3"]], semantics={"slow_bias_correction": "on"}, **HYPER)
    assert F(on[0]) == 1 - Fraction(5, 8)


def test_alpha_warmup_is_linear_and_capped():
    hh = h(alpha="5", alpha_beta3_warmup=4)
    assert [ademamix.alpha_at(t, hh) for t in range(1, 7)] == [mpmath.mpf(x) for x in ("1.25", "2.5", "3.75", 5, 5, 5)]
    assert ademamix.alpha_at(3, h(alpha="5")) == 5  # no warmup


def test_beta3_warmup_interpolates_the_half_life():
    """h(β) = ln ½/ln β steps: h(β₃,t) = (1 − t/T)h(β₁) + (t/T)h(β₃); β₃,0 = β₁ and β₃,T = β₃."""
    hh = h(beta1="0.9", beta3="0.9999", alpha_beta3_warmup=8)

    def half_life(b):
        return mpmath.log(mpmath.mpf("0.5")) / mpmath.log(b)

    for t in range(0, 9):
        want = (1 - mpmath.mpf(t) / 8) * half_life(hh.beta1) + mpmath.mpf(t) / 8 * half_life(hh.beta3)
        assert close(half_life(ademamix.beta3_at(t, hh)), want, digits=45)
    assert close(ademamix.beta3_at(0, hh), mpmath.mpf("0.9")) and close(ademamix.beta3_at(8, hh), hh.beta3)
    assert ademamix.beta3_at(20, hh) == hh.beta3
    # the authors' scheduler in Python floats: f(β) = ln ½/ln β − 1, f⁻¹(x) = ½^{1/(x + 1)}
    a = 3 / 8
    f = (1 - a) * (math.log(0.5) / math.log(0.9) - 1) + a * (math.log(0.5) / math.log(0.9999) - 1)
    assert float(ademamix.beta3_at(3, hh)) == pytest.approx(0.5 ** (1 / (f + 1)), rel=1e-14)


def test_the_warmup_needs_positive_betas():
    with pytest.raises(UserError, match="beta1 and beta3"):
        h(beta1="0", alpha_beta3_warmup=5)
    h(beta1="0")  # without the warmup β₁ = 0 is a valid choice (m̂₁ = g)


@pytest.mark.parametrize("placement,denominator", [
    ("std", 3 + Fraction(1, 4)),  # √v̂ + ε = |g| + ε
    ("hat", (Fraction(3, 4) + Fraction(1, 4)) * 4),  # (√v + ε)/√c₂ with √v = 3/4, √c₂ = 1/4
    ("inside", None),  # √(g² + ε)
])
def test_eps_placements_on_the_first_step(placement, denominator):
    hyper = dict(HYPER, eps="0.25", beta2="0.9375")  # c₂ = 1 − β₂ = 1/16
    (theta,) = trajectory(["0"], [["3"]], semantics={"eps_placement": placement}, **hyper)
    numerator = Fraction(3) + 4 * Fraction(3, 8)  # m̂₁ + αm₂ = g + α(1 − β₃)g
    if denominator is None:
        want = -Fraction(1, 8) * mpmath.mpf("4.5") / mpmath.sqrt(mpmath.mpf("9.25"))  # √(v̂ + ε)
        assert close(theta[0], want)
    else:
        assert close(theta[0], -Fraction(1, 8) * numerator / denominator)


def test_decoupled_and_l2_weight_decay():
    """decoupled_lr (the paper's −η(… + λθ)): θ(1 − ηλ) − ηu; l2: g + λθ enters all three moments."""
    (dec,) = trajectory(["2"], [["3"]], weight_decay="0.5", **HYPER)
    assert F(dec[0]) == 2 * Fraction(15, 16) - Fraction(3, 16)
    (l2,) = trajectory(["2"], [["-0.5"]], semantics={"weight_decay": "l2"}, weight_decay="0.5", **HYPER)
    assert F(l2[0]) == 2 - Fraction(3, 16)  # g + λθ = 0.5 > 0 moves θ down although g < 0


def test_alpha_zero_is_adamw():
    """α = 0 removes the slow EMA: the trajectory is the adamw reference's under its optax profile
    (θ(1 − ηλ), the mix form), computed by the other module."""
    grads = [["0.5", "-1.5"], ["1", "0.25"], ["-4", "1"], ["2", "-0.125"]]
    common = dict(lr="0.015625", beta1="0.875", beta2="0.9990234375", eps="5.9604644775390625e-8",
                  weight_decay="0.0625")
    a = trajectory(["1", "-2"], grads, alpha=0, **common)
    b = _trajectory(get("adamw"), ["1", "-2"], grads, profile="optax", **common)  # decoupled_lr, mix
    assert all(close(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_first_moment_forms_differ_after_an_infinite_gradient():
    """mix keeps m₁ = +∞ after g = +∞ and a finite g; lerp (pytorch-optimizer) gives ∞ − ∞ = NaN."""
    grads = [["1"], ["inf"], ["1"]]
    mix = trajectory(["0"], grads, states=True, **dict(HYPER, eps="1e-8"))
    lerp = trajectory(["0"], grads, states=True, semantics={"first_moment": "lerp"}, **dict(HYPER, eps="1e-8"))
    assert mpmath.isinf(mix[2].state["x"]["exp_avg"].data[0]) and mpmath.isinf(mix[2].state["x"]["exp_avg_slow"].data[0])
    assert mpmath.isnan(lerp[2].state["x"]["exp_avg"].data[0])
    assert mpmath.isnan(mix[1].params["x"].data[0])  # (∞ + α∞)/(∞ + ε)


def numpy_ademamix(theta, grads, lr, b1, b2, b3, alpha, eps, wd, warmup):
    """Algorithm 1 with its schedulers, in numpy float64, written independently of the reference."""
    theta = numpy.array(theta, dtype=numpy.float64)
    m1, m2, v = (numpy.zeros_like(theta) for _ in range(3))
    out = []
    for t, g in enumerate(grads, 1):
        g = numpy.array(g, dtype=numpy.float64)
        if warmup:
            a_t = min(t * alpha / warmup, alpha)
            x = t / warmup
            b3_t = min(math.exp(math.log(b1) * math.log(b3) / ((1 - x) * math.log(b3) + x * math.log(b1))), b3)
        else:
            a_t, b3_t = alpha, b3
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3_t * m2 + (1 - b3_t) * g
        v = b2 * v + (1 - b2) * g * g
        u = (m1 / (1 - b1 ** t) + a_t * m2) / (numpy.sqrt(v / (1 - b2 ** t)) + eps)
        theta = theta - lr * (u + wd * theta)
        out.append(theta.copy())
    return out


@pytest.mark.parametrize("warmup,wd", [(0, 0.0), (10, 0.0625)])
def test_agrees_with_a_float64_rederivation(warmup, wd):
    rng = numpy.random.default_rng(11)
    grads = [(rng.choice([0.125, 1.0, 4.0]) * rng.standard_normal(3)).tolist() for _ in range(25)]
    theta0 = [0.5, -1.0, 2.0]
    want = numpy_ademamix(theta0, grads, 0.015625, 0.875, 0.9990234375, 0.9921875, 5.0, 1e-8, wd, warmup)
    got = trajectory([repr(x) for x in theta0], [[repr(x) for x in g] for g in grads], lr="0.015625", beta1="0.875",
                     beta2="0.9990234375", beta3="0.9921875", alpha="5", eps="1e-8", weight_decay=repr(wd),
                     alpha_beta3_warmup=warmup)
    for a, b in zip(got, want):
        assert all(abs(float(x) - y) <= 1e-13 * max(1.0, abs(y)) for x, y in zip(a, b))


def test_defaults():
    spec, optax, po = (ADEMAMIX.resolve(p) for p in ("spec", "optax", "pytorch_optimizer"))
    assert (spec.lr, spec.beta1, spec.beta2, spec.beta3, spec.alpha, spec.eps) == (
        mpmath.mpf("1e-3"), mpmath.mpf("0.9"), mpmath.mpf("0.999"), mpmath.mpf("0.9999"), 2, mpmath.mpf("1e-8"))
    assert optax.alpha == po.alpha == 5 and spec.alpha_beta3_warmup == 0
