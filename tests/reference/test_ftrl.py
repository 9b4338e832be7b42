"""FTRL-Proximal: the recursion against the argmin it stands for (eq. (2) of McMahan et al. solved
in fractions), hand-derived first steps, closed forms (a fixed rate, the pull of the initial
accumulator), every axis on an input that separates it, and a numpy float64 re-derivation of
Keras's update_step over many steps."""
import math
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, mp, trajectory as _trajectory

FTRL = get("ftrl")
trajectory = partial(_trajectory, FTRL)
KERAS_FORM = {"l1_threshold": "clip", "l2_penalty": "full"}
KERNEL_FORM = {"l1_threshold": "closed_form_beyond", "l2_penalty": "full"}

# gradients whose running sums of squares are perfect squares (from n₀ = 0): n = 9/16, 25/16,
# 169/16, 7225/16, so √n = 3/4, 5/4, 13/4, 85/4 and every quantity of the recursion is a fraction
SQUARE_GRADS = [Fraction(3, 4), Fraction(-1), Fraction(3), Fraction(-21)]


def soft_threshold_argmin(a, b, l1):
    """argmin_w ½a·w² + b·w + λ₁|w| (a > 0): 0 if |b| ≤ λ₁, else −(b − sgn(b)λ₁)/a."""
    if abs(b) <= l1:
        return Fraction(0)
    return -(b - (1 if b > 0 else -1) * l1) / a


def ftrl_by_argmin(theta0, grads, alpha, beta, l1, l2):
    """The iterates of eq. (2) of the paper, solved from the objective at every step rather than
    by the recursion on z: w_{t+1} = argmin_w g_{1:t}·w + ½Σ_s σ_s(w − w_s)² + ½(β/α)w² + ½λ₂w²
    + λ₁|w|, with σ_s = (√n_s − √n_{s−1})/α, n₀ = 0 and w₁ = θ₀. Expanding the squares, the
    objective is ½a·w² + b·w + const with a = Σσ_s + β/α + λ₂ and b = Σ(g_s − σ_s w_s)."""
    ws, n_root, g_sum, sigma_sum, sigma_w = [theta0], Fraction(0), Fraction(0), Fraction(0), Fraction(0)
    n = Fraction(0)
    for g in grads:
        n += g * g
        root = Fraction(math.isqrt(n.numerator), math.isqrt(n.denominator))
        assert root * root == n  # every n here is a perfect square
        sigma = (root - n_root) / alpha
        n_root = root
        g_sum += g
        sigma_sum += sigma
        sigma_w += sigma * ws[-1]
        ws.append(soft_threshold_argmin(sigma_sum + beta / alpha + l2, g_sum - sigma_w, l1))
    return ws[1:]


@pytest.mark.parametrize("l1", ["0", "0.5", "3"])
def test_recursion_is_the_argmin_of_the_paper(l1):
    """The spec profile's trajectory equals the minimizer of eq. (2) (with ½λ₂‖w‖²) at every step,
    computed independently from the objective in fractions, with and without L1 zeroing."""
    alpha, beta, l2 = Fraction(1, 4), Fraction(1, 2), Fraction(3, 8)
    want = ftrl_by_argmin(Fraction(5, 4), SQUARE_GRADS, alpha, beta, Fraction(l1), l2)
    got = trajectory(["1.25"], [[str(g.numerator / g.denominator)] for g in SQUARE_GRADS],
                     lr="0.25", beta="0.5", l1=l1, l2="0.375")
    for (x,), w in zip(got, want):
        assert close(x, w)
    if l1 == "3":
        assert any(w == 0 for w in want) and any(w != 0 for w in want)  # both branches are taken


def test_first_step_by_hand():
    """θ₀ = 1, g = 0.5, η = 0.1, n₀ = 0, no regularization: n₁ = 0.25, σ = 0.5/0.1 = 5,
    z = 0.5 − 5 = −4.5, q = 5, θ₁ = 0.9 (an Adagrad step η·g/√n₁ = 0.1)."""
    ((x,),) = trajectory(["1"], [["0.5"]], lr="0.1")
    assert F(x) == Fraction(9, 10)


