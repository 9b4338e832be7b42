"""EMA of the parameters: averages derived by hand in fractions, the closed form of a geometric average, a
plain numpy float64 re-derivation, every axis on a case it separates, and torch's AveragedModel run directly in
float64 against its profile (tests/test_framework_profiles.py confirms every framework profile through its adapter)."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory, sgd_iterates

EMA = get("ema")
run = partial(_trajectory, EMA)

THETA0 = ["1", "-0.5", "2"]
GRADS = [["0.5", "-1", "0.25"], ["-0.75", "0.5", "1"], ["0.125", "2", "-0.5"], ["1", "-0.25", "0.75"],
         ["-0.5", "1.5", "0.5"], ["0.25", "-2", "1"], ["0.75", "0.25", "-1"], ["-1", "0.5", "0.125"]]


def avg(record):
    return [F(v) for v in record.state["x"]["average"].data]


def test_initial_start_by_hand():
    """θ₀ = 1, g = 1, η = 1/4, d = 1/2: θ = 3/4, 1/2, 1/4; a₁ = (1 + 3/4)/2 = 7/8, a₂ = (7/8 + 1/2)/2 = 11/16,
    a₃ = (11/16 + 1/4)/2 = 15/32."""
    records = run(["1"], [["1"]] * 3, states=True, lr="0.25", decay="0.5")
    assert [F(r.params["x"].data[0]) for r in records] == [Fraction(3, 4), Fraction(1, 2), Fraction(1, 4)]
    assert [avg(r) for r in records] == [[Fraction(7, 8)], [Fraction(11, 16)], [Fraction(15, 32)]]


def test_copy_start_by_hand():
    """torch and Keras 3 copy θ₁ first: a₁ = 3/4, a₂ = (3/4 + 1/2)/2 = 5/8, a₃ = (5/8 + 1/4)/2 = 7/16."""
    records = run(["1"], [["1"]] * 3, profile="torch", states=True, lr="0.25", decay="0.5")
    assert [avg(r) for r in records] == [[Fraction(3, 4)], [Fraction(5, 8)], [Fraction(7, 16)]]


def test_average_before_the_step_lags_one_step():
    """average_at = before_step averages θ_{t−1}: with the initial start a₁ = (1 + 1)/2 = 1, a₂ = (1 + 3/4)/2 = 7/8."""
    records = run(["1"], [["1"]] * 2, semantics={"average_at": "before_step"}, states=True, lr="0.25", decay="0.5")
    assert [avg(r) for r in records] == [[1], [Fraction(7, 8)]]


@pytest.mark.parametrize("profile", ["spec", "torch", "tf_keras"])
def test_parameters_are_plain_sgd(profile):
    """Without overwrite the average never feeds back: the parameters are SGD's, whatever the profile."""
    got = run(THETA0, GRADS, profile=profile, lr="0.125", decay="0.875")
    assert [[F(x) for x in row] for row in got] == sgd_iterates(THETA0, GRADS, Fraction(1, 8))


def test_geometric_closed_form():
    """a_t = dᵗθ₀ + (1 − d)Σ_{s≤t} d^{t−s}θ_s (initial start), computed in fractions from the SGD iterates."""
    d = Fraction(7, 8)
    records = run(THETA0, GRADS, states=True, lr="0.125", decay="0.875")
    thetas = [[Fraction(x) for x in THETA0]] + sgd_iterates(THETA0, GRADS, Fraction(1, 8))
    for t, r in enumerate(records, 1):
        want = [d ** t * thetas[0][i] + (1 - d) * sum(d ** (t - s) * thetas[s][i] for s in range(1, t + 1))
                for i in range(3)]
        assert avg(r) == want


def test_matches_numpy_float64():
    theta = numpy.array([float(x) for x in THETA0])
    a, d = theta.copy(), 0.999
    records = run(THETA0, GRADS, states=True, lr="0.001", decay="0.999")
    for g, r in zip(GRADS, records):
        theta = theta - 0.001 * numpy.array([float(x) for x in g])
        a = d * a + (1 - d) * theta
        numpy.testing.assert_allclose([float(x) for x in r.state["x"]["average"].data], a, rtol=1e-14)


