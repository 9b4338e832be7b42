"""Simplified AdEMAMix: the first step and a constant gradient in closed form, the exact mapping
onto AdEMAMix for α > 0 (and why α = 0 has none), the port rule of ema_form, every other axis on a
hand-derived step, and a float64 re-derivation in numpy of the authors' code."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.model import get
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

from ._trajectory_util import F, close, trajectory as _trajectory

SIMPLIFIED = get("simplified_ademamix")
trajectory = partial(_trajectory, SIMPLIFIED)
HYPER = dict(lr="0.125", beta1="0.75", beta2="0.9375", alpha="2", eps=0)
GRADS = [["0.5", "-1.5", "3"], ["1", "0.25", "-2"], ["-4", "1", "0.75"], ["2", "-0.125", "1"], ["0.25", "2", "-1"]]


def test_first_step_by_hand():
    """m = g, v = (1 − β₂)g², v̂ = g²: with ε = 0, θ₁ = θ − η(1 + α)sign(g)."""
    (r,) = trajectory(["1", "-1"], [["3", "-0.5"]], states=True, **HYPER)
    assert [F(x) for x in r.params["x"].data] == [1 - Fraction(3, 8), -1 + Fraction(3, 8)]
    assert [F(x) for x in r.state["x"]["exp_avg"].data] == [3, -Fraction(1, 2)]
    assert [F(x) for x in r.state["x"]["exp_avg_sq"].data] == [Fraction(9, 16), Fraction(1, 64)]


def test_constant_gradient_closed_form():
    """m_t = g(1 − β₁ᵗ)/(1 − β₁) and v̂ = g², so u_t = ((1 − β₁ᵗ)/(1 − β₁) + α)·sign(g) (ε = 0)."""
    steps = trajectory(["0"], [["-2"]] * 6, **HYPER)
    theta = Fraction(0)
    for t, (got,) in enumerate(steps, 1):
        theta += Fraction(1, 8) * ((1 - Fraction(3, 4) ** t) / Fraction(1, 4) + 2)
        assert close(got, theta)


@pytest.mark.parametrize("alpha", ["2", "0.5"])
def test_alpha_positive_is_ademamix_without_its_fast_ema(alpha):
    """(m + αg) = α(g + m/α) with m = Σβᵏg = m₂/(1 − β): AdEMAMix with β₁ = 0 (m̂₁ = g), β₃ = β,
    α' = 1/(α(1 − β)), η' = αη and λ' = λ/α computes the same parameters, and its m₂ is (1 − β)m.
    With α = 0 (the default) there is no such setting: α' would be infinite and η' zero."""
    a = Fraction(alpha)
    hyper = dict(lr="0.0625", beta1="0.75", beta2="0.9375", alpha=alpha, eps="0.001", weight_decay="0.25")
    mine = trajectory(["1", "-2", "0.5"], GRADS, states=True, **hyper)
    other = _trajectory(get("ademamix"), ["1", "-2", "0.5"], GRADS, states=True, lr=str(a / 16), beta1="0",
                        beta2="0.9375", beta3="0.75", alpha=str(1 / (a * Fraction(1, 4))), eps="0.001",
                        weight_decay=str(Fraction(1, 4) / a))
    for r, o in zip(mine, other):
        assert all(close(x, y) for x, y in zip(r.params["x"].data, o.params["x"].data))
        assert all(close(x / 4, y) for x, y in zip(r.state["x"]["exp_avg"].data, o.state["x"]["exp_avg_slow"].data))


def test_the_ema_form_port_rule_is_exact():
    """reference/profiles/simplified_ademamix.toml: average → sum with η(1 − β₁), α/(1 − β₁), λ/(1 − β₁)."""
    avg = trajectory(["1", "-2", "0.5"], GRADS, semantics={"ema_form": "average"}, lr="0.0625", beta1="0.75",
                     beta2="0.9375", alpha="0.5", eps="0.001", weight_decay="0.25")
    total = trajectory(["1", "-2", "0.5"], GRADS, lr=str(Fraction(1, 16) / 4), beta1="0.75", beta2="0.9375",
                       alpha="2", eps="0.001", weight_decay="1")
    assert all(close(x, y) for a, b in zip(avg, total) for x, y in zip(a, b))


def test_pytorch_optimizer_divides_where_the_authors_multiply():
    """root_correction = inverted: with ε = 0 each step is 1/(1 − β₂ᵗ) times the spec's update
    (16 on the first step for β₂ = 0.9375); with ema_form = average m is (1 − β₁) times the sum."""
    (spec,) = trajectory(["0"], [["3"]], **HYPER)
    (inverted,) = trajectory(["0"], [["3"]], semantics={"root_correction": "inverted"}, **HYPER)
    assert F(inverted[0]) == 16 * F(spec[0])
    (off,) = trajectory(["0"], [["3"]], semantics={"root_correction": "off"}, **HYPER)
    assert F(off[0]) == 4 * F(spec[0])  # (m + αg)/√v = (m + αg)/(√c₂|g|), √c₂ = 1/4
    two = trajectory(["0"], [["3"], ["3"]], semantics={"ema_form": "average"}, states=True, **HYPER)
    assert F(two[1].state["x"]["exp_avg"].data[0]) == Fraction(3, 4) * Fraction(3, 4) + Fraction(3, 4)


def test_second_moment_forms_after_an_infinite_gradient():
    """optax's g² + β₂(v − g²) is ∞ + β₂(v − ∞) = NaN for g = ∞; β₂v + (1 − β₂)g² is +∞."""
    mix = trajectory(["0"], [["1"], ["inf"]], states=True, **HYPER)
    rev = trajectory(["0"], [["1"], ["inf"]], semantics={"second_moment_form": "reverse_lerp"}, states=True, **HYPER)
    assert mpmath.isinf(mix[1].state["x"]["exp_avg_sq"].data[0])
    assert mpmath.isnan(rev[1].state["x"]["exp_avg_sq"].data[0])
    base = trajectory(["1", "-2", "0.5"], GRADS, **HYPER)
    rev = trajectory(["1", "-2", "0.5"], GRADS, semantics={"second_moment_form": "reverse_lerp"}, **HYPER)
    assert all(close(x, y) for a, b in zip(base, rev) for x, y in zip(a, b))  # equal for finite g