def test_initial_accumulator_pulls_the_weights_to_zero():
    """With n₀ > 0 the first step keeps only θ₀(1 − √(n₀/n₁)) of the initial weight:
    θ₁ = (σ₁θ₀ − g)/(√n₁/η) with σ₁ = (√n₁ − √n₀)/η. θ₀ = 1, g = 0.5, η = 0.1, n₀ = 0.1 (Keras's
    default): θ₁ = 1 − √(0.1/0.35) − 0.1·0.5/√0.35 = 0.38096, where n₀ = 0 gives 0.9."""
    ((x,),) = trajectory(["1"], [["0.5"]], lr="0.1", initial_accumulator_value="0.1")
    n0, n1 = mp("0.1"), mp("0.35")
    assert close(x, 1 - mpmath.sqrt(n0 / n1) - mp("0.05") / mpmath.sqrt(n1))
    assert abs(float(x) - 0.380962) < 1e-6


def test_zero_first_gradient_forgets_the_initial_weight():
    """g₁ = 0 gives σ₁ = 0 and z₁ = 0, so θ₁ = 0 whatever θ₀ and n₀ > 0 (the weights are a function
    of z and n alone)."""
    ((a, b),) = trajectory(["3", "-0.75"], [["0", "0"]], lr="0.5", initial_accumulator_value="0.25")
    assert a == 0 and b == 0


def test_fixed_rate_is_dual_averaging():
    """lr_power = 0: n^0 = 1, σ = 0, so z_t = Σĝ_s and θ_t = −z_t/q with the constant
    q = 1/η + 2λ₂ + β/η (full form): from step 2 on, θ_t = θ_{t−1} − ηĝ_t/(1 + β + 2λ₂η), and
    θ₁ = −ηg₁/(1 + β + 2λ₂η) whatever θ₀ (in fractions)."""
    grads = ["0.5", "-1.25", "2", "0.75"]
    got = trajectory(["7"], [[g] for g in grads], semantics=KERAS_FORM, lr="0.25", lr_power="0",
                     beta="0.5", l2="0.375")
    eta, denom = Fraction(1, 4), 1 + Fraction(1, 2) + 2 * Fraction(3, 8) * Fraction(1, 4)
    theta = Fraction(0)
    for (x,), g in zip(got, grads):
        theta -= eta * Fraction(g) / denom
        assert close(x, theta)


def test_shrinkage_enters_the_linear_term_only():
    """λ_s = 0.5, θ₀ = 0.5, g = 1, n₀ = 0.25, η = 0.5 (TensorFlow's ApplyFtrlV2, measured:
    var −0.39442719, accum 1.25, linear 0.88196601): ĝ = 1 + 2·0.5·0.5 = 1.5, n₁ = 1.25,
    σ = (√1.25 − 0.5)/0.5, z = 1.5 − σ·0.5, θ = −z/(√1.25/0.5). ``gradient`` sums ĝ² instead."""
    records = trajectory(["0.5"], [["1"]], semantics=KERAS_FORM, states=True, lr="0.5",
                         initial_accumulator_value="0.25", l2_shrinkage="0.5")
    s = mpmath.sqrt(mp("1.25"))
    z = mp("1.5") - (s - mp("0.5")) / mp("0.5") * mp("0.5")
    assert close(records[0].state["x"]["accumulator"].data[0], "1.25")
    assert close(records[0].state["x"]["linear"].data[0], z)
    assert close(records[0].params["x"].data[0], -z / (s / mp("0.5")))
    assert abs(float(records[0].params["x"].data[0]) + 0.39442719) < 1e-8
    other = trajectory(["0.5"], [["1"]], semantics=dict(KERAS_FORM, shrinkage_form="gradient"), states=True,
                       lr="0.5", initial_accumulator_value="0.25", l2_shrinkage="0.5")
    assert close(other[0].state["x"]["accumulator"].data[0], "2.5")  # 0.25 + 1.5²


