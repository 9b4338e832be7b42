"""Rprop: trajectories derived by hand for each variant of the sign change, the step-size bounds and
a NaN gradient, closed forms for a constant gradient, and the invariance to the gradient's scale."""
from fractions import Fraction
from functools import partial

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.errors import UserError
from optconform.reference.model import get
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

from ._trajectory_util import F, trajectory as _trajectory

RPROP = get("rprop")
trajectory = partial(_trajectory, RPROP)
# η⁻ = 1/2, η⁺ = 2 and wide bounds keep every value a short dyadic fraction
EASY = dict(lr="0.25", eta_minus="0.5", eta_plus="2", step_size_min="0.0001", step_size_max="100")
IRPROP_MINUS = {"sign_change": "skip"}


def _params(records):
    return [[F(x) for x in r.params["x"].data] for r in records]


def _state(records, entry):
    return [[F(x) for x in r.state["x"][entry].data] for r in records]


def test_constant_gradient_grows_the_step_geometrically_up_to_the_largest():
    """s₁ = Δ₀ (the first product is 0), then s_t = min(s_{t−1}η⁺, Δmax): 1/4, 5/16, 25/64, 125/256,
    then Δmax = 1/2 (625/1024 is above it); θ moves by −s_t each step."""
    records = trajectory([1], [[3]] * 5, states=True, lr="0.25", eta_plus="1.25", step_size_max="0.5")
    sizes = [Fraction(1, 4), Fraction(5, 16), Fraction(25, 64), Fraction(125, 256), Fraction(1, 2)]
    assert [s for (s,) in _state(records, "step_size")] == sizes
    theta = Fraction(1)
    for (got,), s in zip(_params(records), sizes):
        theta -= s
        assert got == theta


def test_spec_backtracks_the_previous_step_on_a_sign_change():
    """Rprop+ with g = 1, 1, −1, 1: steps −1/4, −1/2, then +1/2 (the previous step taken back, s = 1/4,
    stored gradient 0), then a fresh step −1/4 (product 0, s kept)."""
    records = trajectory([0], [[1], [1], [-1], [1]], states=True, **EASY)
    assert [p for (p,) in _params(records)] == [Fraction(-1, 4), Fraction(-3, 4), Fraction(-1, 4), Fraction(-1, 2)]
    assert [s for (s,) in _state(records, "step_size")] == [Fraction(1, 4), Fraction(1, 2), Fraction(1, 4),
                                                            Fraction(1, 4)]
    assert [g for (g,) in _state(records, "prev")] == [1, 1, 0, 1]
    assert [u for (u,) in _state(records, "prev_update")] == [Fraction(1, 4), Fraction(1, 2), Fraction(-1, 2),
                                                              Fraction(1, 4)]


def test_irprop_minus_skips_the_step_and_forgets_the_gradient():
    """iRprop− (torch): at the sign change the element stays (−3/4) and prev = 0, so the next
    product is 0 and the step size 1/4 is kept."""
    records = trajectory([0], [[1], [1], [-1], [1]], semantics=IRPROP_MINUS, states=True, **EASY)
    assert [p for (p,) in _params(records)] == [Fraction(-1, 4), Fraction(-3, 4), Fraction(-3, 4), Fraction(-1)]
    assert [g for (g,) in _state(records, "prev")] == [1, 1, 0, 1]
    assert "prev_update" not in records[0].state["x"]


def test_rprop_minus_steps_with_the_shrunk_step_and_keeps_the_gradient():
    """Rprop−: at t = 3 the element steps +1/4 (s = 1/4, sign −1) and keeps g = −1, so t = 4 is a
    sign change again: s = 1/8 and a step −1/8."""
    records = trajectory([0], [[1], [1], [-1], [1]], semantics={"sign_change": "step"}, states=True, **EASY)
    assert [p for (p,) in _params(records)] == [Fraction(-1, 4), Fraction(-3, 4), Fraction(-1, 2), Fraction(-5, 8)]
    assert [s for (s,) in _state(records, "step_size")][-1] == Fraction(1, 8)


