"""ADOPT: the first call and the first updates derived by hand in fractions, closed forms for a
constant gradient, every axis on a hand-derived step, the scale invariance of the normalized
gradient, and a float64 re-derivation in numpy written from the paper's equations."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory

ADOPT = get("adopt")
trajectory = partial(_trajectory, ADOPT)
HYPER = dict(lr="0.125", beta1="0.75", beta2="0.5", eps="0.0009765625")  # ε = 2⁻¹⁰


def test_the_first_call_only_initializes_v():
    """v₀ = g₁², m and θ untouched (paper's v₀ = g₀²; optax's count-0 branch; the authors' step 0)."""
    (record,) = trajectory(["1", "-2"], [["3", "-0.5"]], states=True, **HYPER)
    assert [F(x) for x in record.params["x"].data] == [1, -2]
    assert [F(x) for x in record.state["x"]["exp_avg"].data] == [0, 0]
    assert [F(x) for x in record.state["x"]["exp_avg_sq"].data] == [9, Fraction(1, 4)]


def test_two_calls_by_hand():
    """g₁ = (2, −0.5) gives v₀ = (4, 0.25). g₂ = (1, 4): g/max(√v₀, ε) = (0.5, 8), clipped to
    ±1^{1/4} = ±1: ĝ = (0.5, 1); m₁ = (1 − β₁)ĝ = (0.125, 0.25); θ ← θ − ηm₁; then
    v₁ = β₂v₀ + (1 − β₂)g₂² = (2.5, 8.125)."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"]], states=True, **HYPER)
    second = records[1]
    assert [F(x) for x in second.state["x"]["exp_avg"].data] == [Fraction(1, 8), Fraction(1, 4)]
    assert [F(x) for x in second.params["x"].data] == [1 - Fraction(1, 64), -2 - Fraction(1, 32)]
    assert [F(x) for x in second.state["x"]["exp_avg_sq"].data] == [Fraction(5, 2), Fraction(65, 8)]


def test_the_third_call_clips_at_the_fourth_root_of_two():
    """Update n = 2 (call 3) clips at 2^{1/4}: g₃ = (0, 16) against √v₁ = (√2.5, √8.125)."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"], ["0", "16"]], states=True, **HYPER)
    c = mpmath.mpf(2) ** mpmath.mpf("0.25")
    assert 16 / mpmath.sqrt(mpmath.mpf("8.125")) > c
    m = records[2].state["x"]["exp_avg"].data
    assert close(m[0], Fraction(3, 4) * Fraction(1, 8))
    assert close(m[1], Fraction(3, 4) * Fraction(1, 4) + Fraction(1, 4) * c)


def test_pytorch_optimizer_clips_with_the_call_count():
    """clip_index = calls: the first update (call 2) clips at 2^{1/4}, not 1: ĝ₂ = (0.5, 2^{1/4})."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"]], profile="pytorch_optimizer", states=True,
                         **HYPER)
    m = records[1].state["x"]["exp_avg"].data
    assert close(m[0], Fraction(1, 8)) and close(m[1], mpmath.mpf(2) ** mpmath.mpf("0.25") / 4)


@pytest.mark.parametrize("exponent", ["0.5", "0.375"])
def test_clip_exp_sets_the_exponent_of_the_clip(exponent):
    """As test_the_third_call_clips_at_the_fourth_root_of_two with clip_exp = e: update n = 2 (call 3)
    clips at 2^e (e = 1/2: √2); the first update clips at 1^e = 1 whatever e."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"], ["0", "16"]], states=True, clip_exp=exponent,
                         **HYPER)
    assert [F(x) for x in records[1].state["x"]["exp_avg"].data] == [Fraction(1, 8), Fraction(1, 4)]
    c = mpmath.sqrt(2) if exponent == "0.5" else mpmath.mpf(2) ** (mpmath.mpf(3) / 8)
    m = records[2].state["x"]["exp_avg"].data
    assert close(m[1], Fraction(3, 4) * Fraction(1, 4) + Fraction(1, 4) * c)


def test_timm_clips_at_the_0_333_power_of_the_update_count():
    """timm's Adopt (profile timm): the spec's semantics with clip_exp = 0.333 by default, c = n^{0.333}."""
    assert ADOPT.resolve("timm").clip_exp == mpmath.mpf("0.333") and ADOPT.resolve("spec").clip_exp == mpmath.mpf("0.25")
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"], ["0", "16"]], profile="timm", states=True,
                         clip_exp="0.333", **HYPER)
    m = records[2].state["x"]["exp_avg"].data
    assert close(m[1], Fraction(3, 4) * Fraction(1, 4) + Fraction(1, 4) * mpmath.mpf(2) ** mpmath.mpf("0.333"))