def test_overwrite_restarts_sgd_from_the_average():
    """F = 2: at t = 2 the parameters become a₂ = 11/16 (test_initial_start_by_hand), and SGD goes on from there:
    θ₃ = 11/16 − 1/4 = 7/16, a₃ = (11/16 + 7/16)/2 = 9/16."""
    records = run(["1"], [["1"]] * 3, states=True, lr="0.25", decay="0.5", overwrite_every=2)
    assert [F(r.params["x"].data[0]) for r in records] == [Fraction(3, 4), Fraction(11, 16), Fraction(7, 16)]
    assert avg(records[2]) == [Fraction(9, 16)]


def test_lerp_and_mix_part_on_infinity():
    """g₂ = +∞: θ₂ = −∞. mix: a₂ = −∞ and stays −∞; lerp with w = 1/8: a₂ = a + w(−∞ − a) = −∞, then a₃ = −∞ + w(−∞ + ∞)
    = NaN. With d = 1/4 (w ≥ ½, lerp's other branch θ − (θ − a)d) lerp is NaN at once."""
    grads = [["0.5"], ["inf"], ["1"]]
    mix = run(["1"], grads, profile="torch_avg_fn", states=True, lr="0.25", decay="0.875")
    lerp = run(["1"], grads, profile="torch", states=True, lr="0.25", decay="0.875")
    assert mix[2].state["x"]["average"].data[0] == -mpmath.inf
    assert lerp[1].state["x"]["average"].data[0] == -mpmath.inf and mpmath.isnan(lerp[2].state["x"]["average"].data[0])
    early = run(["1"], grads, profile="torch", states=True, lr="0.25", decay="0.25")
    assert mpmath.isnan(early[1].state["x"]["average"].data[0])


def test_finite_forms_agree():
    kw = dict(states=True, lr="0.125", decay="0.875")
    a = run(THETA0, GRADS, profile="torch", **kw)
    b = run(THETA0, GRADS, profile="torch_avg_fn", **kw)
    assert all(close(x, y, 45) for ra, rb in zip(a, b)
               for x, y in zip(ra.state["x"]["average"].data, rb.state["x"]["average"].data))


def test_tf_keras_sgd_buffer_turns_infinity_into_nan():
    """zero_momentum: m₂ = −∞ after g₂ = +∞, so m₃ = −η·1 + 0·(−∞) = NaN and θ₃ = NaN; without the buffer θ₃ = −∞."""
    grads = [["0.5"], ["inf"], ["1"]]
    keep = run(["1"], grads, lr="0.25", decay="0.5")
    buf = run(["1"], grads, profile="tf_keras", lr="0.25", decay="0.5")
    assert keep[2][0] == -mpmath.inf and buf[1][0] == -mpmath.inf and mpmath.isnan(buf[2][0])


def test_ranges_are_checked():
    with pytest.raises(UserError):
        EMA.resolve("spec", {"decay": "1.5"})
    with pytest.raises(UserError):
        EMA.resolve("spec", {"overwrite_every": "-1"})


def test_torch_averaged_model_in_float64():
    """torch.optim.SGD and AveragedModel(get_ema_multi_avg_fn(7/8)) updated after each step, float64: the average
    within 1e-15 of the reference under the torch profile, and 1/8 of (θ₀ − θ₁) away from the spec's first average."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([float(x) for x in THETA0], dtype=torch.float64))
    model = torch.nn.Module()
    model.register_parameter("x", p)
    averaged = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.875))
    opt = torch.optim.SGD([p], lr=0.125)
    got = []
    for g in GRADS:
        p.grad = torch.tensor([float(x) for x in g], dtype=torch.float64)
        opt.step()
        averaged.update_parameters(model)
        got.append(averaged.module.x.detach().tolist())
    records = run(THETA0, GRADS, profile="torch", states=True, lr="0.125", decay="0.875")
    for row, r in zip(got, records):
        numpy.testing.assert_allclose(row, [float(x) for x in r.state["x"]["average"].data], rtol=1e-15)
    spec = run(THETA0, GRADS[:1], states=True, lr="0.125", decay="0.875")[0]
    first = [Fraction(x) - Fraction(1, 8) * Fraction(g) for x, g in zip(THETA0, GRADS[0])]
    assert avg(spec) == [Fraction(7, 8) * Fraction(t0) + Fraction(1, 8) * f for t0, f in zip(THETA0, first)]
    assert got[0] == [float(x) for x in first]
