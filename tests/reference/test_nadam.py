"""NAdam: the first step and the constant-β₁ (optax) closed form in exact fractions, the
momentum-schedule products, the ψ = 1 identity between the scheduled and unscaled forms, and
scale invariance."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import close as _close, trajectory as _trajectory

NADAM = get("nadam")
trajectory = partial(_trajectory, NADAM, states=True)
thetas = partial(_trajectory, NADAM)
close = partial(_close, digits=55)


def test_constant_beta_closed_form():
    """μ_t = β₁ (optax): with constant g and ε = 0, m_t = (1 − β₁ᵗ)g and v̂_t = g², so step t is
    η·sign(g)·[(1 − β₁)/(1 − β₁ᵗ) + β₁(1 − β₁ᵗ)/(1 − β₁^{t+1})]."""
    b1, eta = Fraction(3, 4), Fraction(1, 16)
    steps = thetas([0], [["-0.3125"]] * 8, semantics={"nadam_momentum": "constant"},
                   lr="0.0625", beta1="0.75", beta2="0.875", eps=0)
    theta = Fraction(0)
    for t, (x,) in enumerate(steps, 1):
        theta += eta * ((1 - b1) / (1 - b1 ** t) + b1 * (1 - b1 ** t) / (1 - b1 ** (t + 1)))
        assert close(x, theta)


def test_unscaled_first_step_and_products():
    """μ_t = β₁(1 − ½·0.96ᵗ), β₁ = 1/2: μ₁ = 13/50, μ₂ = 337/1250. t = 1, ε = 0:
    m̄ = (1 − μ₁)g/(1 − μ₁) + μ₂(1 − β₁)g/(1 − μ₁μ₂) and v̂ = g², so θ₁ = −η(1 + μ₂/2/(1 − μ₁μ₂))."""
    b1 = Fraction(1, 2)
    mu = [b1 * (1 - Fraction(96, 100) ** t / 2) for t in range(1, 6)]
    assert mu[:2] == [Fraction(13, 50), Fraction(337, 1250)]
    rec = trajectory([0], [[3]] * 4, semantics={"nadam_momentum": "unscaled"}, lr=1, beta1="0.5", eps=0)
    assert close(rec[0].params["x"].data[0], -(1 + mu[1] / 2 / (1 - mu[0] * mu[1])))
    prod = Fraction(1)
    for t, r in enumerate(rec):
        prod *= mu[t]
        assert close(r.state["x"]["mu_product"], prod)


def test_scheduled_with_unit_psi_is_unscaled():
    grads = [["0.5"], ["-1.25"], ["2"], ["0.0625"]]
    a = thetas([1], grads, semantics={"nadam_momentum": "scheduled"}, momentum_decay=1)
    b = thetas([1], grads, semantics={"nadam_momentum": "unscaled"}, momentum_decay="0.004")
    assert [x[0] for x in a] == [y[0] for y in b]


def test_torch_schedule_values():
    """Dozat's μ_t with ψ = 1/250: μ₁ = 0.9(1 − ½·0.96^{0.004}) = 0.45007346…"""
    x, = [r.state["x"]["mu_product"] for r in trajectory([1], [[1]], profile="torch")]
    expected = mpmath.mpf("0.9") * (1 - mpmath.power(mpmath.mpf("0.96"), mpmath.mpf("0.004")) / 2)
    assert abs(x - expected) < mpmath.mpf(10) ** -60
    assert mpmath.nstr(x, 8) == "0.45007347"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-100, 100).filter(bool), min_size=2, max_size=6), st.sampled_from(["1/256", "4", "2048"]),
       st.sampled_from(["scheduled", "unscaled", "constant"]))
def test_scale_invariance_without_eps(gs, c, schedule):
    c = Fraction(c)
    a = thetas([1], [[str(Fraction(g, 8))] for g in gs], semantics={"nadam_momentum": schedule}, eps=0)
    b = thetas([1], [[str(Fraction(g, 8) * c)] for g in gs], semantics={"nadam_momentum": schedule}, eps=0)
    assert all(abs(x[0] - y[0]) < mpmath.mpf(10) ** -55 for x, y in zip(a, b))


def test_second_moment_delta_turns_an_infinite_v_into_nan_where_mix_keeps_it():
    """g = 1/2, +∞, 1/4 (β₂ = 999/1000): v₁ = (1 − β₂)/4 under both forms, v₂ = +∞; at step 3 mix
    gives β₂·∞ + (1 − β₂)/16 = +∞ and delta ∞ + (1 − β₂)(1/16 − ∞) = ∞ − ∞ = NaN (Keras, tf_keras)."""
    out = {}
    for form in ("mix", "delta"):
        recs = trajectory([1], [["0.5"], ["inf"], ["0.25"]], semantics={"second_moment": form})
        out[form] = [r.state["x"]["exp_avg_sq"].data[0] for r in recs]
    assert close(out["mix"][0], Fraction(1, 4000)) and close(out["delta"][0], Fraction(1, 4000))
    assert out["mix"][1] == out["delta"][1] == mpmath.inf
    assert out["mix"][2] == mpmath.inf and mpmath.isnan(out["delta"][2])
