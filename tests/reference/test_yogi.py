"""Yogi: the additive second moment on hand-derived steps, its contrast with Adam's, every axis on
a first step written out by hand, and optax's form against an independent numpy float64 loop."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import F, close, mp, trajectory as _trajectory

YOGI = get("yogi")
trajectory = partial(_trajectory, YOGI)
# β₂ = 0.75 makes 1 − β₂ = 1/4 and √((1 − β₂)g²) = |g|/2 exact
EXACT = dict(lr="0.5", beta1="0.5", beta2="0.75", eps="0.25")


def v_of(records):
    return [r.state["x"]["exp_avg_sq"].data[0] for r in records]


def test_first_step_from_zero_is_adams_without_bias_correction():
    """m₀ = v₀ = 0: v₁ = 0 − (1 − β₂)·sign(−g²)·g² = (1 − β₂)g², m₁ = (1 − β₁)g, so with g = 2:
    v₁ = 1, m₁ = 1, θ₁ = 1 − 0.5·1/(√1 + 0.25) = 0.6."""
    rec, = trajectory([1], [[2]], states=True, **EXACT)
    assert rec.state["x"]["exp_avg_sq"].data[0] == 1 and rec.state["x"]["exp_avg"].data[0] == 1
    assert F(rec.params["x"].data[0]) == Fraction(3, 5)


def test_second_moment_moves_by_g_squared_not_by_the_gap():
    """v₁ = 1 (g = 2); g₂ = 0.5: g² = 0.25 < v, so v₂ = 1 − 0.25·0.25 = 0.9375, where Adam's
    v₂ = 0.75·1 + 0.25·0.25 = 0.8125 moves by (1 − β₂)(v − g²) = 0.1875. g₂ = 4: g² = 16 > v, so
    v₂ = 1 + 0.25·16 = 5 (Adam: 4.75)."""
    assert v_of(trajectory([1], [[2], ["0.5"]], states=True, **EXACT)) == [1, mp("0.9375")]
    assert v_of(trajectory([1], [[2], [4]], states=True, **EXACT)) == [1, 5]


def test_sign_of_zero_leaves_the_second_moment_unchanged():
    """g₂² = v₁ = 1: sign(0) = 0, v₂ = v₁."""
    assert v_of(trajectory([1], [[2], [1], [1]], states=True, **EXACT)) == [1, 1, 1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-64, 64), min_size=1, max_size=12))
def test_each_change_of_v_is_plus_or_minus_the_scaled_square(grads):
    """v_t − v_{t−1} ∈ {−(1 − β₂)g², 0, (1 − β₂)g²} with the sign of g² − v_{t−1}, and v ≥ 0."""
    g = [Fraction(x, 8) for x in grads]
    recs = trajectory([1], [[str(x)] for x in g], states=True, **EXACT)
    v_prev = Fraction(0)
    for gt, v in zip(g, v_of(recs)):
        v = F(v)
        step = Fraction(1, 4) * gt * gt
        expected = v_prev + step if gt * gt > v_prev else v_prev - step if gt * gt < v_prev else v_prev
        assert v == expected and v >= 0
        v_prev = v


def test_yogi_grows_v_faster_and_shrinks_it_slower_than_adam_when_v_is_large():
    """From v = 1 (g₁ = 2), with g₂² = 0.25 < v/2 Yogi keeps v larger than Adam (0.9375 > 0.8125), so
    its step is smaller; the first moment is the same, so θ₂(Yogi) − θ₁ is smaller in size."""
    (a1,), (a2,) = trajectory([1], [[2], ["0.5"]], **EXACT)
    m2, v_yogi, v_adam = Fraction(3, 4), Fraction(15, 16), Fraction(13, 16)  # m₂ = 0.5·1 + 0.5·0.5
    step_yogi = a1 - a2
    assert close(step_yogi, mp("0.5") * mp(m2) / (mpmath.sqrt(mp(v_yogi)) + mp("0.25")))
    step_adam = mp("0.5") * mp(m2) / (mpmath.sqrt(mp(v_adam)) + mp("0.25"))
    assert step_yogi < step_adam


def test_bias_correction_on_the_first_step():
    """optax's bias correction with g = 2, c = 0: m̂₁ = m₁/(1 − β₁) = g, v̂₁ = v₁/(1 − β₂) = g², so
    θ₁ = 1 − 0.5·2/(2 + 0.25) = 5/9 (ε added to √v̂); without it θ₁ = 1 − 0.5·1/(1 + 0.25) = 3/5."""
    (on,), = trajectory([1], [[2]], semantics={"bias_correction": "on"}, **EXACT)
    (off,), = trajectory([1], [[2]], **EXACT)
    assert close(on, Fraction(5, 9)) and F(off) == Fraction(3, 5)


def test_initial_accumulator_fills_v_and_where_declared_m():
    """c = 0.5, g = 1: v₁ = 0.5 − 0.25·sign(0.5 − 1)·1 = 0.75 for both; m₁ = 0.5·0 + 0.5·1 = 0.5
    (zero) or 0.5·0.5 + 0.5 = 0.75 (accumulator)."""
    for init, m1 in (("zero", Fraction(1, 2)), ("accumulator", Fraction(3, 4))):
        rec, = trajectory([1], [[1]], semantics={"first_moment_init": init}, states=True,
                          initial_accumulator="0.5", **EXACT)
        assert F(rec.state["x"]["exp_avg_sq"].data[0]) == Fraction(3, 4)
        assert F(rec.state["x"]["exp_avg"].data[0]) == m1


def test_weight_decay_forms_on_a_zero_gradient():
    """g = 0 and m₀ = v₀ = 0: decoupled_lr gives θ_t = θ₀(1 − ηλ)ᵗ exactly (the step is 0/(0 + ε) = 0);
    l2 makes the gradient λθ, so the first step is Adam's first step on λθ."""
    steps = trajectory([2], [[0]] * 4, semantics={"weight_decay": "decoupled_lr"}, weight_decay="0.25", **EXACT)
    assert [F(x) for (x,) in steps] == [2 * Fraction(7, 8) ** t for t in range(1, 5)]
    (l2,), = trajectory([2], [[0]], weight_decay="0.25", **EXACT)  # g = 0.5: m₁ = 0.25, √v₁ = 0.25
    assert F(l2) == 2 - Fraction(1, 2) * Fraction(1, 4) / (Fraction(1, 4) + Fraction(1, 4))


