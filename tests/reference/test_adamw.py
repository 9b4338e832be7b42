"""AdamW: first steps and constant-gradient recursions in exact fractions, the two decay scalings,
AdamW without decay is Adam, and scale invariance."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import Namespace, get
from optconform.reference.tensor import Tensor

from ._trajectory_util import F, trajectory

ADAMW, ADAM = get("adamw"), get("adam")
thetas = partial(trajectory, ADAMW)


def test_constant_gradient_geometric_recursion():
    """With ε = 0 and a constant g, m̂_t = g and v̂_t = g², so u_t = sign(g) and
    θ_t = a θ_{t−1} − η sign(g) with a = 1 − s λ (spec) or 1 − ηλ (torch): a geometric sum."""
    eta, lam = Fraction(1, 8), Fraction(1, 4)
    for profile, a in (("spec", 1 - lam), ("torch", 1 - eta * lam)):
        steps = thetas([3], [["-0.5"]] * 8, profile=profile, lr="0.125", weight_decay="0.25", eps=0)
        for t, (x,) in enumerate(steps, 1):
            expected = a ** t * 3 + eta * (1 - a ** t) / (1 - a)
            assert F(x) == expected


def test_first_step_with_eps_hand_computed():
    """t = 1: u = g/(|g| + ε) in std. θ₀ = 1, g = 0.5, η = 0.1, λ = 0.01, ε = 1e-8:
    spec θ₁ = 0.99 − 0.1·0.5/(0.5 + 1e-8); torch θ₁ = 0.999 − 0.1·0.5/(0.5 + 1e-8)."""
    kw = dict(lr="0.1", weight_decay="0.01", eps="1e-8")
    (spec,), = thetas([1], [["0.5"]], **kw)
    (torch,), = thetas([1], [["0.5"]], profile="torch", **kw)
    step = mpmath.mpf("0.05") / (mpmath.mpf("0.5") + mpmath.mpf("1e-8"))
    assert abs(spec - (mpmath.mpf("0.99") - step)) < mpmath.mpf(10) ** -60
    assert abs(torch - (mpmath.mpf("0.999") - step)) < mpmath.mpf(10) ** -60


def test_decoupled_schedule_uses_the_multiplier_not_the_lr():
    """Under a schedule s_t = 1/2 (η_t = η/2): spec decays by 1 − λ/2, torch by 1 − ηλ/2."""
    h = ADAMW.resolve("spec", {"lr": "0.25", "weight_decay": "0.5", "eps": "0"})
    out = {}
    for profile in ("spec", "torch"):
        sem = Namespace(ADAMW.profile(profile).semantics)
        p = ADAMW.impl.init(Tensor.from_values([2]), h, sem)
        ht = Namespace(h, lr=mpmath.mpf("0.125"))
        new = ADAMW.impl.step(Tensor.from_values([2]), Tensor.from_values([1]), p, ht, sem,
                              Namespace(t=1, lr=ht.lr, lr_factor=mpmath.mpf("0.5")))
        out[profile] = F(new.data[0])
    assert out["spec"] == 2 * Fraction(3, 4) - Fraction(1, 8)
    assert out["torch"] == 2 * (1 - Fraction(1, 16)) - Fraction(1, 8)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-100, 100).filter(bool), min_size=2, max_size=6),
       st.sampled_from(["torch", "keras"]))
def test_without_decay_adamw_is_adam(gs, profile):
    grads = [[Fraction(g, 32)] for g in gs]
    kw = dict(lr="0.015625", eps="5.9604644775390625e-8")
    a = thetas([1], [[str(g[0])] for g in grads], profile=profile, weight_decay=0, **kw)
    b = trajectory(ADAM, [1], [[str(g[0])] for g in grads], profile=profile, **kw)
    assert [x[0] for x in a] == [y[0] for y in b]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-100, 100).filter(bool), min_size=2, max_size=6), st.sampled_from([-8, -1, 4, 1024]),
       st.sampled_from(["spec", "torch", "keras"]))
def test_scale_invariance_without_eps(gs, c, profile):
    """ε = 0: the Adam direction is invariant under g → c·g for c > 0 and flips with c < 0; the
    decay does not see g."""
    grads = [[str(Fraction(g, 32))] for g in gs]
    scaled = [[str(Fraction(g * c, 32))] for g in gs]
    a = thetas([1], grads, profile=profile, eps=0, weight_decay="0.125", lr="0.0625")
    b = thetas([1], scaled, profile=profile, eps=0, weight_decay="0.125", lr="0.0625")
    if c > 0:
        assert all(abs(x[0] - y[0]) < mpmath.mpf(10) ** -55 for x, y in zip(a, b))
    else:  # θ₀ decays the same, the step flips
        a0 = thetas([0], grads, profile=profile, eps=0, weight_decay="0.125", lr="0.0625")
        b0 = thetas([0], scaled, profile=profile, eps=0, weight_decay="0.125", lr="0.0625")
        assert all(abs(x[0] + y[0]) < mpmath.mpf(10) ** -55 for x, y in zip(a0, b0))


def test_second_moment_delta_turns_an_infinite_v_into_nan_where_mix_keeps_it():
    """g = 1/2, +∞, 1/4 (β₂ = 999/1000): v₁ = (1 − β₂)/4 under both forms, v₂ = +∞; at step 3 mix
    gives β₂·∞ + (1 − β₂)/16 = +∞ and delta ∞ + (1 − β₂)(1/16 − ∞) = ∞ − ∞ = NaN (Keras, tf_keras)."""
    out = {}
    for form in ("mix", "delta"):
        recs = trajectory(ADAMW, [1], [["0.5"], ["inf"], ["0.25"]], states=True, semantics={"second_moment": form})
        out[form] = [r.state["x"]["exp_avg_sq"].data[0] for r in recs]
    assert F(out["mix"][0]) == F(out["delta"][0]) == Fraction(1, 4000)
    assert out["mix"][1] == out["delta"][1] == mpmath.inf
    assert out["mix"][2] == mpmath.inf and mpmath.isnan(out["delta"][2])