def test_optax_applies_the_previous_steps_update():
    """update_delay = one_step with iRprop−: the first step is 0, every later one the step computed
    one gradient before (1/4, then 0 at the sign change, then the 0 stored at the sign change)."""
    records = trajectory([0], [[1], [1], [-1], [1]], semantics={"sign_change": "skip", "update_delay": "one_step"},
                         states=True, **EASY)
    assert [p for (p,) in _params(records)] == [0, Fraction(-1, 4), Fraction(-1, 4), Fraction(-1, 4)]
    assert [u for (u,) in _state(records, "prev_update")] == [Fraction(1, 4), Fraction(1, 2), 0, Fraction(1, 4)]


@pytest.mark.parametrize("form, sizes, params", [
    # Δ₀ = 1 above Δmax = 1/4: the papers leave it until it changes, and bound a shrinking step from below only
    ("one_sided", [1, Fraction(1, 2)], [-1, -1]),
    ("on_change", [1, Fraction(1, 4)], [-1, -1]),  # optax: clipped on both sides once it changes
    ("always", [Fraction(1, 4), Fraction(1, 8)], [Fraction(-1, 4), Fraction(-1, 4)]),  # torch: from the first step
])
def test_step_size_bounds_with_an_initial_step_outside_them(form, sizes, params):
    records = trajectory([0], [[1], [-1]], semantics={**IRPROP_MINUS, "step_size_clamp": form}, states=True,
                         lr="1", eta_minus="0.5", eta_plus="2", step_size_min="0.0625", step_size_max="0.25")
    assert [s for (s,) in _state(records, "step_size")] == sizes
    assert [p for (p,) in _params(records)] == params


def test_step_size_never_falls_below_the_smallest():
    """Alternating signs with iRprop−: s halves at every other step, 1/4 → 1/8 → 1/16, then stays at
    Δmin = 1/16."""
    grads = [[(-1) ** t] for t in range(8)]
    records = trajectory([0], grads, semantics=IRPROP_MINUS, states=True, lr="0.25", eta_minus="0.5",
                         step_size_min="0.0625")
    assert [s for (s,) in _state(records, "step_size")] == [Fraction(1, 4), Fraction(1, 8), Fraction(1, 8),
                                                            Fraction(1, 16), Fraction(1, 16), Fraction(1, 16),
                                                            Fraction(1, 16), Fraction(1, 16)]


def test_a_zero_gradient_keeps_the_element_and_its_step_size():
    records = trajectory([1], [[1], [0], [1]], states=True, **EASY)
    assert [p for (p,) in _params(records)] == [Fraction(3, 4), Fraction(3, 4), Fraction(1, 2)]
    assert [s for (s,) in _state(records, "step_size")] == [Fraction(1, 4)] * 3


@pytest.mark.parametrize("semantics, sizes, params", [
    # the spec: the NaN product makes the step size NaN, and the NaN sign the parameter
    ({"nan_gradient": "propagate"}, ["nan", "nan"], [Fraction(-1, 4), "nan", "nan"]),
    # torch: sign(NaN) = 0, so the element stays and keeps s; the stored NaN makes the next product
    # NaN, which again keeps s
    ({"nan_gradient": "ignore"}, [Fraction(1, 4), Fraction(1, 4)],
     [Fraction(-1, 4), Fraction(-1, 4), Fraction(-1, 2)]),
    # optax's forms without the delay: s shrinks twice (NaN products), the step is NaN
    ({"nan_gradient": "shrink"}, [Fraction(1, 8), Fraction(1, 16)],
     [Fraction(-1, 4), "nan", "nan"]),
])
def test_a_nan_gradient(semantics, sizes, params):
    records = trajectory([0], [[1], ["nan"], [1]], semantics={**IRPROP_MINUS, **semantics}, states=True, **EASY)
    got_sizes = [s for (s,) in _state(records, "step_size")][1:]
    got_params = [p for (p,) in _params(records)]
    for got, want in zip(got_sizes + got_params, sizes + params):
        assert (mpmath.isnan(got) if want == "nan" else got == want), (got_sizes, got_params)


