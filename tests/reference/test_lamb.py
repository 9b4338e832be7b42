"""LAMB: trust-ratio steps by hand, the step-norm law, cancellation of the first bias correction, guards."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import TOL, trajectory as _trajectory

ALG = get("lamb")
trajectory = partial(_trajectory, ALG)


def test_first_step_with_decay_in_update_by_hand():
    """t = 1, ε = 0: r = sign(g) = (1, −1); u = r + λθ = (1 + 3/4, −1 + 1) = (7/4, 0) with θ = (3, 4), λ = 1/4;
    φ = ‖θ‖/‖u‖ = 5/(7/4) = 20/7, so θ₁ = θ − η·(20/7)·(7/4, 0) = (3 − 5η, 4) = (19/8, 4) for η = 1/8."""
    (theta,) = trajectory([3, 4], [["0.5", "-2"]], lr="0.125", eps="0", weight_decay="0.25")
    assert abs(theta[0] - mpmath.mpf(19) / 8) < TOL and theta[1] == 4


def test_first_step_keras_decoupled_by_hand():
    """decoupled_lr: θ' = θ(1 − ηλ) = (31/32)(3, 4), u = (1, −1), φ = ‖θ'‖/√2 = (155/32)/√2."""
    (theta,) = trajectory([3, 4], [["0.5", "-2"]], semantics={"trust_weight_decay": "decoupled_lr"},
                          lr="0.125", eps="0", weight_decay="0.25")
    phi = mpmath.mpf(155) / 32 / mpmath.sqrt(2)
    assert abs(theta[0] - (mpmath.mpf(93) / 32 - phi / 8)) < TOL
    assert abs(theta[1] - (mpmath.mpf(124) / 32 + phi / 8)) < TOL


def test_step_norm_is_lr_times_param_norm_without_decay():
    steps = trajectory([1, -2, 2], [["0.5", "3", "-0.001"], ["-1", "0.25", "4"], ["2", "2", "2"]], lr="0.0625")
    prev = [mpmath.mpf(1), mpmath.mpf(-2), mpmath.mpf(2)]
    for theta in steps:
        step = mpmath.sqrt(sum((a - b) ** 2 for a, b in zip(theta, prev)))
        assert abs(step - mpmath.mpf("0.0625") * mpmath.sqrt(sum(x * x for x in prev))) < TOL
        prev = theta


def test_bias_correction_cancels_without_eps_and_decay():
    """u is a scalar multiple (√c₂/c₁) of m/√v, and φu = ‖θ‖u/‖u‖ removes any scalar: on = off when ε = λ = 0."""
    grads = [["0.5", "-3"], ["1", "0.125"], ["-2", "2"], ["0.25", "-0.5"]]
    on = trajectory([1, 2], grads, eps="0", lr="0.125")
    off = trajectory([1, 2], grads, semantics={"bias_correction": "off"}, eps="0", lr="0.125")
    assert all(abs(a - b) < TOL for ra, rb in zip(on, off) for a, b in zip(ra, rb))
    with_eps = trajectory([1, 2], grads, semantics={"bias_correction": "off"}, eps="0.01", lr="0.125")
    assert abs(with_eps[-1][0] - on[-1][0]) > mpmath.mpf(10) ** -6


def test_nan_gradient_guards():
    """eq_zero: ‖u‖ = NaN → φ = NaN → the whole tensor is NaN. positive: φ = 1, so the finite element takes
    an unscaled Adam step η·g/(|g| + ε) at t = 1."""
    (a,) = trajectory([1, 1], [["nan", "0.5"]], lr="0.125", eps="0")
    assert all(mpmath.isnan(x) for x in a)
    (b,) = trajectory([1, 1], [["nan", "0.5"]], semantics={"trust_ratio_guard": "positive"}, lr="0.125", eps="0")
    assert mpmath.isnan(b[0]) and b[1] == mpmath.mpf("0.875")


def test_zero_parameters_take_an_adam_step():
    (theta,) = trajectory([0, 0], [["0.5", "-0.25"]], lr="0.125", eps="0")
    assert theta == [mpmath.mpf("-0.125"), mpmath.mpf("0.125")]


vec = st.lists(st.integers(-32, 32).filter(bool), min_size=3, max_size=3)


@settings(max_examples=30, deadline=None)
@given(st.lists(vec, min_size=1, max_size=5), st.integers(-8, 8))
def test_gradient_scale_invariance_without_eps(grads, k):
    g1 = [[str(Fraction(x, 8)) for x in r] for r in grads]
    g2 = [[str(Fraction(x, 8) * Fraction(2) ** k) for x in r] for r in grads]
    kw = dict(lr="0.0625", eps="0", weight_decay="0.125")
    assert trajectory([1, 2, -3], g1, **kw) == trajectory([1, 2, -3], g2, **kw)


def test_second_moment_delta_turns_an_infinite_v_into_nan_where_mix_keeps_it():
    """g = 1/2, +∞, 1/4 (β₂ = 999/1000): v₁ = (1 − β₂)/4 under both forms, v₂ = +∞; at step 3 mix
    gives β₂·∞ + (1 − β₂)/16 = +∞ and delta ∞ + (1 − β₂)(1/16 − ∞) = ∞ − ∞ = NaN (Keras)."""
    out = {}
    for form in ("mix", "delta"):
        recs = trajectory([1], [["0.5"], ["inf"], ["0.25"]], states=True, semantics={"second_moment": form})
        out[form] = [r.state["x"]["exp_avg_sq"].data[0] for r in recs]
    expected = mpmath.mpf(1) / 4000
    assert abs(out["mix"][0] - expected) < TOL and abs(out["delta"][0] - expected) < TOL
    assert out["mix"][1] == out["delta"][1] == mpmath.inf
    assert out["mix"][2] == mpmath.inf and mpmath.isnan(out["delta"][2])