def test_full_penalty_with_half_the_strength_is_the_paper():
    """q = n^{−p}/η + 2(λ₂' + β/(2η)) equals (β + n^{−p})/η + λ₂ when λ₂' = λ₂/2: the port rule of
    the l2_penalty axis; at the same λ₂ the two differ."""
    grads = [["0.5", "-2"], ["1.5", "0.25"], ["-0.75", "1"]]
    common = dict(lr="0.25", beta="1", l1="0.125", initial_accumulator_value="0.0625")
    paper = trajectory(["1", "-0.5"], grads, l2="0.5", **common)
    full_half = trajectory(["1", "-0.5"], grads, semantics={"l2_penalty": "full"}, l2="0.25", **common)
    full_same = trajectory(["1", "-0.5"], grads, semantics={"l2_penalty": "full"}, l2="0.5", **common)
    assert all(close(a, b) for ra, rb in zip(paper, full_half) for a, b in zip(ra, rb))
    assert not close(paper[-1][0], full_same[-1][0], digits=3)


def test_thresholds_agree_on_finite_inputs_with_positive_q():
    grads = [["0.5", "-0.125", "2"], ["-1.5", "0.25", "0.0625"], ["0.75", "-1", "-3"]]
    runs = [trajectory(["0.5", "-1", "2"], grads, semantics={"l1_threshold": form}, lr="0.25", l1="0.75",
                       l2="0.25", initial_accumulator_value="0.0625")
            for form in ("zero_within", "closed_form_beyond", "clip")]
    assert runs[0] == runs[1] and all(close(a, b) for ra, rb in zip(runs[0], runs[2]) for a, b in zip(ra, rb))
    assert any(x == 0 for r in runs[0] for x in r) and any(x != 0 for r in runs[0] for x in r)


def test_nan_gradient_zeroes_the_weight_in_tensorflows_dense_kernel():
    """|NaN| > λ₁ is false: closed_form_beyond sets θ = 0 and keeps it there (z and n stay NaN);
    the paper's case split and the clip form give NaN (the dense ResourceApplyFtrl kernel, measured:
    var 0, accum NaN, linear NaN)."""
    grads = [["0.5"], ["nan"], ["0.5"], ["-1"]]
    kernel = trajectory(["1"], grads, semantics=KERNEL_FORM, states=True, lr="0.25",
                        initial_accumulator_value="0.1")
    assert [r.params["x"].data[0] for r in kernel[1:]] == [0, 0, 0]
    assert all(mpmath.isnan(r.state["x"]["linear"].data[0]) for r in kernel[1:])
    for form in ("zero_within", "clip"):
        steps = trajectory(["1"], grads, semantics={"l1_threshold": form}, lr="0.25", initial_accumulator_value="0.1")
        assert all(mpmath.isnan(x) for (x,) in steps[1:])


def test_clip_form_divides_zero_by_zero():
    """n₀ = 0, λ₂ = β = 0 and a zero gradient: q = 0 and z = 0, so the clip form gives 0/0 = NaN
    (and keeps it: σθ = 0·NaN), the case splits 0; a later gradient makes q > 0."""
    grads = [["0"], ["0.5"], ["-0.25"]]
    clip = trajectory(["1"], grads, semantics=KERAS_FORM, lr="0.25", l1="0.125")
    assert all(mpmath.isnan(x) for (x,) in clip)
    for form in ("zero_within", "closed_form_beyond"):
        split = trajectory(["1"], grads, semantics={"l1_threshold": form}, lr="0.25", l1="0.125")
        assert split[0] == [0] and mpmath.isfinite(split[2][0])
        # θ₂ from z = 0.5, n = 0.25: (λ₁ − z)/(√n/η) = (0.125 − 0.5)/2
        assert F(split[1][0]) == Fraction(-3, 16)


def test_infinite_gradient():
    """g = +∞: n = ∞, σ = ∞. With θ > 0, z = ∞ − ∞·θ = NaN; with θ < 0, z = +∞ and θ = (λ₁ − ∞)/∞ =
    NaN in every form except closed_form_beyond with a NaN z (0), as TensorFlow's kernel gives."""
    pos = trajectory(["0.5", "-0.5"], [["inf", "inf"]], semantics=KERNEL_FORM, states=True, lr="0.5",
                     initial_accumulator_value="0.25")
    assert pos[0].params["x"].data[0] == 0 and mpmath.isnan(pos[0].params["x"].data[1])
    assert mpmath.isnan(pos[0].state["x"]["linear"].data[0]) and pos[0].state["x"]["linear"].data[1] == mpmath.inf