@pytest.mark.parametrize("placement", ["std", "hat", "inside"])
def test_eps_placements_on_the_first_step(placement):
    """v = g²/16, c₂ = 1/16: std (m + αg)/(|g| + ε); hat (m + αg)/((|g|/4 + ε)·4); inside /√(g² + ε)."""
    (theta,) = trajectory(["0"], [["3"]], semantics={"eps_placement": placement}, **dict(HYPER, eps="0.25"))
    denominator = {"std": mpmath.mpf("3.25"), "hat": mpmath.mpf(4), "inside": mpmath.sqrt(mpmath.mpf("9.25"))}
    assert close(theta[0], -mpmath.mpf("0.125") * 9 / denominator[placement])


def numpy_simadamix(theta, grads, lr, b1, b2, alpha, eps, wd):
    """The authors' SimAdEMAMix.step (defaults bias_correction1=False, bias_correction2=True) in
    numpy float64, written independently of the reference."""
    theta = numpy.array(theta, dtype=numpy.float64)
    m, v = numpy.zeros_like(theta), numpy.zeros_like(theta)
    den_sum = 0.0
    out = []
    for g in grads:
        g = numpy.array(g, dtype=numpy.float64)
        m = m * b1 + g
        v = v * b2 + (1 - b2) * g * g
        den_sum = b2 * den_sum + (1 - b2)
        update = (alpha * g + m) / (numpy.sqrt(v) + eps * numpy.sqrt(den_sum)) * numpy.sqrt(den_sum)
        theta = theta - lr * (update + wd * theta)
        out.append(theta.copy())
    return out


def test_agrees_with_a_float64_rederivation():
    rng = numpy.random.default_rng(5)
    grads = [(rng.choice([0.125, 1.0, 4.0]) * rng.standard_normal(3)).tolist() for _ in range(25)]
    theta0 = [0.5, -1.0, 2.0]
    want = numpy_simadamix(theta0, grads, 0.015625, 0.875, 0.9375, 2.0, 1e-8, 0.0625)
    got = trajectory([repr(x) for x in theta0], [[repr(x) for x in g] for g in grads], lr="0.015625", beta1="0.875",
                     beta2="0.9375", alpha="2", eps="1e-8", weight_decay="0.0625")
    for a, b in zip(got, want):
        assert all(abs(float(x) - y) <= 1e-13 * max(1.0, abs(y)) for x, y in zip(a, b))


