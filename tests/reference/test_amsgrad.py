"""AMSGrad: the paper's first steps in exact fractions, the running maximum, raw_v against v_hat
by hand, equality with Adam while v grows, and scale invariance."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import F, close as _close, trajectory as _trajectory

AMS, ADAM = get("amsgrad"), get("adam")
trajectory = partial(_trajectory, AMS, states=True)
thetas = partial(_trajectory, AMS)
close = partial(_close, digits=55)


def test_paper_form_first_step():
    """No bias correction, ε = 0: θ₁ = θ₀ − η(1 − β₁)g/(√(1 − β₂)|g|); β₁ = 7/8, β₂ = 15/16 give
    (1/8)/(1/4) = 1/2, so θ₁ = θ₀ − η/2·sign(g) whatever |g|."""
    for g in ("0.001953125", "-64"):
        (x,), = thetas([1], [[g]], lr="0.25", beta1="0.875", beta2="0.9375")
        assert F(x) == (1 - Fraction(1, 8) if g[0] != "-" else 1 + Fraction(1, 8))


def test_running_maximum_holds_after_a_large_gradient():
    """β₁ = 1/2, β₂ = 3/4, ε = 0, g = (4, 0, 0): v = 4, 3, 9/4; v̂ = max = 4 throughout, √ = 2;
    m = 2, 1, 1/2: steps η·m/2 = 1, 1/2, 1/4 (η = 1). Adam would use √3 and 3/2 instead."""
    rec = trajectory([0], [[4], [0], [0]], lr=1, beta1="0.5", beta2="0.75")
    assert [F(r.params["x"].data[0]) for r in rec] == [-1, Fraction(-3, 2), Fraction(-7, 4)]
    assert [F(r.state["x"]["max_exp_avg_sq"].data[0]) for r in rec] == [4, 4, 4]
    assert [F(r.state["x"]["exp_avg_sq"].data[0]) for r in rec] == [4, 3, Fraction(9, 4)]


def test_raw_v_against_v_hat_with_bias_correction():
    """g = (2, 0), β₁ = 1/2, β₂ = 9/16, ε = 0, η = 1, bias correction on. t = 1: both v̂ = g² = 4,
    step = m̂/2 = 1. t = 2: m̂ = (1/2)/(3/4) = 2/3.
    raw_v: v̄ = max(7/4, 63/64) = 7/4, v̂ = (7/4)/(1 − 81/256) = 64/25, √ = 8/5: step 5/12.
    v_hat: v̄ = max(4, (63/64)/(175/256)) = 4, √ = 2: step 1/3."""
    kw = dict(lr=1, beta1="0.5", beta2="0.5625", eps=0)
    raw = thetas([0], [[2], [0]], semantics={"amsgrad_form": "raw_v"}, **kw)
    hat = thetas([0], [[2], [0]], semantics={"amsgrad_form": "v_hat"}, **kw)
    assert all(close(x[0], e) for x, e in zip(raw, [Fraction(-1), -1 - Fraction(5, 12)]))
    assert all(close(x[0], e) for x, e in zip(hat, [Fraction(-1), -1 - Fraction(1, 3)]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=8), st.sampled_from(["torch", "keras"]))
def test_equals_adam_while_v_grows(signs, profile):
    """With |g| constant v_t increases, so the maximum is v_t itself and raw-v AMSGrad is Adam."""
    grads = [["0.75" if s else "-0.75"] for s in signs]
    kw = dict(lr="0.015625", eps="5.9604644775390625e-8")
    a = thetas([1], grads, profile=profile, **kw)
    b = _trajectory(ADAM, [1], grads, profile=profile, **kw)
    assert [x[0] for x in a] == [y[0] for y in b]


def test_epsilon_hat_form_by_hand():
    """raw_v_hat (Keras): t = 1, g = 2, β₁ = 1/2, β₂ = 3/4, ε = 1/4, η = 1: m = 1, v = 1, c₁ = 1/2,
    c₂ = 1/4: u = (1/2)/(1/2)·1/(1 + 1/4) = 4/5; raw_v (torch): u = 2/(√4 + 1/4) = 8/9."""
    kw = dict(lr=1, beta1="0.5", beta2="0.75", eps="0.25")
    (hat,), = thetas([0], [[2]], semantics={"amsgrad_form": "raw_v_hat"}, **kw)
    (std,), = thetas([0], [[2]], semantics={"amsgrad_form": "raw_v"}, **kw)
    assert close(hat, Fraction(-4, 5)) and close(std, Fraction(-8, 9))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-100, 100).filter(bool), min_size=2, max_size=6), st.sampled_from(["1/64", "2", "1024"]),
       st.sampled_from(["spec", "torch", "optax", "keras"]))
def test_scale_invariance_without_eps(gs, c, profile):
    c = Fraction(c)
    a = thetas([1], [[str(Fraction(g, 8))] for g in gs], profile=profile, eps=0)
    b = thetas([1], [[str(Fraction(g, 8) * c)] for g in gs], profile=profile, eps=0)
    assert all(abs(x[0] - y[0]) < mpmath.mpf(10) ** -55 for x, y in zip(a, b))


def test_second_moment_delta_makes_v_and_its_maximum_nan_after_an_infinite_gradient():
    """g = 1/2, +∞, 1/4 (β₂ = 999/1000): v₁ = v̄₁ = (1 − β₂)/4, then v₂ = v̄₂ = +∞ under both forms; at
    step 3 mix keeps v₃ = β₂·∞ + (1 − β₂)/16 = +∞ (v̄₃ = +∞), delta gives v₃ = ∞ − ∞ = NaN and the
    NaN-propagating maximum v̄₃ = max(+∞, NaN) = NaN (Keras, tf_keras)."""
    for form in ("mix", "delta"):
        recs = trajectory([1], [["0.5"], ["inf"], ["0.25"]], semantics={"second_moment": form})
        v = [r.state["x"]["exp_avg_sq"].data[0] for r in recs]
        vmax = [r.state["x"]["max_exp_avg_sq"].data[0] for r in recs]
        assert F(v[0]) == F(vmax[0]) == Fraction(1, 4000)
        assert v[1] == vmax[1] == mpmath.inf
        if form == "mix":
            assert v[2] == vmax[2] == mpmath.inf
        else:
            assert mpmath.isnan(v[2]) and mpmath.isnan(vmax[2])
