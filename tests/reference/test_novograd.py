"""NovoGrad: hand-derived steps with the per-tensor norm, every axis on a small case written out by
hand, the invariances of layer-wise normalization, and optax's form against an independent numpy
float64 loop over several tensors."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

from ._trajectory_util import F, close, mp, trajectory as _trajectory

NOVOGRAD = get("novograd")
trajectory = partial(_trajectory, NOVOGRAD)
# ε = 0 keeps the normalization exact for Pythagorean gradients (‖(3, 4)‖ = 5)
EXACT = dict(lr="0.5", beta1="0.5", beta2="0.75", eps="0")


def run_tensors(params: dict, grads: list, profile="spec", **hyper):
    """θ of several tensors (name -> values) under ``profile``: the step records."""
    prof = NOVOGRAD.profile(profile)
    h = NOVOGRAD.resolve(profile, {k: str(v) for k, v in hyper.items()})
    case = Case(NOVOGRAD, prof, "test", "", len(grads), (), [(tuple(params), h)],
                params={n: Tensor.from_values(v) for n, v in params.items()},
                grads=[{n: Tensor.from_values(g[n]) for n in params} for g in grads])
    return run(case)


def test_first_step_is_the_normalized_gradient():
    """v₁ = ‖(3, 4)‖² = 25, m₁ = g/5 = (0.6, 0.8), θ₁ = θ − 0.5·m₁."""
    rec, = trajectory([1, 1], [[3, 4]], states=True, **EXACT)
    assert rec.state["x"]["exp_avg_sq"] == 25
    assert [F(x) for x in rec.state["x"]["exp_avg"].data] == [Fraction(3, 5), Fraction(4, 5)]
    assert [F(x) for x in rec.params["x"].data] == [Fraction(7, 10), Fraction(3, 5)]


def test_second_step_averages_the_squared_norms():
    """g₂ = (0, 10): v₂ = 0.75·25 + 0.25·100 = 43.75, m₂ = 0.5·m₁ + g₂/√43.75, θ₂ = θ₁ − 0.5·m₂."""
    recs = trajectory([1, 1], [[3, 4], [0, 10]], states=True, **EXACT)
    assert recs[1].state["x"]["exp_avg_sq"] == mp("43.75")
    r = mpmath.sqrt(mp("43.75"))
    m2 = [mp("0.3"), mp("0.4") + 10 / r]
    assert all(close(x, y) for x, y in zip(recs[1].state["x"]["exp_avg"].data, m2))
    assert all(close(x, y) for x, y in zip(recs[1].params["x"].data, [mp("0.7") - m2[0] / 2, mp("0.6") - m2[1] / 2]))


def test_zero_init_averages_from_zero():
    """novograd_init = zero: v₁ = (1 − β₂)·25 = 6.25, √v₁ = 2.5, m₁ = g/2.5 = (1.2, 1.6)."""
    rec, = trajectory([1, 1], [[3, 4]], semantics={"novograd_init": "zero"}, states=True, **EXACT)
    assert rec.state["x"]["exp_avg_sq"] == mp("6.25")
    assert [F(x) for x in rec.state["x"]["exp_avg"].data] == [Fraction(6, 5), Fraction(8, 5)]


def test_eps_placement():
    """ε = 11: outside g/(5 + 11) = g/16, inside g/√(25 + 11) = g/6."""
    h = dict(EXACT, eps="11")
    out, = trajectory([1, 1], [[3, 4]], states=True, **h)
    ins, = trajectory([1, 1], [[3, 4]], semantics={"eps_root": "inside"}, states=True, **h)
    assert [F(x) for x in out.state["x"]["exp_avg"].data] == [Fraction(3, 16), Fraction(1, 4)]
    assert all(close(x, y) for x, y in zip(ins.state["x"]["exp_avg"].data, [Fraction(1, 2), Fraction(2, 3)]))


def test_weight_decay_forms():
    """θ = (2, 2), g = (3, 4), λ = 0.25, η = 0.5:
    in_moment: m₁ = g/5 + λθ = (1.1, 1.3), θ₁ = (1.45, 1.35);
    decoupled_lr: θ ← θ(1 − ηλ) = (1.75, 1.75), m₁ = (0.6, 0.8), θ₁ = (1.45, 1.35) too at t = 1 —
    the two differ from the second step, where in_moment's λθ₁ is carried by β₁ in m;
    l2: g + λθ = (3.5, 4.5), ‖·‖ = √32.5, m₁ = (3.5, 4.5)/√32.5."""
    h = dict(EXACT, weight_decay="0.25")
    inm = trajectory([2, 2], [[3, 4], [3, 4]], **h)
    dec = trajectory([2, 2], [[3, 4], [3, 4]], semantics={"novograd_decay": "decoupled_lr"}, **h)
    l2 = trajectory([2, 2], [[3, 4]], semantics={"novograd_decay": "l2"}, **h)
    assert [F(x) for x in inm[0]] == [Fraction(29, 20), Fraction(27, 20)] == [F(x) for x in dec[0]]
    # step 2, in_moment: m₂ = 0.5·(1.1, 1.3) + (0.6, 0.8) + 0.25·θ₁; decoupled: θ₁(1 − 1/8) − 0.5·(0.5·(0.6, 0.8) + (0.6, 0.8))
    m2 = [Fraction(11, 20) + Fraction(3, 5) + Fraction(29, 80), Fraction(13, 20) + Fraction(4, 5) + Fraction(27, 80)]
    assert [F(x) for x in inm[1]] == [Fraction(29, 20) - m2[0] / 2, Fraction(27, 20) - m2[1] / 2]
    assert [F(x) for x in dec[1]] == [Fraction(29, 20) * Fraction(7, 8) - Fraction(9, 20),
                                      Fraction(27, 20) * Fraction(7, 8) - Fraction(3, 5)]
    n = mpmath.sqrt(mp("32.5"))
    assert all(close(x, y) for x, y in zip(l2[0], [2 - mp("1.75") / n, 2 - mp("2.25") / n]))


def test_grad_averaging_first_step():
    """every_step: m₁ = (1 − β₁)u₁ = (0.3, 0.4); after_first: m₁ = u₁ = (0.6, 0.8); both then
    m₂ = β₁m₁ + (1 − β₁)u₂."""
    for form, m1 in (("every_step", [Fraction(3, 10), Fraction(2, 5)]), ("after_first", [Fraction(3, 5), Fraction(4, 5)])):
        recs = trajectory([1, 1], [[3, 4], [3, 4]], semantics={"novograd_averaging": form}, states=True,
                          grad_averaging=True, **EXACT)
        assert [F(x) for x in recs[0].state["x"]["exp_avg"].data] == m1
        assert [F(x) for x in recs[1].state["x"]["exp_avg"].data] == [m1[0] / 2 + Fraction(3, 10), m1[1] / 2 + Fraction(2, 5)]


def test_infinite_gradient_mix_and_delta():
    """g₂ = (∞, 1): n₂ = ∞ and v₂ = +∞ in both forms; the finite element's normalized gradient is 1/∞ = 0
    and the infinite one's ∞/∞ = NaN. Step 3 (finite g): the mix keeps v = +∞ (β₂∞ + (1 − β₂)n), so
    element 1 only decays its momentum; the delta form gives ∞ + (1 − β₂)(n − ∞) = NaN."""
    grads = [[3, 4], ["inf", 1], [3, 4]]
    mix = trajectory([1, 1], grads, states=True, **EXACT)
    delta = trajectory([1, 1], grads, semantics={"second_moment": "delta"}, states=True, **EXACT)
    assert mix[1].state["x"]["exp_avg_sq"] == mpmath.inf == delta[1].state["x"]["exp_avg_sq"]
    assert mpmath.isnan(mix[1].params["x"].data[0]) and mix[2].state["x"]["exp_avg_sq"] == mpmath.inf
    assert F(mix[2].state["x"]["exp_avg"].data[1]) == Fraction(4, 5) / 4  # m₃ = β₁²m₁
    assert mpmath.isnan(delta[2].state["x"]["exp_avg_sq"]) and mpmath.isnan(delta[2].params["x"].data[1])


def test_tensors_are_normalized_independently():
    """A tensor's trajectory depends on its own gradients only: changing the other tensor's
    gradients (here the norm and direction of b's second one) leaves it unchanged."""
    g = [{"a": [3, 4], "b": [1, -2, 2]}, {"a": [1, 1], "b": [0, 3, 4]}]
    g_big = [g[0], {"a": [1, 1], "b": [1000, -7, 0]}]
    r1 = run_tensors({"a": [1, 2], "b": [0, 1, -1]}, g, **EXACT)
    r2 = run_tensors({"a": [1, 2], "b": [0, 1, -1]}, g_big, **EXACT)
    assert [r.params["a"].data for r in r1] == [r.params["a"].data for r in r2]
    assert [r.params["b"].data for r in r1] != [r.params["b"].data for r in r2]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(-32, 32), min_size=3, max_size=3).filter(any), min_size=1, max_size=6),
       st.integers(0, 6))
