"""SWA: running means derived by hand in fractions, the mean of the SGD iterates as a closed form, the count
origin, the three forms equal on finite values and apart on infinite ones, and torch's AveragedModel run
directly in float64 against its profile."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory, sgd_iterates

SWA = get("swa")
run = partial(_trajectory, SWA)

THETA0 = ["1", "-0.5", "2"]
GRADS = [["0.5", "-1", "0.25"], ["-0.75", "0.5", "1"], ["0.125", "2", "-0.5"], ["1", "-0.25", "0.75"],
         ["-0.5", "1.5", "0.5"], ["0.25", "-2", "1"], ["0.75", "0.25", "-1"], ["-1", "0.5", "0.125"]]


def avg(record):
    return [F(v) for v in record.state["x"]["average"].data]


def test_by_hand():
    """θ₀ = 1, g = 1, η = 1/4: θ = 3/4, 1/2, 1/4. The paper counts θ₀: a = 7/8 (n = 2), 3/4 (3), 5/8 (4);
    torch copies θ₁ first: a = 3/4 (n = 1), 5/8 (2), 1/2 (3)."""
    paper = run(["1"], [["1"]] * 3, states=True, lr="0.25")
    torch = run(["1"], [["1"]] * 3, profile="torch", states=True, lr="0.25")
    assert [avg(r) for r in paper] == [[Fraction(7, 8)], [Fraction(3, 4)], [Fraction(5, 8)]]
    assert [F(r.state["x"]["n_averaged"]) for r in paper] == [2, 3, 4]
    assert [avg(r) for r in torch] == [[Fraction(3, 4)], [Fraction(5, 8)], [Fraction(1, 2)]]
    assert [F(r.state["x"]["n_averaged"]) for r in torch] == [1, 2, 3]


@pytest.mark.parametrize("profile,first", [("spec", 0), ("torch", 1)])
@pytest.mark.parametrize("period", [1, 3])
def test_mean_of_the_iterates(profile, first, period):
    """a is the plain mean of θ_first, θ_c, θ_2c, … (θ₀ included by the paper, not by torch), computed in fractions."""
    records = run(THETA0, GRADS, profile=profile, states=True, lr="0.125", period=period)
    thetas = [[Fraction(x) for x in THETA0]] + sgd_iterates(THETA0, GRADS, Fraction(1, 8))
    for t, r in enumerate(records, 1):
        taken = ([0] if first == 0 else []) + [s for s in range(period, t + 1, period)]
        if not taken:
            continue
        want = [sum(thetas[s][i] for s in taken) / len(taken) for i in range(3)]
        assert all(close(x, w) for x, w in zip(r.state["x"]["average"].data, want))
        assert F(r.state["x"]["n_averaged"]) == len(taken)


def test_parameters_are_plain_sgd():
    got = run(THETA0, GRADS, profile="torch", lr="0.125", period=3)
    assert [[F(x) for x in row] for row in got] == sgd_iterates(THETA0, GRADS, Fraction(1, 8))


def test_forms_agree_on_finite_values():
    records = {form: run(THETA0, GRADS, semantics={"swa_form": form}, states=True, lr="0.125")
               for form in ("weighted", "increment", "lerp")}
    for a, b, c in zip(*records.values()):
        for x, y, z in zip(a.state["x"]["average"].data, b.state["x"]["average"].data, c.state["x"]["average"].data):
            assert close(x, y, 45) and close(x, z, 45)


def test_forms_part_on_infinity():
    """c = 2, torch's copy, g₃ = +∞: θ₂ copied (n = 1); at t = 4, x = θ₄ = −∞: increment a + (x − a)/2 = −∞, lerp's
    weight ½ takes x − (x − a)/2 = NaN; at t = 6 increment's a = −∞ meets x = −∞: NaN, while weighted stays −∞."""
    grads = [["0.5"], ["0.5"], ["inf"], ["1"], ["1"], ["1"]]
    kw = dict(profile="torch", states=True, lr="0.25", period=2)
    inc = run(["1"], grads, **kw)
    lerp = run(["1"], grads, semantics={"swa_form": "lerp"}, **kw)
    weighted = run(["1"], grads, semantics={"swa_form": "weighted"}, **kw)
    assert inc[3].state["x"]["average"].data[0] == -mpmath.inf and mpmath.isnan(lerp[3].state["x"]["average"].data[0])
    assert mpmath.isnan(inc[5].state["x"]["average"].data[0])
    assert weighted[5].state["x"]["average"].data[0] == -mpmath.inf


def test_ranges_are_checked():
    with pytest.raises(UserError):
        SWA.resolve("spec", {"period": "0"})


def test_torch_averaged_model_in_float64():
    """torch.optim.SGD and AveragedModel() updated every 2 steps on the CPU, float64: average and n_averaged as the
    reference under the torch profile (within 1e-15)."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([float(x) for x in THETA0], dtype=torch.float64))
    model = torch.nn.Module()
    model.register_parameter("x", p)
    averaged = torch.optim.swa_utils.AveragedModel(model)
    opt = torch.optim.SGD([p], lr=0.125)
    got = []
    for t, g in enumerate(GRADS, 1):
        p.grad = torch.tensor([float(x) for x in g], dtype=torch.float64)
        opt.step()
        if t % 2 == 0:
            averaged.update_parameters(model)
        got.append((averaged.module.x.detach().tolist(), int(averaged.n_averaged)))
    records = run(THETA0, GRADS, profile="torch", states=True, lr="0.125", period=2)
    for (row, n), r in list(zip(got, records))[1:]:
        numpy.testing.assert_allclose(row, [float(x) for x in r.state["x"]["average"].data], rtol=1e-15)
        assert n == int(r.state["x"]["n_averaged"])
