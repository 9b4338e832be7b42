"""ASGD: trajectories recomputed in fractions, the step-size and averaging schedules with their
0-based indices, Polyak–Juditsky's mean of all iterates, the non-finite forms, and torch's float32
scalars re-derived with numpy."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy as np
import pytest

from optconform.reference.model import get
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

from ._trajectory_util import F, close, trajectory as _trajectory

ASGD = get("asgd")
trajectory = partial(_trajectory, ASGD)


def _fractions(records, entry=None):
    if entry is None:
        return [[F(x) for x in r.params["x"].data] for r in records]
    value = records and records[0].state["x"][entry]
    if isinstance(value, Tensor):
        return [[F(x) for x in r.state["x"][entry].data] for r in records]
    return [F(r.state["x"][entry]) for r in records]


def _values(records, entry=None):
    """The first element of the parameter (or of a state entry) after every step, as mpf."""
    if entry is None:
        return [r.params["x"].data[0] for r in records]
    value = records[0].state["x"][entry]
    return [r.state["x"][entry].data[0] if isinstance(value, Tensor) else r.state["x"][entry] for r in records]


def _all_close(got, want):
    return len(got) == len(want) and all(close(x, y) for x, y in zip(got, want))


def _hand(theta0, grads, lr, lambd, t0, kappa=Fraction(0)):
    """θ_t, ā_t, η_t, μ_t in fractions with α = 1: η_t = η/(1 + ληt), μ_t = 1/max(1, t − t₀),
    θ_t = θ(1 − λη_{t−1}) − η_{t−1}(g + κθ), ā_t = ā + μ_{t−1}(θ_t − ā)."""
    theta, avg, eta, mu = Fraction(theta0), Fraction(0), Fraction(lr), Fraction(1)
    out = []
    for t, g in enumerate(grads, 1):
        theta = theta * (1 - lambd * eta) - eta * (Fraction(g) + kappa * theta)
        avg = avg + mu * (theta - avg)
        eta = Fraction(lr) / (1 + lambd * lr * t)
        mu = Fraction(1, max(1, t - t0))
        out.append((theta, avg, eta, mu))
    return out


def test_trajectory_with_alpha_one_in_fractions():
    grads = ["0.5", "-0.25", "1", "0.75", "-1", "0.5", "0.25", "1"]
    records = trajectory(["1.5"], [[g] for g in grads], states=True, lr="0.125", lambd="0.5", alpha="1", t0="2")
    want = _hand(Fraction(3, 2), grads, Fraction(1, 8), Fraction(1, 2), 2)
    for k, entry in enumerate((None, "ax", "eta", "mu")):
        assert _all_close(_values(records, entry), [w[k] for w in want]), entry


def test_the_average_restarts_until_t0_plus_2_and_then_is_the_mean():
    """μ_{t−1} = 1/max(1, t − 1 − t₀): with t₀ = 2 the average is θ_t up to t = 4, then the mean of
    θ_4, …, θ_t (λ = 0: plain SGD, θ_t = 1 − t/8 for g = 1, η = 1/8)."""
    records = trajectory(["1"], [["1"]] * 8, states=True, lr="0.125", lambd="0", t0="2")
    theta = [1 - Fraction(t, 8) for t in range(1, 9)]
    avg = [a for (a,) in _fractions(records, "ax")]
    assert avg[:4] == theta[:4]
    for t in range(5, 9):
        assert avg[t - 1] == sum(theta[3:t]) / (t - 3)


def test_t0_minus_one_is_the_polyak_juditsky_mean_of_all_iterates():
    grads = ["0.5", "-0.25", "1", "0.75", "-1", "0.5"]
    records = trajectory(["2"], [[g] for g in grads], states=True, lr="0.25", lambd="0.25", alpha="1", t0="-1")
    thetas = _values(records)
    assert _all_close(_values(records, "ax"), [sum(thetas[:t]) / t for t in range(1, len(thetas) + 1)])


def test_step_size_is_computed_from_the_step_before():
    """The first step uses η₀ = η; step t uses η/(1 + λη(t − 1))^α, here with α = 3/4 compared with
    an independent mpmath evaluation."""
    records = trajectory(["0"], [["1"]] * 4, states=True, lr="0.5", lambd="2", alpha="0.75", t0="0")
    thetas = [mpmath.mpf(0)]
    for t in range(1, 5):
        eta = mpmath.mpf("0.5") / (1 + mpmath.mpf(1) * (t - 1)) ** mpmath.mpf("0.75")
        thetas.append(thetas[-1] * (1 - 2 * eta) - eta)
    for r, want in zip(records, thetas[1:]):
        assert abs(r.params["x"].data[0] - want) < mpmath.mpf(10) ** -50


def test_coupled_weight_decay_adds_to_the_gradient():
    grads = ["0.5", "0.5", "-1"]
    records = trajectory(["2"], [[g] for g in grads], lr="0.125", lambd="0.5", alpha="1", t0="0",
                         weight_decay="0.25", states=True)
    want = _hand(2, grads, Fraction(1, 8), Fraction(1, 2), 0, kappa=Fraction(1, 4))
    assert _all_close(_values(records), [w[0] for w in want])


def test_maximize_ascends():
    up = trajectory(["1"], [["0.5"], ["0.25"]], maximize="true", lr="0.125", lambd="0.5", alpha="1")
    down = trajectory(["1"], [["-0.5"], ["-0.25"]], lr="0.125", lambd="0.5", alpha="1")
    assert up == down


@pytest.mark.parametrize("semantics, theta4, ax4", [
    ({"decay_form": "factor", "average_at_one": "formula"}, "-inf", "nan"),  # the spec
    ({"decay_form": "factor", "average_at_one": "copy"}, "-inf", "-inf"),  # torch's for-loop path
    ({"decay_form": "gradient", "average_at_one": "formula"}, "nan", "nan"),  # torch's foreach path
])
def test_an_infinite_gradient_under_each_form(semantics, theta4, ax4):
    """θ₃ = −∞ after g₃ = +∞; θ(1 − λη) − ηg keeps −∞, θ − η(g + λθ) is −∞ + ∞; the average's formula
    is −∞ + 1·(−∞ + ∞) while μ = 1, the copy keeps −∞."""
    records = trajectory(["1"], [["0.5"], ["0.5"], ["inf"], ["0.5"]], semantics=semantics, states=True,
                         lr="0.125", lambd="0.5", t0="4")
    assert all(mpmath.isfinite(x) for x in records[1].params["x"].data + records[1].state["x"]["ax"].data)
    theta, ax = records[3].params["x"].data[0], records[3].state["x"]["ax"].data[0]
    assert (mpmath.isnan(theta) if theta4 == "nan" else theta == mpmath.mpf(theta4))
    assert (mpmath.isnan(ax) if ax4 == "nan" else ax == mpmath.mpf(ax4))


def test_the_forms_agree_for_finite_gradients():
    grads = [["0.5", "-1"], ["0.25", "2"], ["-0.75", "0.5"]] * 3
    runs = [trajectory(["1", "-2"], grads, semantics={"decay_form": d, "average_at_one": a}, states=True,
                       lr="0.125", lambd="0.5", t0="1")
            for d in ("factor", "gradient") for a in ("formula", "copy")]
    first = [(r.params["x"].data, r.state["x"]["ax"].data) for r in runs[0]]
    for other in runs[1:]:
        assert all(abs(x - y) < mpmath.mpf(10) ** -55 for (p, a), r in zip(first, other)
                   for x, y in zip(p + a, r.params["x"].data + r.state["x"]["ax"].data))


def _torch_run(grads, effects, **hyper):
    h = ASGD.resolve("torch", hyper)
    case = Case(ASGD, ASGD.profile("torch"), "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values(["1"])}, grads=[{"x": Tensor.from_values(g)} for g in grads])
    return run(case, effects=effects)


def test_torch_holds_eta_and_mu_in_float32():
    """η₀ = float32(0.01) and every η_t, μ_t a float32 value (numpy float32 of the float64 formula:
    the few ulps of a float64 evaluation cannot move a float32 rounding here)."""
    fx = {"eta": "float32", "mu": "float32", "new_scalars": "float32"}
    records = _torch_run([["0.5"]] * 6, fx, lr="0.01", lambd="0.0001", alpha="0.75", t0="2")
    for t, r in enumerate(records, 1):
        assert float(r.state["x"]["eta"]) == float(np.float32(0.01 / (1 + 0.0001 * 0.01 * t) ** 0.75))
        assert float(r.state["x"]["mu"]) == float(np.float32(1 / max(1, t - 2)))
    first = 1 * (1 - 0.0001 * float(np.float32(0.01))) - float(np.float32(0.01)) * 0.5
    assert abs(float(records[0].params["x"].data[0]) - first) < 1e-15


def test_foreach_eta_is_float32_operations():
    """eta_ops: x = fl(fl(λη)·t), y = fl(1 + x), η_t = fl(fl(1/y^α)·fl(η)); with α = 1 the power is
    exact, so numpy's float32 arithmetic gives it, and it differs from fl32 of the exact value."""
    fx = {"eta": "float32", "mu": "float32", "new_scalars": "float32", "eta_ops": "float32"}
    records = _torch_run([["0.5"]] * 40, fx, lr="0.01", lambd="0.0001", alpha="1", t0="2")
    one, lr, c = np.float32(1), np.float32(0.01), np.float32(0.0001 * 0.01)
    ops = [float((one / (one + c * np.float32(t))) * lr) for t in range(1, 41)]
    assert [float(r.state["x"]["eta"]) for r in records] == ops
    exact = [float(np.float32(0.01 / (1 + 0.0001 * 0.01 * t))) for t in range(1, 41)]
    assert ops != exact


def test_capturable_decay_factor_is_float32():
    """decay_factor: θ₁ = θ₀·fl32(1 − fl32(fl32(λ)·η₀)) − η₀g."""
    fx = {"eta": "float32", "mu": "float32", "new_scalars": "float32", "decay_factor": "float32"}
    (r,) = _torch_run([["0.5"]], fx, lr="0.01", lambd="0.0001", alpha="0.75", t0="2")
    eta = np.float32(0.01)
    d = np.float32(1) - np.float32(0.0001) * eta
    assert float(r.params["x"].data[0]) == float(np.float64(d) - np.float64(eta) * 0.5)


def test_defaults():
    h = ASGD.resolve("spec")
    assert (h.lr, h.lambd, h.alpha, h.t0, h.weight_decay) == (
        mpmath.mpf("0.01"), mpmath.mpf("0.0001"), mpmath.mpf("0.75"), 1000000, 0)
    assert ASGD.resolve("torch") == h