def test_gradient_scale_does_not_change_the_trajectory(grads, k):
    """With ε = 0 and λ = 0, u_t = g_t/√v_t is invariant under g → 2ᵏg (v scales by 4ᵏ)."""
    g1 = [[str(Fraction(x, 8)) for x in r] for r in grads]
    g2 = [[str(Fraction(x * 2 ** k, 8)) for x in r] for r in grads]
    assert trajectory([1, 2, 3], g1, **EXACT) == trajectory([1, 2, 3], g2, **EXACT)


def numpy_optax_novograd(params, grads, lr, b1, b2, eps, wd):
    """optax.novograd's equations (optax/_src/transform.py scale_by_novograd) in float64."""
    theta = {n: numpy.array(v, dtype=numpy.float64) for n, v in params.items()}
    m = {n: numpy.zeros_like(v) for n, v in theta.items()}
    v = {n: 0.0 for n in theta}
    out = []
    for t, g in enumerate(grads, 1):
        for n in theta:
            gn = numpy.array(g[n], dtype=numpy.float64)
            sq = float(numpy.sum(gn * gn))
            v[n] = sq if t == 1 else b2 * v[n] + (1 - b2) * sq
            u = gn / (numpy.sqrt(v[n]) + eps) + wd * theta[n]
            m[n] = u if t == 1 else b1 * m[n] + u
            theta[n] = theta[n] - lr * m[n]
        out.append({n: x.copy() for n, x in theta.items()})
    return out


