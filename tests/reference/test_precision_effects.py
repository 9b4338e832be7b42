"""The declared precision effects the adapters found, checked against values derived by hand:
torch's tensor-step Adam scalars (``scalars``), the fused kernel's scalar-tail maximum
(``max_tail``), the checkpoint cast of NAdam's mu_product (``mu_product@checkpoint``), the clamp
bounds cast to the parameters' dtype (``clamp_bounds``), Keras's float32 β in the bias
corrections (``power_beta1``, ``power_beta2``) and the ``second_moment`` axis."""
from fractions import Fraction

import mpmath
import pytest

from optconform.reference.common import fl_within, second_moment_value, tensor_step_adam_scalars
from optconform.reference.model import get
from optconform.reference.numeric import NAN, mpf, representable, round_to
from optconform.reference.optimizers.amsgrad import fused_cpu_maximum, maximum, std_max
from optconform.reference.scenarios import cases
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

ULP1 = mpf(2) ** -23  # ulp of float32 at 1


def test_std_max_ignores_a_nan_second_argument_only():
    assert std_max(mpf(1), mpf(2)) == 2
    assert std_max(mpf(1), NAN) == 1
    assert mpmath.isnan(std_max(NAN, mpf(1)))


def test_fused_cpu_maximum_propagates_nan_in_the_vector_body_and_ignores_it_in_the_tail():
    # float32: 8 lanes per 256-bit vector, so of 10 elements the last 2 are the scalar tail
    old = Tensor((10,), [mpf(1)] * 10)
    new = Tensor((10,), [NAN] * 10)
    out = fused_cpu_maximum(old, new, "float32").data
    assert all(mpmath.isnan(x) for x in out[:8])
    assert out[8:] == [1, 1]
    # float64: 4 lanes, so of 6 elements the last 2 are the tail; bfloat16: 16 lanes, all 6
    small_old, small_new = Tensor((6,), [mpf(1)] * 6), Tensor((6,), [NAN] * 6)
    assert [mpmath.isnan(x) for x in fused_cpu_maximum(small_old, small_new, "float64").data] == [True] * 4 + [False] * 2
    assert fused_cpu_maximum(small_old, small_new, "bfloat16").data == [1] * 6
    # the exact maximum propagates NaN everywhere
    assert all(mpmath.isnan(x) for x in maximum(old, new).data)


def test_the_fused_cpu_variant_runs_where_max_tail_is_declared_and_not_elsewhere():
    # nan_grad: a NaN gradient makes v NaN; the fused CPU kernel keeps v̄ finite in the tail
    (case,) = [c for c in cases(get("amsgrad")) if c.scenario == "nan_grad" and c.profile.name == "torch"]
    exact = run(case)[-1].state
    fused = run(case, effects={"max_tail": "bfloat16"})[-1].state  # 16 lanes: every element is tail
    for name in exact:
        assert any(mpmath.isnan(x) for x in exact[name]["max_exp_avg_sq"].data)
        assert not any(mpmath.isnan(x) for x in fused[name]["max_exp_avg_sq"].data)


@pytest.mark.parametrize("fraction, accuracy, up, down", [
    (Fraction(45, 100), 0.56, 1 + ULP1, 1),        # 0.55 ulp from the upper neighbour: reachable
    (Fraction(30, 100), 0.56, 1, 1),               # 0.70 ulp from it: a 0.56-ulp pow never returns it
    (Fraction(30, 100), 1.0, 1 + ULP1, 1),         # a faithful sqrt may return either neighbour
    (Fraction(70, 100), 0.56, 1 + ULP1, 1 + ULP1),  # the lower neighbour is 0.70 ulp away
])
def test_fl_within_takes_the_neighbours_an_operation_of_that_accuracy_can_return(fraction, accuracy, up, down):
    x = 1 + mpf(fraction.numerator) / fraction.denominator * ULP1
    assert fl_within(x, "float32", accuracy, +1) == up
    assert fl_within(x, "float32", accuracy, -1) == down
    assert fl_within(x, "float32", accuracy, 0) == round_to(x, "float32")
    assert fl_within(mpf(1), "float32", accuracy, +1) == 1  # a representable result is exact


def test_tensor_step_adam_scalars_exact_case_by_hand():
    # β₁ = ½, β₂ = ¾, t = 1: c₁ = ½, c₂ = ¼; η = ¼: s = (1/c₁)·η = ½; r = √¼ = ½; D = r·s = ¼;
    # ε = ½: E = (1/s)·ε = 1. The update m/(√v/D + E) = m/(4√v + 1) equals Adam's
    # η(m/c₁)/(√(v/c₂) + ε) = ½m/(2√v + ½) exactly.
    d, e = tensor_step_adam_scalars(mpf("0.25"), mpf("0.5"), mpf("0.75"), mpf("0.5"), 1, "float32")
    assert (d, e) == (mpf("0.25"), 1)