def test_unclipped_is_algorithm_2():
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"]], states=True, unclipped=True, **HYPER)
    assert [F(x) for x in records[1].state["x"]["exp_avg"].data] == [Fraction(1, 8), 2]


def test_constant_gradient_closed_form():
    """With g constant (|g| > ε), v stays g² (β₂g² + (1 − β₂)g² = g²) and ĝ = sign(g), so
    m_n = 1 − β₁ⁿ times sign(g) and θ after call k is θ₀ − η Σ_{j ≤ k−1} (1 − β₁ʲ) sign(g); with
    momentum_correction = on every update is exactly −η sign(g)."""
    records = trajectory(["0"], [["-3"]] * 6, states=True, **HYPER)
    theta = Fraction(0)
    for k, r in enumerate(records, 1):
        if k > 1:
            theta += Fraction(1, 8) * (1 - Fraction(3, 4) ** (k - 1))
        assert F(r.params["x"].data[0]) == theta
        assert F(r.state["x"]["exp_avg_sq"].data[0]) == 9
    corrected = trajectory(["0"], [["-3"]] * 6, semantics={"momentum_correction": "on"}, **HYPER)
    assert [F(t[0]) for t in corrected] == [Fraction(k - 1, 8) for k in range(1, 7)]


@pytest.mark.parametrize("k", [-7, 3, 12])
def test_a_power_of_two_scale_of_the_gradients_changes_nothing(k):
    """ĝ = g/√v is invariant under g → 2ᵏg while √v ≥ ε (v scales by 4ᵏ exactly, and so does every
    product in binary arithmetic): the trajectory of θ is the same."""
    grads = [["0.5", "-1.5", "3"], ["1", "0.25", "-2"], ["-4", "1", "0.75"], ["2", "-0.125", "1"]]
    scaled = [[str(Fraction(x) * Fraction(2) ** k) for x in g] for g in grads]
    hyper = dict(HYPER, eps="1e-30")
    a = trajectory(["1", "2", "-1"], grads, **hyper)
    b = trajectory(["1", "2", "-1"], scaled, **hyper)
    assert all(close(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_eps_is_a_floor_or_an_addend():
    """g₁ = 2⁻²⁰ gives √v₀ = 2⁻²⁰ < ε = 2⁻¹⁰: max divides g₂ by ε, add by 2⁻²⁰ + 2⁻¹⁰."""
    grads = [[str(Fraction(1, 2 ** 20))], ["0.0009765625"]]
    floor = trajectory(["0"], grads, states=True, **HYPER)[1].state["x"]["exp_avg"].data[0]
    added = trajectory(["0"], grads, states=True, semantics={"eps_floor": "add"}, **HYPER)[1]
    assert F(floor) == Fraction(1, 4)  # (1 − β₁)·Clip(2⁻¹⁰/2⁻¹⁰, 1)
    want = Fraction(1, 4) * Fraction(1, 2 ** 10) / (Fraction(1, 2 ** 20) + Fraction(1, 2 ** 10))
    assert close(added.state["x"]["exp_avg"].data[0], want)


def test_nesterov_steps_with_the_look_ahead_mix():
    """u = β₁m_n + (1 − β₁)ĝ: with ĝ = (0.5, 1) and m₁ = (0.125, 0.25), u = (0.21875, 0.4375)."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"]], nesterov=True, **HYPER)
    assert [F(x) for x in records[1]] == [1 - Fraction(7, 256), -2 - Fraction(7, 128)]


def test_adam_order_normalizes_the_momentum():
    """normalize_order = after: m₁ = (1 − β₁)g₂ = (0.25, 1), u = Clip(m₁/√v₀, 1) = (0.125, 1)."""
    records = trajectory(["1", "-2"], [["2", "-0.5"], ["1", "4"]], semantics={"normalize_order": "after"},
                         states=True, **HYPER)
    assert [F(x) for x in records[1].state["x"]["exp_avg"].data] == [Fraction(1, 4), 1]
    assert [F(x) for x in records[1].params["x"].data] == [1 - Fraction(1, 64), -2 - Fraction(1, 8)]


def test_the_other_first_steps():
    """update: v₀ = g₁² and the first update at once: ĝ = sign(g) (n = 1, c = 1), θ₁ = θ − η(1 − β₁)sign(g);
    zero: v₀ = 0, so ĝ = Clip(g/ε, 1) = sign(g) as well, but v₁ = (1 − β₂)g₁² afterwards."""
    update = trajectory(["1"], [["3"], ["3"]], semantics={"first_step": "update"}, states=True, **HYPER)
    zero = trajectory(["1"], [["3"], ["3"]], semantics={"first_step": "zero"}, states=True, **HYPER)
    for r in (update[0], zero[0]):
        assert F(r.params["x"].data[0]) == 1 - Fraction(1, 32)
    assert F(update[0].state["x"]["exp_avg_sq"].data[0]) == 9
    assert F(zero[0].state["x"]["exp_avg_sq"].data[0]) == Fraction(9, 2)
    # call 2 of zero: ĝ = Clip(3/√4.5, 2^{1/4}) = √2 > 2^{1/4}: clipped
    assert close(zero[1].state["x"]["exp_avg"].data[0], Fraction(3, 4) * Fraction(1, 4)
                 + Fraction(1, 4) * mpmath.mpf(2) ** mpmath.mpf("0.25"))


def test_weight_decay_forms_include_the_first_call():
    """l2 (the authors' default): v₀ = (g + λθ)²; decoupled_lr: θ(1 − ηλ) already on call 1."""
    (l2,) = trajectory(["2"], [["1"]], states=True, weight_decay="0.5", **HYPER)
    (dec,) = trajectory(["2"], [["1"]], states=True, semantics={"weight_decay": "decoupled_lr"},
                        weight_decay="0.5", **HYPER)
    assert F(l2.state["x"]["exp_avg_sq"].data[0]) == 4 and F(l2.params["x"].data[0]) == 2
    assert F(dec.state["x"]["exp_avg_sq"].data[0]) == 1 and F(dec.params["x"].data[0]) == 2 * Fraction(15, 16)


def test_nonfinite_gradients():
    """+∞ after v₀ is clipped to +c (v becomes +∞ and later ĝ = g/∞ = 0); NaN poisons m and θ."""
    inf = trajectory(["0", "0"], [["1", "1"], ["inf", "1"], ["1", "1"]], states=True, **HYPER)
    assert F(inf[1].state["x"]["exp_avg"].data[0]) == Fraction(1, 4)
    assert mpmath.isinf(inf[1].state["x"]["exp_avg_sq"].data[0])
    assert F(inf[2].state["x"]["exp_avg"].data[0]) == Fraction(3, 16)  # β₁m + (1 − β₁)·0
    nan = trajectory(["0", "0"], [["1", "1"], ["nan", "1"]], **HYPER)
    assert mpmath.isnan(nan[1][0]) and F(nan[1][1]) == -Fraction(1, 32)


def test_defaults():
    spec, optax, po = (ADOPT.resolve(p) for p in ("spec", "optax", "pytorch_optimizer"))
    assert (spec.lr, spec.beta1, spec.beta2, spec.eps) == (mpmath.mpf("1e-3"), mpmath.mpf("0.9"),
                                                            mpmath.mpf("0.9999"), mpmath.mpf("1e-6"))
    assert not spec.unclipped and not spec.nesterov and spec.weight_decay == 0
    assert (optax.beta2, optax.eps, po.beta2, po.eps) == (spec.beta2, spec.eps, spec.beta2, spec.eps)


def numpy_adopt(theta, grads, lr, b1, b2, eps, wd=0.0, nesterov=False, clip=True):
    """The paper's Algorithm 2 with the authors' clip and L2 decay, in numpy float64, written
    independently of the reference: call 0 sets v = g², call k ≥ 1 is update k."""
    theta = numpy.array(theta, dtype=numpy.float64)
    m = numpy.zeros_like(theta)
    v = None
    out = []
    for k, g in enumerate(grads):
        g = numpy.array(g, dtype=numpy.float64) + wd * theta
        if v is None:
            v = g * g
        else:
            ghat = g / numpy.maximum(numpy.sqrt(v), eps)
            if clip:
                ghat = numpy.clip(ghat, -k ** 0.25, k ** 0.25)
            m = b1 * m + (1 - b1) * ghat
            theta = theta - lr * (b1 * m + (1 - b1) * ghat if nesterov else m)
            v = b2 * v + (1 - b2) * g * g
        out.append(theta.copy())
    return out


@pytest.mark.parametrize("wd,nesterov,clip", [(0.0, False, True), (0.0625, True, True), (0.0, False, False)])
def test_agrees_with_a_float64_rederivation(wd, nesterov, clip):
    rng = numpy.random.default_rng(7)
    grads = [(rng.choice([0.125, 1.0, 4.0]) * rng.standard_normal(4)).tolist() for _ in range(30)]
    theta0 = [0.5, -1.0, 2.0, 0.25]
    want = numpy_adopt(theta0, grads, 0.015625, 0.875, 0.9990234375, 1e-6, wd, nesterov, clip)
    got = trajectory([repr(x) for x in theta0], [[repr(x) for x in g] for g in grads], lr="0.015625", beta1="0.875",
                     beta2="0.9990234375", eps="1e-6", weight_decay=repr(wd), nesterov=nesterov, unclipped=not clip)
    for a, b in zip(got, want):
        assert all(abs(float(x) - y) <= 1e-13 * max(1.0, abs(y)) for x, y in zip(a, b))