def test_optax_profile_matches_a_float64_rederivation():
    rng = numpy.random.default_rng(11)
    params = {"w": rng.uniform(-2, 2, 6).round(6), "b": rng.uniform(-1, 1, 3).round(6)}
    grads = [{n: rng.normal(0, 1, len(v)).round(6) for n, v in params.items()} for _ in range(20)]
    recs = run_tensors({n: [repr(float(x)) for x in v] for n, v in params.items()},
                       [{n: [repr(float(x)) for x in g[n]] for n in params} for g in grads],
                       profile="optax", lr="0.01", weight_decay="0.125")
    want = numpy_optax_novograd(params, grads, 0.01, 0.9, 0.25, 1e-6, 0.125)
    for r, w in zip(recs, want):
        for n in params:
            for x, y in zip(r.params[n].data, w[n]):
                assert abs(float(x) - y) <= 1e-13 * max(1.0, abs(y))


def test_defaults():
    h = NOVOGRAD.resolve("spec")
    assert (h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.grad_averaging) == (
        mp("0.001"), mp("0.95"), mp("0.98"), mp("1e-8"), 0, False)
    o = NOVOGRAD.resolve("optax")
    assert (o.beta1, o.beta2, o.eps) == (mp("0.9"), mp("0.25"), mp("1e-6"))
    assert NOVOGRAD.resolve("torch_optimizer").beta2 == 0


def test_float32_moment_variant_matches_a_numpy_float32_emulation():
    """torch-optimizer's declared effects (norm_moment, norm_denominator in float32): v held in a
    float32 0-d tensor, √v + ε in float32, the rest in float64 — here written with numpy scalars
    (numpy's float32 square root is correctly rounded: the variant's nearest root)."""
    rng = numpy.random.default_rng(3)
    theta0 = rng.uniform(-2, 2, 4).round(5)
    grads = [rng.normal(0, 1, 4).round(5) for _ in range(15)]
    b1, b2, lr, eps = 0.875, 0.9375, 0.015625, 2.0 ** -20
    theta, m, v = theta0.copy(), numpy.zeros(4), numpy.float32(0)
    want = []
    for t, g in enumerate(grads, 1):
        n = float(numpy.sum(g * g))
        v = numpy.float32(n) if t == 1 else numpy.float32(float(numpy.float32(v * numpy.float32(b2))) + (1 - b2) * n)
        d = numpy.float32(numpy.sqrt(v) + numpy.float32(eps))
        m = b1 * m + g / float(d)
        theta = theta - lr * m
        want.append(theta.copy())
    prof = NOVOGRAD.profile("torch_optimizer")
    h = NOVOGRAD.resolve("torch_optimizer", {"lr": str(lr), "beta1": str(b1), "beta2": str(b2), "eps": repr(eps)})
    case = Case(NOVOGRAD, prof, "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values([repr(float(x)) for x in theta0])},
                grads=[{"x": Tensor.from_values([repr(float(x)) for x in g])} for g in grads])
    held = run(case, effects={"norm_moment": "float32", "norm_denominator": "float32"})
    exact = run(case)
    for r, e, w in zip(held, exact, want):
        assert all(abs(float(x) - y) <= 1e-14 * max(1.0, abs(y)) for x, y in zip(r.params["x"].data, w))
    # the exact step is about 1e-8 away: the emulation is what makes them agree
    assert any(abs(float(x) - y) > 1e-10 * max(1.0, abs(y)) for x, y in zip(exact[-1].params["x"].data, want[-1]))
