"""Adam: closed forms derived by hand, the tutorial example, and invariances (hypothesis)."""
from fractions import Fraction
from functools import partial

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get
from optconform.reference.numeric import precision

from ._trajectory_util import trajectory as _trajectory

ADAM = get("adam")
trajectory = partial(_trajectory, ADAM)


def test_tutorial_step_is_0_900000002_not_0_95():
    (theta,), = trajectory([1], [[0.5]], lr="0.1")
    exact = 1 - Fraction(1, 10) * Fraction(1, 2) / (Fraction(1, 2) + Fraction(1, 10 ** 8))
    assert abs(Fraction(mpmath.nstr(theta, 45)) - exact) < Fraction(1, 10 ** 40)
    assert abs(theta - mpmath.mpf("0.95")) > mpmath.mpf("0.04")


@pytest.mark.parametrize("g", ["0.5", "-3", "1e-7"])
def test_constant_gradient_moves_exactly_lr_g_over_abs_g_plus_eps_every_step(g):
    """m̂_t = g and v̂_t = g² for every t when g is constant, so every step is η g/(|g| + ε)."""
    steps = trajectory([1], [[g]] * 6, lr="0.01", eps="1e-8")
    with precision(64):
        gm = mpmath.mpf(g)
        step = mpmath.mpf("0.01") * gm / (abs(gm) + mpmath.mpf("1e-8"))
        for t, (theta,) in enumerate(steps, 1):
            assert abs(theta - (1 - t * step)) < mpmath.mpf(10) ** -50


def test_hat_form_constant_gradient_closed_form():
    """hat: u_t = (√c₂/c₁)·m_t/(√v_t + ε) with m_t = c₁g, v_t = c₂g², so u_t = g√c₂/(√c₂|g| + ε)."""
    b2, eps, lr, g = mpmath.mpf("0.999"), mpmath.mpf("1e-4"), mpmath.mpf("0.1"), mpmath.mpf("0.25")
    steps = trajectory([0], [["0.25"]] * 4, semantics={"eps_placement": "hat"}, lr="0.1", eps="1e-4")
    with precision(64):
        theta = mpmath.mpf(0)
        for t, (got,) in enumerate(steps, 1):
            c2 = 1 - b2 ** t
            theta -= lr * g * mpmath.sqrt(c2) / (mpmath.sqrt(c2) * g + eps)
            assert abs(got - theta) < mpmath.mpf(10) ** -50


def test_inside_and_no_bias_correction_closed_forms():
    lr, eps, g = mpmath.mpf("0.1"), mpmath.mpf("1e-4"), mpmath.mpf("0.25")
    inside = trajectory([0], [["0.25"]] * 3, semantics={"eps_placement": "inside"}, lr="0.1", eps="1e-4")
    raw = trajectory([0], [["0.25"]] * 3, semantics={"bias_correction": "off"}, lr="0.1", eps="1e-4")
    with precision(64):
        b1, b2 = mpmath.mpf("0.9"), mpmath.mpf("0.999")
        t_in = t_raw = mpmath.mpf(0)
        for t in range(1, 4):
            t_in -= lr * g / mpmath.sqrt(g * g + eps)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            t_raw -= lr * c1 * g / (mpmath.sqrt(c2) * g + eps)
            assert abs(inside[t - 1][0] - t_in) < mpmath.mpf(10) ** -50
            assert abs(raw[t - 1][0] - t_raw) < mpmath.mpf(10) ** -50


def test_l2_and_decoupled_weight_decay_first_step():
    """t = 1, θ = 2, g = 0.5, λ = 0.25, ε = 0: l2 uses g + λθ = 1 → step η·sign; decoupled shrinks θ first."""
    (l2,), = trajectory([2], [["0.5"]], lr="0.1", eps="0", weight_decay="0.25")
    (dec,), = trajectory([2], [["0.5"]], semantics={"weight_decay": "decoupled_lr"}, lr="0.1", eps="0",
                         weight_decay="0.25")
    assert l2 == mpmath.mpf("1.9")  # 2 − 0.1·1/1
    assert dec == mpmath.mpf(2) * (1 - mpmath.mpf("0.1") * mpmath.mpf("0.25")) - mpmath.mpf("0.1")


dyadic = st.integers(min_value=-64, max_value=64).filter(lambda n: n != 0).map(lambda n: Fraction(n, 16))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(dyadic, min_size=2, max_size=2), min_size=1, max_size=5), st.integers(-6, 6),
       st.sampled_from(["std", "hat", "inside"]))