def test_tensor_step_adam_scalars_round_lr_and_eps_to_float32():
    # η = 0.1 is not a float32: s = fl(2·fl32(0.1)) = 2·fl32(0.1) and D = fl(½·s) = fl32(0.1);
    # ε = 0.1: E = fl(fl(1/s)·fl32(0.1)), with 1/s = 5/fl32(0.1) rounded first.
    lr32 = round_to(mpf("0.1"), "float32")
    d, e = tensor_step_adam_scalars(mpf("0.1"), mpf("0.5"), mpf("0.75"), mpf("0.1"), 1, "float32")
    assert d == lr32 and d != mpf("0.1")
    assert e == round_to(round_to(1 / (2 * lr32), "float32") * lr32, "float32")


def test_tensor_step_adam_scalars_zero_learning_rate_gives_no_update():
    d, e = tensor_step_adam_scalars(mpf(0), mpf("0.5"), mpf("0.75"), mpf("0.5"), 1, "float32")
    assert d == 0 and mpmath.isinf(e)


def test_second_moment_forms_agree_on_finite_values_and_differ_on_an_infinite_v():
    v, g, b = mpf(3), mpf("0.5"), mpf("0.75")
    assert second_moment_value(v, g, b, "mix") == second_moment_value(v, g, b, "delta") == mpf("2.3125")
    assert mpmath.isinf(second_moment_value(mpmath.inf, g, b, "mix"))
    assert mpmath.isnan(second_moment_value(mpmath.inf, g, b, "delta"))


def test_clamp_bound_below_the_smallest_subnormal_becomes_zero():
    eps1 = mpf(2) ** -80  # the scenarios' ε₁; ε₁² = 2⁻¹⁶⁰
    assert round_to(eps1 * eps1, "float32") == 0 and round_to(eps1 * eps1, "bfloat16") == 0
    assert round_to(eps1 * eps1, "float64") == eps1 * eps1


def test_mu_product_is_float32_before_a_checkpoint_and_float64_after_it():
    (case,) = [c for c in cases(get("nadam")) if c.scenario == "resume" and c.profile.name == "torch"]
    records = run(case, round_hypers={"mu_product": "float32", "mu_product@checkpoint": "float64"})
    products = [r.state["w"]["mu_product"] for r in records]
    k = case.checkpoint_at
    assert all(representable(x, "float32") for x in products[:k])
    after = products[k:]
    assert after and all(representable(x, "float64") for x in after)
    assert not all(representable(x, "float32") for x in after)  # multiplied in float64 now


def _one_step_case(name, profile, g, **hyper):
    """One step of one scalar tensor θ₀ = 1 with gradient ``g`` under ``profile``."""
    from optconform.reference.scenarios import Case

    alg = get(name)
    h = alg.resolve(profile, {k: str(v) for k, v in hyper.items()})
    return Case(alg, alg.profile(profile), "test", "", 1, (), [(("x",), h)],
                params={"x": Tensor.from_values([1])}, grads=[{"x": Tensor.from_values([g])}])


def test_rounded_powers_round_beta_in_the_bias_corrections_only():
    # Keras on TensorFlow, t = 1, g = 1: m = (1 − β₁)g and v = (1 − β₂)g² with the exact β; the
    # bias corrections c₁ = 1 − fl32(β₁), c₂ = 1 − fl32(β₂); θ₁ = 1 − η(m/c₁)/(√(v/c₂) + ε)
    case = _one_step_case("adam", "spec", 1, lr="0.001", beta1="0.9", beta2="0.999", eps="1e-7")
    (record,) = run(case, effects={"power_beta1": "float32", "power_beta2": "float32"})
    b1, b2 = mpf("0.9"), mpf("0.999")
    m, v = 1 - b1, 1 - b2
    c1, c2 = 1 - round_to(b1, "float32"), 1 - round_to(b2, "float32")
    expected = 1 - mpf("0.001") * (m / c1) / (mpmath.sqrt(v / c2) + mpf("1e-7"))
    assert abs(record.params["x"].data[0] - expected) < mpf(10) ** -50
    assert abs(record.state["x"]["exp_avg"].data[0] - m) < mpf(10) ** -50
    (exact,) = run(case)
    assert abs(exact.params["x"].data[0] - expected) > mpf(10) ** -12  # the effect is visible