def test_general_power_first_step():
    """p = −¼, n₀ = 0, g = 0.25: n₁^{1/4} = ½, σ = ½/η, θ₁ = (σθ₀ − g)/(½/η) = θ₀ − 2ηg."""
    ((x,),) = trajectory(["1"], [["0.25"]], semantics=KERAS_FORM, lr="0.5", lr_power="-0.25")
    assert F(x) == Fraction(3, 4)


def test_decoupled_weight_decay_enters_through_sigma():
    """Keras decays θ before update_step, and update_step reads θ only in σθ (and ĝ):
    θ₁ = (σ·θ₀(1 − ηλ) − g)/q. θ₀ = 2, g = 0.5, η = 0.25, λ = 0.5, n₀ = 0: σ = q = 2."""
    ((x,),) = trajectory(["2"], [["0.5"]], semantics=dict(KERAS_FORM, weight_decay="decoupled_lr"), lr="0.25",
                         weight_decay="0.5")
    assert F(x) == (2 * 2 * Fraction(7, 8) - Fraction(1, 2)) / 2


def keras_update_step(theta, grads, lr, lr_power, n0, l1, l2, beta, shrink):
    """keras/src/optimizers/ftrl.py update_step, written again in numpy float64."""
    accum, linear = numpy.full_like(theta, n0), numpy.zeros_like(theta)
    out = []
    for g in grads:
        l2_reg = l2 + beta / (2.0 * lr)
        grad_to_use = g + 2 * shrink * theta
        new_accum = accum + g ** 2
        linear = linear + (grad_to_use - (new_accum ** -lr_power - accum ** -lr_power) / lr * theta)
        quadratic = new_accum ** -lr_power / lr + 2 * l2_reg
        theta = (numpy.clip(linear, -l1, l1) - linear) / quadratic
        accum = new_accum
        out.append(theta)
    return out


@pytest.mark.parametrize("lr_power", ["-0.5", "-0.25"])
def test_keras_form_matches_a_float64_re_derivation(lr_power):
    rng = numpy.random.default_rng(7)
    theta0 = numpy.round(rng.normal(size=5) * 64) / 64
    grads = [numpy.round(rng.normal(size=5) * 64) / 64 for _ in range(30)]
    want = keras_update_step(theta0, grads, 0.25, float(lr_power), 0.0625, 0.5, 0.25, 1.0, 0.125)
    got = trajectory([repr(float(x)) for x in theta0], [[repr(float(x)) for x in g] for g in grads],
                     semantics=KERAS_FORM, lr="0.25", lr_power=lr_power, initial_accumulator_value="0.0625",
                     l1="0.5", l2="0.25", beta="1", l2_shrinkage="0.125")
    for row, ref in zip(got, want):
        for x, y in zip(row, ref):
            assert abs(float(x) - y) <= 1e-12 * max(1.0, abs(y))
    assert any(y == 0 for ref in want for y in ref)  # L1 zeroing happens in this run


def test_lr_must_be_positive_and_lr_power_not_positive():
    with pytest.raises(UserError, match="lr must be > 0"):
        FTRL.resolve("spec", {"lr": "0"})
    with pytest.raises(UserError, match="lr_power must be <= 0"):
        FTRL.resolve("keras", {"lr_power": "0.5"})


def test_defaults():
    spec, keras, v1 = (FTRL.resolve(p) for p in ("spec", "keras", "tf_v1"))
    assert (spec.lr, spec.lr_power, spec.initial_accumulator_value) == (mp("0.001"), mp("-0.5"), 0)
    assert (spec.l1, spec.l2, spec.beta) == (0, 0, 0)
    assert keras.initial_accumulator_value == mp("0.1") and v1.initial_accumulator_value == mp("0.1")
    assert FTRL.profile("tf_keras_legacy").unsupported == ("weight_decay",)
    assert FTRL.profile("tf_v1").required == ("lr",)