def test_scale_invariance_without_eps(grads, k, form):
    """With ε = 0 the update is invariant under g → c·g (c > 0); c = 2^k keeps every value exact."""
    base = trajectory([1, -1], [[str(x) for x in g] for g in grads], semantics={"eps_placement": form}, eps="0")
    scaled = trajectory([1, -1], [[str(x * Fraction(2) ** k) for x in g] for g in grads],
                        semantics={"eps_placement": form}, eps="0")
    for a, b in zip(base, scaled):
        assert all(abs(x - y) < mpmath.mpf(10) ** -50 for x, y in zip(a, b))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(dyadic, min_size=2, max_size=2), min_size=1, max_size=5),
       st.sampled_from(["l2", "decoupled_lr", "none"]))
def test_odd_symmetry(grads, wd):
    """Negating the initial parameters and every gradient negates the whole trajectory."""
    a = trajectory([1, "0.5"], [[str(x) for x in g] for g in grads], semantics={"weight_decay": wd},
                   weight_decay="0.125")
    b = trajectory([-1, "-0.5"], [[str(-x) for x in g] for g in grads], semantics={"weight_decay": wd},
                   weight_decay="0.125")
    for x, y in zip(a, b):
        assert all(p == -q for p, q in zip(x, y))


@pytest.mark.parametrize("form", ["mix", "delta"])
def test_second_moment_forms_agree_while_finite_and_split_after_an_infinite_gradient(form):
    """g = 1/2, 1/4, +∞, 1/2 (β₂ = 999/1000): v₁ = (1 − β₂)/4 and v₂ = β₂v₁ + (1 − β₂)/16 under both
    forms (equal in exact arithmetic); v₃ = +∞; at step 4, mix gives β₂·∞ + (1 − β₂)/4 = +∞ and delta
    gives ∞ + (1 − β₂)(1/4 − ∞) = ∞ − ∞ = NaN."""
    from ._trajectory_util import close

    recs = _trajectory(ADAM, [1], [["0.5"], ["0.25"], ["inf"], ["0.5"]], states=True,
                       semantics={"second_moment": form})
    v = [r.state["x"]["exp_avg_sq"].data[0] for r in recs]
    b2 = Fraction(999, 1000)
    v1 = (1 - b2) / 4
    assert close(v[0], v1) and close(v[1], b2 * v1 + (1 - b2) / 16)
    assert v[2] == mpmath.inf
    assert (v[3] == mpmath.inf) if form == "mix" else mpmath.isnan(v[3])


def _one_step(g, effects=None):
    """θ₁ of θ₀ = 1 after one step with gradient ``g`` (spec profile, β₂ = 0.999), with ``effects``."""
    from optconform.reference.scenarios import Case
    from optconform.reference.tensor import Tensor
    from optconform.reference.trajectory import run

    h = ADAM.resolve("spec", {"lr": "0.1", "beta2": "0.999"})
    case = Case(ADAM, ADAM.profile("spec"), "test", "", 1, (), [(("x",), h)],
                params={"x": Tensor.from_values([1])}, grads=[{"x": Tensor.from_values([g])}])
    (record,) = run(case, effects=effects)
    return record.params["x"].data[0]


def test_rounded_powers_divide_by_a_zero_bias_correction_as_ieee_does():
    """β₂ = 0.999 is 1 in bfloat16 (its neighbours there are 1 − 2⁻⁸ and 1), so with β₂ rounded in
    the power c₂ = 1 − 1¹ = 0: v̂ = v/0 = +∞ for v = (1 − β₂)g² > 0 and the step m̂/(∞ + ε) is 0
    (θ stays 1, as jax.example_libraries in bfloat16); with g = 0, v̂ = 0/0 = NaN and so is θ."""
    from optconform.reference.numeric import round_to

    assert round_to(mpmath.mpf("0.999"), "bfloat16") == 1
    bf16 = {"power_beta1": "bfloat16", "power_beta2": "bfloat16"}
    assert _one_step("0.5", bf16) == 1
    assert mpmath.isnan(_one_step("0", bf16))
    assert _one_step("0.5") < 1  # the exact step moves: c₂ = 1 − 0.999 = 1/1000


def test_the_exact_direction_raises_on_a_zero_bias_correction():
    """The exact step never meets c₂ = 0 (β₂ < 1), so a zero correction there is a bug: it raises."""
    from optconform.reference.model import Namespace
    from optconform.reference.optimizers.adam import direction
    from optconform.reference.tensor import Tensor

    m, v = Tensor.from_values(["0.05"]), Tensor.from_values(["0.00025"])
    sem, h = Namespace(eps_placement="std", bias_correction="on"), Namespace(eps=mpmath.mpf(0))
    with pytest.raises(ZeroDivisionError):
        direction(m, v, mpmath.mpf("0.1"), 0, h, sem)