def test_running_powers_round_the_product_after_every_step():
    # β = 1 − 3u (u = 2⁻²⁴, float32-exact): β² = 1 − 6u + 9u² rounds to 1 − 6u, and then
    # (1 − 6u)(1 − 3u) = 1 − 9u + 18u² to 1 − 9u: the running product drops the u² terms every
    # step, where fl32(β)ᵗ rounded once would keep 1 − 6u + 9u² exactly in float64
    from optconform.reference.optimizers.adam import running_power

    u = mpf(2) ** -24
    beta = 1 - 3 * u
    assert [running_power(beta, t, "float32") for t in (1, 2, 3)] == [beta, 1 - 6 * u, 1 - 9 * u]
    assert running_power(mpf("0.9"), 1, "float32") == round_to(mpf("0.9"), "float32")
    other, expected = 1 - 5 * u, 1 - 15 * u  # (1 − 10u)(1 − 5u) = 1 − 15u + 50u²
    with mpmath.workprec(20):  # the product is exact before its one rounding, whatever the working precision
        got = running_power(other, 3, "float32")
    assert got == expected


def test_running_powers_variant_uses_the_products_in_the_bias_corrections():
    # tf.compat.v1 Adam, two steps of g = 1 with β₁ = β₂ = 1 − 3u and ε = 0: m₂ = 1 − β₁², v₂ = 1 − β₂²
    # (exact), c₁ = c₂ = 1 − P(2) = 6u, so u₂ = (m₂/c₁)/√(v₂/c₂) = √(m₂/c₁) (m₂ = v₂)
    from optconform.reference.scenarios import Case

    u = mpf(2) ** -24
    beta = 1 - 3 * u
    alg = get("adam")
    h = alg.resolve("spec", {"lr": "1", "beta1": str(beta), "beta2": str(beta), "eps": "0"})
    case = Case(alg, alg.profile("spec"), "test", "", 2, (), [(("x",), h)], params={"x": Tensor.from_values([0])},
                grads=[{"x": Tensor.from_values([1])}] * 2)
    records = run(case, effects={"running_power_beta1": "float32", "running_power_beta2": "float32"})
    m2 = 1 - beta ** 2
    step2 = records[1].params["x"].data[0] - records[0].params["x"].data[0]
    assert abs(step2 + mpmath.sqrt(m2 / (6 * u))) < mpf(10) ** -40
    assert abs(records[0].params["x"].data[0] + 1) < mpf(10) ** -40  # step 1: c = 1 − β = m₁ = v₁
    exact = run(case)
    assert abs((exact[1].params["x"].data[0] - exact[0].params["x"].data[0]) + 1) < mpf(10) ** -40
    assert abs(step2 + 1) > mpf(10) ** -8  # the rounded product is visible: |step 2| = √(1 − 1.5u) ≈ 1 − 4.5e-8


def test_nadam_float32_casts_round_beta_in_the_moments_only():
    # moments: m₁ = (1 − fl32(β₁))g, v₁ = (1 − fl32(β₂))g²; Π₁ = μ₁ with the exact β₁ and 0.96
    case = _one_step_case("nadam", "spec", 1, beta1="0.9", beta2="0.999")
    (record,) = run(case, effects={"moments": "float32"})
    b1, b2 = round_to(mpf("0.9"), "float32"), round_to(mpf("0.999"), "float32")
    state = record.state["x"]
    assert abs(state["exp_avg"].data[0] - (1 - b1)) < mpf(10) ** -50
    assert abs(state["exp_avg_sq"].data[0] - (1 - b2)) < mpf(10) ** -50
    psi = case.groups[0][1].momentum_decay
    mu1 = mpf("0.9") * (1 - mpf("0.96") ** psi / 2)  # the spec's scheduled momentum at t = 1
    assert abs(state["mu_product"] - mu1) < mpf(10) ** -50


def test_the_old_mapping_keyword_and_the_effects_object_give_the_same_trajectory():
    from optconform.reference.effects import Effects

    (case,) = [c for c in cases(get("nadam")) if c.scenario == "resume" and c.profile.name == "torch"]
    declared = {"mu_product": "float32", "mu_product@checkpoint": "float64", "scalars": "float32"}
    old = run(case, round_hypers=declared)
    new = run(case, effects=Effects.build(declared, get("nadam")))
    assert [r.params["w"].data for r in old] == [r.params["w"].data for r in new]
    assert old[-1].params["w"].data != run(case)[-1].params["w"].data
