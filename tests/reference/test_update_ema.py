"""EMA of the updates around SGD: steps derived by hand in fractions, closed forms (a constant gradient, an
alternating one, one impulse), the difference between torch's copy and the zero start as a geometric sum, a plain
numpy float64 re-derivation of optax's equations, and torch.optim.SGD(momentum=d, dampening=d) and
optax.chain(optax.ema, optax.scale_by_learning_rate) run directly in float64 against their profiles
(tests/test_framework_profiles.py confirms them through the adapters)."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory

UEMA = get("update_ema")
run = partial(_trajectory, UEMA)

THETA0 = ["1", "-0.5", "2"]
GRADS = [["0.5", "-1", "0.25"], ["-0.75", "0.5", "1"], ["0.125", "2", "-0.5"], ["1", "-0.25", "0.75"],
         ["-0.5", "1.5", "0.5"], ["0.25", "-2", "1"], ["0.75", "0.25", "-1"], ["-1", "0.5", "0.125"]]
PROFILES = ("spec", "torch", "optax", "optax_nodebias")


def params(records):
    return [[F(x) for x in r.params["x"].data] for r in records]


def test_worked_example_by_hand():
    """θ₀ = 1, g = 1 then 0, η = d = 1/2. Debiased: m₁ = 1/2, m̂₁ = 1, θ₁ = 1/2; m₂ = 1/4, m̂₂ = (1/4)/(3/4) = 1/3,
    θ₂ = 1/3. torch: b₁ = 1 (a copy), θ₁ = 1/2; b₂ = 1/2, θ₂ = 1/4. Not debiased: θ₁ = 3/4, θ₂ = 5/8."""
    kw = dict(lr="0.5", decay="0.5")
    (a,), (b,) = run(["1"], [["1"], ["0"]], **kw)
    assert F(a) == Fraction(1, 2) and close(b, Fraction(1, 3))
    assert [[F(x) for x in p] for p in run(["1"], [["1"], ["0"]], profile="torch", **kw)] == \
        [[Fraction(1, 2)], [Fraction(1, 4)]]
    assert [[F(x) for x in p] for p in run(["1"], [["1"], ["0"]], profile="optax_nodebias", **kw)] == \
        [[Fraction(3, 4)], [Fraction(5, 8)]]


def test_state_is_the_average_before_debiasing():
    """exp_avg holds m_t (optax's EmaState.ema), not m̂_t: m₁ = (1 − d)g₁ = 1/8·(1/2), m₂ = 7/8·m₁ + 1/8·g₂;
    torch's buffer is g₁ at step 1, then 7/8·g₁ + 1/8·g₂."""
    d = Fraction(7, 8)
    g1, g2 = [Fraction(x) for x in GRADS[0]], [Fraction(x) for x in GRADS[1]]
    spec = run(THETA0, GRADS[:2], states=True, lr="0.125", decay="0.875")
    torch = run(THETA0, GRADS[:2], profile="torch", states=True, lr="0.125", decay="0.875")
    m1 = [(1 - d) * g for g in g1]
    assert [F(x) for x in spec[0].state["x"]["exp_avg"].data] == m1
    assert [F(x) for x in spec[1].state["x"]["exp_avg"].data] == [d * m + (1 - d) * g for m, g in zip(m1, g2)]
    assert [F(x) for x in torch[0].state["x"]["exp_avg"].data] == g1
    assert [F(x) for x in torch[1].state["x"]["exp_avg"].data] == [d * a + (1 - d) * b for a, b in zip(g1, g2)]


@pytest.mark.parametrize("profile", ["spec", "torch"])
def test_constant_gradient_passes_unchanged(profile):
    """A constant g: the debiased mean is (1 − dᵗ)g/(1 − dᵗ) = g, torch's buffer g·d + (1 − d)g = g: θ_t = θ₀ − tηg."""
    g = ["0.5", "-3", "0.125"]
    got = run(THETA0, [g] * 9, profile=profile, lr="0.0625", decay="0.9")
    for t, row in enumerate(got, 1):
        assert [F(x) for x in row] == [Fraction(a) - t * Fraction(1, 16) * Fraction(b) for a, b in zip(THETA0, g)]


def test_constant_gradient_without_debiasing_lags():
    """Not debiased: m_t = (1 − dᵗ)g, so θ_t = θ₀ − ηg Σ_{k≤t}(1 − dᵏ) = θ₀ − ηg(t − d(1 − dᵗ)/(1 − d))."""
    d, eta, g = Fraction(7, 8), Fraction(1, 16), Fraction(3, 4)
    got = run(["1"], [["0.75"]] * 10, profile="optax_nodebias", lr="0.0625", decay="0.875")
    for t, (x,) in enumerate(got, 1):
        assert F(x) == 1 - eta * g * (t - d * (1 - d ** t) / (1 - d))


@pytest.mark.parametrize("profile", PROFILES)
def test_alternating_gradient_closed_form(profile):
    """g_t = (−1)^{t−1}g: m_t = (1 − d)(−1)^{t−1}g(1 − (−d)ᵗ)/(1 + d) from m₀ = 0 (a geometric sum of ratio −d);
    debiased m̂_t = m_t/(1 − dᵗ); torch b_t = m_t + dᵗg (the copy adds the missing mass on g₁ = g)."""
    d, eta, g = Fraction(3, 4), Fraction(1, 8), Fraction(1, 2)
    grads = [[str((-1) ** (t - 1) * g)] for t in range(1, 9)]
    got = run(["0.25"], grads, profile=profile, lr="0.125", decay="0.75")
    sem = UEMA.profiles[profile].semantics
    theta = Fraction(1, 4)
    for t, (x,) in enumerate(got, 1):
        m = (1 - d) * (-1) ** (t - 1) * g * (1 - (-d) ** t) / (1 + d)
        if sem["first_momentum"] == "grad":
            m += d ** t * g
        if sem["bias_correction"] == "on":
            m /= 1 - d ** t
        theta -= eta * m
        assert close(x, theta)


def test_one_impulse_totals():
    """One gradient g₁ = 1 then zeros, η = 1, T steps: torch moves Σ_{t≤T} d^{t−1} = (1 − d^T)/(1 − d) (→ 1/(1 − d),
    the copy is never dampened), the undebiased average (1 − d)Σ d^{t−1} = 1 − d^T (plain SGD's 1 in the limit), the
    debiased one Σ_{t≤T} (1 − d)d^{t−1}/(1 − dᵗ) (1.6067 at d = 1/2 in the limit)."""
    d, T = Fraction(1, 2), 30
    grads = [["1"]] + [["0"]] * (T - 1)
    torch, = run(["0"], grads, profile="torch", lr="1", decay="0.5")[-1]
    nodebias, = run(["0"], grads, profile="optax_nodebias", lr="1", decay="0.5")[-1]
    spec, = run(["0"], grads, lr="1", decay="0.5")[-1]
    assert F(torch) == -(1 - d ** T) / (1 - d)
    assert F(nodebias) == -(1 - d ** T)
    assert close(spec, -sum((1 - d) * d ** (t - 1) / (1 - d ** t) for t in range(1, T + 1)))
    limit = mpmath.nsum(lambda t: mpmath.mpf(0.5) ** t / (1 - mpmath.mpf(0.5) ** t), [1, mpmath.inf])
    assert abs(-spec - limit) < 1e-8 and mpmath.nstr(limit, 5) == "1.6067"


grads_st = st.lists(st.lists(st.integers(-64, 64), min_size=2, max_size=2), min_size=1, max_size=7)


@settings(max_examples=30, deadline=None)
@given(grads_st)
def test_copy_minus_zero_start_is_geometric(grads):
    """For any gradients, torch's buffer is the zero-started average plus dᵗg₁ (b₁ − m₁ = dg₁, and the difference
    decays by d per step), so θ_T(torch) − θ_T(not debiased) = −ηg₁Σ_{t≤T}dᵗ = −ηg₁d(1 − d^T)/(1 − d)."""
    d, eta = Fraction(7, 8), Fraction(1, 4)
    g = [[str(Fraction(x, 16)) for x in row] for row in grads]
    a = run(["1", "-1"], g, profile="torch", lr="0.25", decay="0.875")
    b = run(["1", "-1"], g, profile="optax_nodebias", lr="0.25", decay="0.875")
    T = len(g)
    for xa, xb, g1 in zip(a[-1], b[-1], g[0]):
        assert F(xa) - F(xb) == -eta * Fraction(g1) * d * (1 - d ** T) / (1 - d)


@settings(max_examples=30, deadline=None)
@given(grads_st)
def test_first_step_is_the_gradient_step_when_corrected(grads):
    """At t = 1 the debiased mean (1 − d)g₁/(1 − d) and torch's copy are both g₁: θ₁ = θ₀ − ηg₁ (plain SGD)."""
    g = [[str(Fraction(x, 16)) for x in row] for row in grads[:1]]
    for profile in ("spec", "torch"):
        (row,) = run(["1", "-1"], g, profile=profile, lr="0.25", decay="0.875")
        assert [F(x) for x in row] == [Fraction(1) - Fraction(g[0][0]) / 4, Fraction(-1) - Fraction(g[0][1]) / 4]


@pytest.mark.parametrize("profile", PROFILES)
def test_zero_decay_is_plain_sgd(profile):
    """d = 0: m_t = g_t (the copy and the zero start agree, 1 − 0ᵗ = 1): every profile is θ ← θ − ηg."""
    got = run(THETA0, GRADS, profile=profile, lr="0.125", decay="0")
    theta = [Fraction(x) for x in THETA0]
    for row, g in zip(got, GRADS):
        theta = [t - Fraction(1, 8) * Fraction(x) for t, x in zip(theta, g)]
        assert [F(x) for x in row] == theta


def test_schedule_multiplies_the_debiased_average():
    """The learning rate is outside the average: θ_t = θ_{t−1} − η_t m̂_t with m̂ the same as at a constant rate."""
    lrs = ["0.5", "0.25", "0.125"]
    got = run(["1"], [["1"], ["-1"], ["0.5"]], lrs=lrs, lr="0.5", decay="0.5")
    # m = 1/2, −1/4, 1/8 → m̂ = 1, −1/3, (1/8)/(7/8) = 1/7
    theta = Fraction(1)
    for (x,), lr, mhat in zip(got, lrs, [Fraction(1), Fraction(-1, 3), Fraction(1, 7)]):
        theta -= Fraction(lr) * mhat
        assert close(x, theta)


def test_nan_and_inf_stay_in_their_element():
    """A NaN or +∞ gradient element makes that element's average (and so its parameter) NaN or −∞ from then on; the
    other elements are untouched (every form is the mix d·m + (1 − d)g, no ∞ − ∞)."""
    for bad, check in (("nan", mpmath.isnan), ("inf", lambda x: x == -mpmath.inf)):
        for profile in PROFILES:
            got = run(["1", "1"], [["1", "1"], ["1", bad], ["1", "1"]], profile=profile, lr="0.25", decay="0.5")
            assert check(got[1][1]) and check(got[2][1])
            assert F(got[2][0]) == F(run(["1"], [["1"]] * 3, profile=profile, lr="0.25", decay="0.5")[2][0])


def test_matches_numpy_float64():
    """optax's equations written again in numpy float64 ((1 − d)g + d·m, m/(1 − d**t), θ − ηm̂): within 1e-14
    relative of the exact trajectory over 8 steps (rounding only)."""
    d, eta = 0.9, 0.01
    theta, m = numpy.array([float(x) for x in THETA0]), numpy.zeros(3)
    exact = run(THETA0, GRADS, lr="0.01", decay="0.9")
    for t, (g, row) in enumerate(zip(GRADS, exact), 1):
        m = (1 - d) * numpy.array([float(x) for x in g]) + d * m
        theta = theta - eta * (m / (1 - d ** t))
        assert all(abs(a - float(b)) <= 1e-14 * max(1.0, abs(float(b))) for a, b in zip(theta, row))


def test_defaults_and_required():
    """Adam's α = 0.001 and β₁ = 0.9 for the spec; torch's SGD needs the decay (momentum 0 is plain SGD), optax both."""
    h = UEMA.resolve("spec")
    assert (h.lr, h.decay) == (mpmath.mpf("0.001"), mpmath.mpf("0.9"))
    assert UEMA.profiles["torch"].required == ("decay",)
    assert set(UEMA.profiles["optax"].required) == {"lr", "decay"}


def test_decay_range_is_checked():
    with pytest.raises(UserError):
        run(["1"], [["1"]], lr="0.1", decay="1")
    with pytest.raises(UserError):
        run(["1"], [["1"]], lr="0.1", decay="-0.5")


def test_torch_sgd_dampened_in_float64():
    """torch.optim.SGD(momentum=7/8, dampening=7/8) stepped directly in float64: within 1e-15 of the reference under
    the torch profile at every step, and apart from the spec's debiased trajectory from t = 2 on."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([float(x) for x in THETA0], dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.125, momentum=0.875, dampening=0.875)
    got = []
    for g in GRADS:
        p.grad = torch.tensor([float(x) for x in g], dtype=torch.float64)
        opt.step()
        got.append(p.detach().tolist())
    exact = run(THETA0, GRADS, profile="torch", lr="0.125", decay="0.875")
    for row, ref in zip(got, exact):
        assert all(abs(a - float(b)) <= 1e-15 * max(1.0, abs(float(b))) for a, b in zip(row, ref))
    spec = run(THETA0, GRADS, lr="0.125", decay="0.875")
    assert max(abs(a - float(b)) for a, b in zip(got[1], spec[1])) > 1e-3  # the copy and the zero start part at t = 2


def test_optax_ema_chain_in_float64():
    """optax.chain(optax.ema(7/8, debias), optax.scale_by_learning_rate(1/8)) run directly with x64 on: within 1e-15
    of the reference under the optax (debias=True) and optax_nodebias profiles."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    with jax.enable_x64(True):
        for debias, profile in ((True, "optax"), (False, "optax_nodebias")):
            tx = optax.chain(optax.ema(0.875, debias=debias), optax.scale_by_learning_rate(0.125))
            theta = jnp.asarray([float(x) for x in THETA0], dtype=jnp.float64)
            state = tx.init(theta)
            exact = run(THETA0, GRADS, profile=profile, lr="0.125", decay="0.875")
            for g, ref in zip(GRADS, exact):
                updates, state = tx.update(jnp.asarray([float(x) for x in g], dtype=jnp.float64), state, theta)
                theta = optax.apply_updates(theta, updates)
                assert all(abs(float(a) - float(b)) <= 1e-15 * max(1.0, abs(float(b))) for a, b in zip(theta, ref))