def test_an_infinite_gradient_is_a_large_one():
    """sign(∞) = 1 and ∞·g has the sign of g: the trajectory is that of any large gradient."""
    a = trajectory([0], [[1], ["inf"], [2]], semantics=IRPROP_MINUS, **EASY)
    b = trajectory([0], [[1], ["1e300"], [2]], semantics=IRPROP_MINUS, **EASY)
    assert a == b


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(-8, 8), min_size=3, max_size=3), min_size=1, max_size=8),
       st.integers(-20, 20), st.sampled_from(["backtrack", "skip", "step"]))
def test_the_gradient_scale_does_not_change_the_trajectory(grads, k, form):
    """Only signs enter: g → 2^k·3·g gives the same parameters and step sizes."""
    scaled = [[str(Fraction(x * 3) * Fraction(2) ** k) for x in row] for row in grads]
    a = trajectory([1, 2, 3], grads, semantics={"sign_change": form}, **EASY)
    b = trajectory([1, 2, 3], [[f"{Fraction(v).numerator}/{Fraction(v).denominator}" for v in row]
                               for row in scaled], semantics={"sign_change": form}, **EASY)
    assert a == b


def test_maximize_ascends():
    up = trajectory([0], [[1], [1]], maximize="true", **EASY)
    down = trajectory([0], [[-1], [-1]], **EASY)
    assert up == down and F(up[-1][0]) == Fraction(3, 4)


def _run_with_effects(grads, effects, **hyper):
    profile = RPROP.profile("torch")
    h = RPROP.resolve("torch", hyper)
    case = Case(RPROP, profile, "test", "", len(grads), (), [(("x",), h)], params={"x": Tensor.from_values(["0"])},
                grads=[{"x": Tensor.from_values(g)} for g in grads])
    return run(case, effects=effects)


def test_a_float16_product_that_underflows_is_no_sign_change():
    """g̃ = 2⁻¹² then g = −2⁻¹³: the exact product −2⁻²⁵ is a sign change (s shrinks, no step);
    in float16 it is half the smallest subnormal 2⁻²⁴ and rounds to zero (ties to even), so torch
    keeps s = 1/4 and steps +1/4."""
    grads = [["0.000244140625"], ["-0.0001220703125"]]
    exact = _run_with_effects(grads, None, **EASY)
    f16 = _run_with_effects(grads, {"sign_test": "float16"}, **EASY)
    assert _state(exact, "step_size")[1] == [Fraction(1, 8)] and _params(exact)[1] == [Fraction(-1, 4)]
    assert _state(f16, "step_size")[1] == [Fraction(1, 4)] and _params(f16)[1] == [0]
    f32 = _run_with_effects(grads, {"sign_test": "float32"}, **EASY)
    assert _params(f32) == _params(exact)


def test_defaults_are_the_papers_and_torch_starts_smaller():
    h = RPROP.resolve("spec")
    assert (h.lr, h.eta_minus, h.eta_plus, h.step_size_min, h.step_size_max) == (
        mpmath.mpf("0.1"), mpmath.mpf("0.5"), mpmath.mpf("1.2"), mpmath.mpf("1e-6"), 50)
    assert RPROP.resolve("torch").lr == mpmath.mpf("0.01")
    assert RPROP.profiles["optax"].required == ("lr",)


def test_bounds_in_the_wrong_order_are_refused():
    with pytest.raises(UserError, match="step_size_min"):
        RPROP.resolve("spec", {"step_size_min": "2", "step_size_max": "1"})