def test_defaults():
    spec, optax, po = (SIMPLIFIED.resolve(p) for p in ("spec", "optax", "pytorch_optimizer"))
    assert (spec.lr, spec.beta1, spec.beta2, spec.alpha, spec.eps) == (
        mpmath.mpf("1e-3"), mpmath.mpf("0.99"), mpmath.mpf("0.95"), 0, mpmath.mpf("1e-8"))
    assert po.lr == mpmath.mpf("1e-4") and optax.beta1 == spec.beta1


def held_root_trajectory(params, grads, effects, **hyper):
    """The pytorch_optimizer profile's trajectory of one tensor under the declared ``effects``."""
    prof = SIMPLIFIED.profile("pytorch_optimizer")
    h = SIMPLIFIED.resolve("pytorch_optimizer", hyper)
    case = Case(SIMPLIFIED, prof, "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values(params)}, grads=[{"x": Tensor.from_values(g)} for g in grads])
    return [r.params["x"].data for r in run(case, effects=effects)]


def test_held_root_first_step_by_hand():
    """pytorch-optimizer's foreach path (effect bias_root = float32), t = 1, β₁ = 3/4, β₂ = 1/2,
    α = 2, ε = 0.1, η = 1/8, θ = 1, g = 3: m = (1 − β₁)g = 3/4, v = (1 − β₂)g² = 9/2, m + αg = 27/4;
    S = fl32(√(1/2)) and E = fl32(S·fl32(0.1)) from numpy float32 (correctly rounded), and
    θ₁ = 1 − (27/4)/(√(9/2) + E)/S/8. The exact step (foreach=False) divides by √(1/2) and adds
    0.1·√(1/2): it differs."""
    s = numpy.float32(numpy.sqrt(0.5))
    e = numpy.float32(s * numpy.float32(0.1))
    assert float(s) != 0.5 ** 0.5 and float(e) != float(s) * 0.1
    S, E = mpmath.mpf(float(s)), mpmath.mpf(float(e))  # float32 values, exact in a float64
    hyper = dict(lr="0.125", beta1="0.75", beta2="0.5", alpha="2", eps="0.1")
    (held,) = held_root_trajectory(["1"], [["3"]], {"bias_root": "float32"}, **hyper)
    want = 1 - mpmath.mpf(27) / 4 / (mpmath.sqrt(mpmath.mpf("4.5")) + E) / S / 8
    assert close(held[0], want)
    (exact,) = held_root_trajectory(["1"], [["3"]], {}, **hyper)
    r = mpmath.sqrt(mpmath.mpf("0.5"))
    assert close(exact[0], 1 - mpmath.mpf(27) / 4 / (mpmath.sqrt(mpmath.mpf("4.5")) + mpmath.mpf("0.1") * r) / r / 8)
    assert abs(held[0] - exact[0]) > mpmath.mpf(10) ** -10


def test_held_root_matches_a_numpy_rederivation_of_the_foreach_path():
    """pytorch-optimizer's _step_foreach in numpy over 12 steps: float64 tensors, den_sum a Python
    float, den_sums = float32(√den_sum), de_nom = √v + float32(den_sums·float32(ε)), the update
    (m + αg)/de_nom/den_sums (ema_form = average: m ← β₁m + (1 − β₁)g, as torch.lerp for β₁ > ½)."""
    rng = numpy.random.default_rng(7)
    theta0 = rng.uniform(-2, 2, 3).round(5)
    grads = [rng.normal(0, 1, 3).round(5) for _ in range(12)]
    lr, b1, b2, alpha, eps = 0.015625, 0.875, 0.9375, 2.0, 1e-3
    theta, m, v, den_sum, want = theta0.copy(), numpy.zeros(3), numpy.zeros(3), 0.0, []
    for g in grads:
        m = m + (1 - b1) * (g - m)
        v = v * b2 + (1 - b2) * g * g
        den_sum = b2 * den_sum + (1 - b2)
        s = numpy.float32(numpy.sqrt(den_sum))
        de_nom = numpy.sqrt(v) + float(numpy.float32(s * numpy.float32(eps)))
        theta = theta - lr * ((m + alpha * g) / de_nom / float(s))
        want.append(theta.copy())
    got = held_root_trajectory([repr(float(x)) for x in theta0], [[repr(float(x)) for x in g] for g in grads],
                               {"bias_root": "float32"}, lr=repr(lr), beta1=repr(b1), beta2=repr(b2),
                               alpha=repr(alpha), eps=repr(eps))
    for a, b in zip(got, want):
        assert all(abs(float(x) - y) <= 1e-13 * max(1.0, abs(y)) for x, y in zip(a, b))