def test_nan_and_inf_gradients():
    """A NaN gradient makes v (and θ) NaN; an infinite one makes v = +∞ and θ NaN (∞/∞), and
    v stays +∞ after it (∞ − (1 − β₂)g² for finite g)."""
    recs = trajectory([1, 1], [[1, 1], ["nan", "inf"], [1, 1]], states=True, **EXACT)
    v = recs[1].state["x"]["exp_avg_sq"].data
    assert mpmath.isnan(v[0]) and v[1] == mpmath.inf
    assert recs[2].state["x"]["exp_avg_sq"].data[1] == mpmath.inf
    assert all(mpmath.isnan(x) for x in recs[1].params["x"].data)


def numpy_optax_yogi(theta, grads, lr, b1, b2, eps, c):
    """optax.yogi's equations (optax/_src/transform.py scale_by_yogi) written out in float64."""
    theta = numpy.array(theta, dtype=numpy.float64)
    m = numpy.full_like(theta, c)
    v = numpy.full_like(theta, c)
    out = []
    for t, g in enumerate(grads, 1):
        g = numpy.array(g, dtype=numpy.float64)
        m = (1 - b1) * g + b1 * m
        v = v - (1 - b2) * numpy.sign(v - g * g) * g * g
        u = (m / (1 - b1 ** t)) / (numpy.sqrt(v / (1 - b2 ** t)) + eps)
        theta = theta - lr * u
        out.append(theta.copy())
    return out


def test_optax_profile_matches_a_float64_rederivation():
    rng = numpy.random.default_rng(7)
    theta0 = rng.uniform(-2, 2, 5).round(6)
    grads = [rng.normal(0, 1, 5).round(6) for _ in range(25)]
    got = trajectory([repr(float(x)) for x in theta0], [[repr(float(x)) for x in g] for g in grads],
                     profile="optax", lr="0.02")
    want = numpy_optax_yogi(theta0, grads, 0.02, 0.9, 0.999, 1e-3, 1e-6)
    for g_t, w_t in zip(got, want):
        for x, y in zip(g_t, w_t):
            assert abs(float(x) - y) <= 1e-13 * max(1.0, abs(y))


def test_defaults():
    h = YOGI.resolve("spec")
    assert (h.lr, h.beta1, h.beta2, h.eps, h.initial_accumulator) == (
        mp("0.01"), mp("0.9"), mp("0.999"), mp("0.001"), 0)
    assert YOGI.resolve("optax").initial_accumulator == mp("1e-6")
    assert YOGI.profiles["pytorch_optimizer"].semantics["weight_decay"] == "decoupled_lr"
    assert YOGI.profiles["torch_optimizer"].semantics["weight_decay"] == "l2"
