"""Schedule-free SGD and AdamW: first steps and averaging weights derived by hand in fractions, a
plain numpy float64 re-derivation of the paper's three sequences, every axis on a case it
separates, the three forms of x equal on finite inputs and apart on infinite ones, and the authors'
package (schedulefree) run in float64 against the profiles that describe it."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory

SGD = get("schedule_free_sgd")
ADAMW = get("schedule_free_adamw")
sgd = partial(_trajectory, SGD)
adamw = partial(_trajectory, ADAMW)

Y0 = ["1", "-0.5", "2"]
GRADS = [["0.5", "-1", "0.25"], ["-0.75", "0.5", "1"], ["0.125", "2", "-0.5"], ["1", "-0.25", "0.75"],
         ["-0.5", "1.5", "0.5"], ["0.25", "-2", "1"]]


def fr(values):
    return [Fraction(v) for v in values]


def same(values, want) -> bool:
    """Every value equals the exact one (Fraction) to 50 digits."""
    return len(values) == len(want) and all(close(v, w) for v, w in zip(values, want))


# --- SGD: by hand ------------------------------------------------------------------------------------


def test_sgd_first_step_is_a_plain_sgd_step():
    """c₁ = w₁/w₁ = 1, so x₁ = z₁ = y₀ − ηg₁ and y₁ = z₁, whatever β."""
    records = sgd(Y0, GRADS[:1], states=True, lr="0.25", beta1="0.5")
    want = [y - Fraction(1, 4) * g for y, g in zip(fr(Y0), fr(GRADS[0]))]
    r = records[0]
    assert [F(v) for v in r.params["x"].data] == want
    assert [F(v) for v in r.state["x"]["z"].data] == want
    assert [F(v) for v in r.state["x"]["x"].data] == want


def test_sgd_three_steps_in_fractions():
    """Constant η: every weight is η², so c_t = 1/t and x_t is the mean of z₁ … z_t;
    y_t = (1 − β)z_t + βx_t, and the gradient is the one given at y (open loop)."""
    eta, beta = Fraction(1, 8), Fraction(7, 8)
    records = sgd(Y0, GRADS[:3], states=True, lr="0.125", beta1="0.875")
    z = fr(Y0)
    zs = []
    for t, (g, r) in enumerate(zip(GRADS, records), 1):
        z = [zi - eta * gi for zi, gi in zip(z, fr(g))]
        zs.append(z)
        x = [sum(col) / t for col in zip(*zs)]
        y = [(1 - beta) * zi + beta * xi for zi, xi in zip(z, x)]
        assert same(r.params["x"].data, y)
        assert same(r.state["x"]["x"].data, x)
        assert close(r.state["x"]["weight_sum"], t * eta ** 2)
        assert F(r.state["x"]["lr_max"]) == eta


def test_sgd_weight_decay_is_l2_at_y():
    """d = g + λy with the y the gradient was taken at: z₁ = y₀ − η(g + λy₀)."""
    (y1,) = sgd(["2"], [["0.5"]], lr="0.25", weight_decay="0.5")
    assert F(y1[0]) == 2 - Fraction(1, 4) * (Fraction(1, 2) + Fraction(1, 2) * 2)


def test_warmup_weights_follow_the_squared_rate():
    """W = 4, p = 2, warmup_index t: γ_t = η·min(1, t/4), w_t = γ_t², so c_t = t²/Σs² for t ≤ 4 and
    the average x weights z_t by γ_t²."""
    eta = Fraction(1, 4)
    records = sgd(Y0, GRADS, states=True, lr="0.25", beta1="0.875", warmup_steps=4)
    z, num, den = fr(Y0), [Fraction(0)] * 3, Fraction(0)
    for t, (g, r) in enumerate(zip(GRADS, records), 1):
        gamma = eta * min(Fraction(1), Fraction(t, 4))
        z = [zi - gamma * gi for zi, gi in zip(z, fr(g))]
        w = gamma ** 2
        num = [ni + w * zi for ni, zi in zip(num, z)]
        den += w
        x = [ni / den for ni in num]
        assert same(r.state["x"]["x"].data, x)
        assert close(r.state["x"]["weight_sum"], den)


def test_optax_warmup_index_leaves_the_first_step_at_rest():
    """warmup_index = t_minus_1: γ₁ = η·0/W = 0, so z₁ = z₀ and y₁ = y₀, while the weight takes
    η·1/W (c₁ = 1); step 2 moves by η/W."""
    records = sgd(Y0, GRADS[:2], profile="optax", states=True, lr="0.5", beta1="0.875", warmup_steps=2)
    assert [F(v) for v in records[0].params["x"].data] == fr(Y0)
    assert F(records[0].state["x"]["lr_max"]) == Fraction(1, 4)
    z2 = [y - Fraction(1, 4) * g for y, g in zip(fr(Y0), fr(GRADS[1]))]
    assert [F(v) for v in records[1].state["x"]["z"].data] == z2
    # the package's index: the first step already moves by η/W
    first = sgd(Y0, GRADS[:1], lr="0.5", beta1="0.875", warmup_steps=2)[0]
    assert same(first, [y - Fraction(1, 4) * g for y, g in zip(fr(Y0), fr(GRADS[0]))])


def test_polynomial_weights():
    """r = 1, constant η: w_t = t·η², c_t = t/Σs = 2/(t + 1)."""
    eta = Fraction(1, 8)
    records = sgd(["1"], [["1"]] * 4, states=True, lr="0.125", beta1="0.5", r="1")
    z, x = Fraction(1), None
    for t, r in enumerate(records, 1):
        z -= eta
        c = Fraction(2, t + 1)
        x = z if x is None else (1 - c) * x + c * z
        assert close(r.state["x"]["x"].data[0], x)


def test_unweighted_average_is_uniform_under_warmup():
    """p = 0: every weight is (max γ)⁰ = 1 (0⁰ = 1 too), so c_t = 1/t although γ grows: the same
    trajectory as averaging_weight = uniform."""
    a = sgd(Y0, GRADS, lr="0.25", beta1="0.875", warmup_steps=4, weight_lr_power="0")
    b = sgd(Y0, GRADS, semantics={"averaging_weight": "uniform"}, lr="0.25", beta1="0.875", warmup_steps=4)
    assert all(close(p, q) for s, u in zip(a, b) for p, q in zip(s, u))
    c = sgd(Y0, GRADS, lr="0.25", beta1="0.875", warmup_steps=4)
    assert not all(close(p, q) for s, u in zip(a, c) for p, q in zip(s, u))


# --- an independent float64 re-derivation ------------------------------------------------------------


def numpy_schedule_free(y0, grads, lr, beta, warmup=0, wd=0.0, power=2.0, adam=None):
    """The paper's sequences in numpy float64, written out from the equations (held x):
    γ_t = η·min(1, t/W); w_t = (max γ)ᵖ; z ← z − γ(d + λy); x ← (1 − c)x + cz; y = (1 − β)z + βx;
    ``adam`` = (β₂, ε, hat): d = g/(√(v/(1 − β₂ᵗ)) + ε), or the paper's γ√(1 − β₂ᵗ)·g/(√v + ε) with
    the weights of that γ (hat)."""
    y = numpy.array(y0, dtype=numpy.float64)
    z, x, v = y.copy(), y.copy(), numpy.zeros_like(y)
    lr_max = total = 0.0
    out = []
    for t, g in enumerate(grads, 1):
        g = numpy.array(g, dtype=numpy.float64)
        gamma = lr * (min(1.0, t / warmup) if warmup else 1.0)
        d = g
        if adam is not None:
            beta2, eps, hat = adam
            v = beta2 * v + (1 - beta2) * g * g
            bc = 1 - beta2 ** t
            if hat:
                gamma *= numpy.sqrt(bc)
                d = g / (numpy.sqrt(v) + eps)
            else:
                d = g / (numpy.sqrt(v / bc) + eps)
        lr_max = max(lr_max, gamma)
        w = lr_max ** power
        total += w
        c = w / total
        z = z - gamma * (d + wd * y)
        x = (1 - c) * x + c * z
        y = (1 - beta) * z + beta * x
        out.append((y.copy(), x.copy(), z.copy()))
    return out


def _floats(values):
    return [float(v) for v in values]


@pytest.mark.parametrize("warmup,wd,power", [(0, 0.0, 2.0), (3, 0.0, 2.0), (3, 0.0625, 2.0), (4, 0.0, 1.0)])
def test_sgd_matches_a_float64_rederivation(warmup, wd, power):
    records = sgd(Y0, GRADS, states=True, lr="0.25", beta1="0.875", warmup_steps=warmup, weight_decay=str(wd),
                  weight_lr_power=str(power))
    want = numpy_schedule_free([float(v) for v in Y0], [[float(v) for v in g] for g in GRADS], 0.25, 0.875,
                               warmup, wd, power)
    for r, (y, x, z) in zip(records, want):
        for got, exp in ((r.params["x"].data, y), (r.state["x"]["x"].data, x), (r.state["x"]["z"].data, z)):
            assert numpy.allclose(_floats(got), exp, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("hat", [False, True])
@pytest.mark.parametrize("warmup,wd", [(0, 0.0), (3, 0.0625)])
def test_adamw_matches_a_float64_rederivation(hat, warmup, wd):
    """std (the package's AdamWScheduleFree equations, x held) and hat with corrected weights (the
    paper: the spec profile)."""
    semantics = {"average_form": "held", "bias_correction_at": "lr" if hat else "denominator",
                 "weight_lr": "corrected" if hat else "scheduled"}
    records = adamw(Y0, GRADS, states=True, semantics=semantics, lr="0.015625", beta1="0.875",
                    beta2="0.9990234375", eps="1e-8", warmup_steps=warmup, weight_decay=str(wd))
    want = numpy_schedule_free([float(v) for v in Y0], [[float(v) for v in g] for g in GRADS], 0.015625, 0.875,
                               warmup, wd, 2.0, adam=(0.9990234375, 1e-8, hat))
    for r, (y, x, z) in zip(records, want):
        for got, exp in ((r.params["x"].data, y), (r.state["x"]["x"].data, x), (r.state["x"]["z"].data, z)):
            assert numpy.allclose(_floats(got), exp, rtol=1e-13, atol=1e-15)


# --- AdamW: by hand --------------------------------------------------------------------------------


def test_adamw_first_step_normalizes_the_gradient():
    """v₁ = (1 − β₂)g² and v̂₁ = g², so u₁ = g/(|g| + ε) (std); the paper's hat form gives
    √(1 − β₂)·g/(√(1 − β₂)|g| + ε) = g/(|g| + ε/√(1 − β₂)); y₁ = z₁ = y₀ − ηu₁."""
    eta, eps = mpmath.mpf("0.5"), mpmath.mpf("0.25")
    std = adamw(["1"], [["2"]], profile="schedulefree", lr="0.5", beta2="0.75", eps="0.25")[0][0]
    assert close(std, 1 - eta * 2 / (2 + eps))
    hat = adamw(["1"], [["2"]], lr="0.5", beta2="0.75", eps="0.25")[0][0]
    assert close(hat, 1 - eta * 2 / (2 + eps / mpmath.sqrt(mpmath.mpf("0.25"))))


def test_paper_weights_include_the_bias_correction():
    """weight_lr = corrected with a constant η: γ'_t = η√(1 − β₂ᵗ) grows, so max γ' = γ'_t and
    Σw = η²Σ(1 − β₂ˢ)."""
    b2 = Fraction(3, 4)
    records = adamw(["1"], [["1"]] * 3, states=True, lr="0.5", beta2="0.75")
    total = Fraction(0)
    for t, r in enumerate(records, 1):
        total += Fraction(1, 4) * (1 - b2 ** t)
        assert close(r.state["x"]["weight_sum"], total)
    sched = adamw(["1"], [["1"]] * 3, states=True, semantics={"weight_lr": "scheduled"}, lr="0.5", beta2="0.75")
    assert F(sched[-1].state["x"]["weight_sum"]) == 3 * Fraction(1, 4)


def test_decay_points():
    """y: z₁ = y₀ − η(u + λy₀); z: the same with λz₀ (z₀ = y₀ = x₀ and y₁ = z₁, so equal for two
    steps, apart at step 3);
    params (Keras): y₀(1 − ηλ) first, z not decayed, and x = (y₀(1 − ηλ) − (1 − β)z₀)/β enters the
    average — at step 1 discarded (c₁ = 1), so y₁ = z₁ = y₀ − ηu."""
    kw = dict(profile="schedulefree", lr="0.5", beta1="0.5", beta2="0.75", eps="0", weight_decay="0.25")
    u = Fraction(1)  # g/|g| with ε = 0
    grads = [["3"], ["1"], ["-2"]]
    at_y = adamw(["2"], grads, **kw)
    at_z = adamw(["2"], grads, semantics={"decay_at": "z"}, **kw)
    params = adamw(["2"], grads, semantics={"decay_at": "params"}, **kw)
    assert F(at_y[0][0]) == F(at_z[0][0]) == 2 - Fraction(1, 2) * (u + Fraction(1, 4) * 2)
    assert F(params[0][0]) == 2 - Fraction(1, 2) * u
    assert close(at_y[1][0], at_z[1][0]) and not close(at_y[2][0], at_z[2][0])


def assert_same_y_and_x(left, right):
    """Two runs agree to 45 digits on the parameters y and the evaluation parameters x at every step."""
    for a, b in zip(left, right):
        assert all(close(p, q, 45) for p, q in zip(a.params["x"].data, b.params["x"].data))
        assert all(close(p, q, 45) for p, q in zip(a.state["x"]["x"].data, b.state["x"]["x"].data))


def test_keras_decay_moves_x_by_eta_lambda_y_over_beta():
    """decay_at = params, held and recovered x agree: x ← x − ηλy/β is the x recovered from the
    decayed y (finite inputs)."""
    kw = dict(profile="keras", lr="0.25", beta1="0.875", beta2="0.9375", weight_decay="0.125", warmup_steps=2)
    rec = adamw(Y0, GRADS, states=True, **kw)
    held = adamw(Y0, GRADS, states=True, semantics={"average_form": "held"}, **kw)
    assert_same_y_and_x(rec, held)


def test_x_recovered_after_the_step():
    """after_step (Keras on TensorFlow and torch): step 2 averages x' = (y₁ − (1 − β)z₂)/β
    = x₁ + (1 − β)(z₁ − z₂)/β instead of x₁; with c₂ = 1/2 the y₂ differ by β·½·(1 − β)(z₁ − z₂)/β."""
    kw = dict(profile="keras", lr="0.5", beta1="0.5", beta2="0.75", eps="0")
    before = adamw(["1"], [["2"], ["-1"]], states=True, **kw)
    after = adamw(["1"], [["2"], ["-1"]], states=True, semantics={"x_recovery": "after_step"}, **kw)
    assert F(after[0].params["x"].data[0]) == F(before[0].params["x"].data[0])  # c₁ = 1 discards x
    z1, z2 = before[0].state["x"]["z"].data[0], before[1].state["x"]["z"].data[0]
    assert F(z1) == Fraction(1, 2)  # u₁ = g/√(v/(1 − β₂)) = 1 with ε = 0
    half = mpmath.mpf("0.5")
    assert close(after[1].params["x"].data[0] - before[1].params["x"].data[0], half * half * half * (z1 - z2) / half)


# --- the forms of x ----------------------------------------------------------------------------------


def test_held_and_recovered_agree_on_finite_inputs():
    kw = dict(lr="0.25", beta1="0.875", warmup_steps=3, weight_decay="0.0625")
    held = sgd(Y0, GRADS, states=True, **kw)
    other = sgd(Y0, GRADS, states=True, semantics={"average_form": "recovered"}, **kw)
    assert_same_y_and_x(held, other)


def test_forms_part_on_an_infinite_gradient():
    """g₂ = +∞: z₂ = −∞ and y₂ = −∞ in both forms; held keeps x₂ = −∞ and goes on at −∞, the
    recovered x₂ = (y − (1 − β)z)/β is ∞ − ∞ = NaN (optax's eval params) and makes y₃ NaN."""
    grads = [["1"], ["inf"], ["1"]]
    held = sgd(["1"], grads, states=True, lr="0.25", beta1="0.5")
    rec = sgd(["1"], grads, states=True, semantics={"average_form": "recovered"}, lr="0.25", beta1="0.5")
    ninf = mpmath.mpf("-inf")
    for records in (held, rec):
        assert records[1].params["x"].data[0] == ninf
    assert held[1].state["x"]["x"].data[0] == ninf and held[2].params["x"].data[0] == ninf
    assert mpmath.isnan(rec[1].state["x"]["x"].data[0]) and mpmath.isnan(rec[2].params["x"].data[0])


def test_adamw_z_is_nan_not_infinite_after_an_infinite_gradient():
    """u = ∞/(√∞ + ε) = NaN: AdamW's z never holds ±∞, so holding x or recovering it agree on every
    input (AdamW has no average_form axis); the next steps keep the element NaN, the others finite."""
    records = adamw(["1", "2"], [["1", "1"], ["inf", "1"], ["1", "1"]], states=True, lr="0.25")
    assert mpmath.isnan(records[1].state["x"]["z"].data[0]) and mpmath.isnan(records[2].params["x"].data[0])
    assert mpmath.isfinite(records[2].params["x"].data[1])


def test_uniform_average_keeps_the_running_weights():
    """averaging_weight = uniform reads neither S_t nor M_t but keeps them, so that the state has one
    shape: at weight_lr_power = 0 (Keras) S_t = t and lr_max weighting computes the same x."""
    kw = dict(profile="keras", lr="0.25", beta1="0.875", warmup_steps=3)
    uni = adamw(Y0, GRADS, states=True, **kw)
    lrm = adamw(Y0, GRADS, states=True, semantics={"averaging_weight": "lr_max"}, **kw)
    for t, (a, b) in enumerate(zip(uni, lrm), 1):
        assert F(a.state["x"]["weight_sum"]) == t
        assert all(close(p, q) for p, q in zip(a.params["x"].data, b.params["x"].data))


def test_beta1_must_be_positive():
    with pytest.raises(UserError):
        SGD.resolve("spec", {"beta1": "0"})


def test_defaults():
    h = SGD.resolve("spec")
    assert (h.lr, h.beta1, h.weight_decay, h.warmup_steps, h.weight_lr_power, h.r) == (1, mpmath.mpf("0.9"), 0, 0, 2, 0)
    h = ADAMW.resolve("keras")
    assert (h.lr, h.beta2, h.eps) == (mpmath.mpf("0.0025"), mpmath.mpf("0.999"), mpmath.mpf("1e-8"))


# --- the authors' package ----------------------------------------------------------------------------


def _package_run(cls, y0, grads, **kwargs):
    """The package's optimizer in float64: (y, x) after every step, x read through eval() (then
    back to train())."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([float(v) for v in y0], dtype=torch.float64))
    opt = cls([p], **kwargs)
    opt.train()
    out = []
    for g in grads:
        p.grad = torch.tensor([float(v) for v in g], dtype=torch.float64)
        opt.step()
        y = p.detach().clone()
        opt.eval()
        x = p.detach().clone()
        opt.train()
        out.append((y.tolist(), x.tolist()))
    return out


PACKAGE = [
    # (algorithm, profile, class name, package keywords, canonical hyperparameters)
    ("schedule_free_sgd", "schedulefree", "SGDScheduleFree",
     dict(lr=0.25, momentum=0.875, weight_decay=0.0625, warmup_steps=3, r=1.0),
     dict(lr="0.25", beta1="0.875", weight_decay="0.0625", warmup_steps=3, r="1")),
    ("schedule_free_adamw", "schedulefree", "AdamWScheduleFree",
     dict(lr=0.015625, betas=(0.875, 0.9990234375), eps=1e-8, weight_decay=0.0625, warmup_steps=3),
     dict(lr="0.015625", beta1="0.875", beta2="0.9990234375", eps="1e-8", weight_decay="0.0625", warmup_steps=3)),
    ("schedule_free_adamw", "schedulefree_reference", "AdamWScheduleFreeReference",
     dict(lr=0.015625, betas=(0.875, 0.9990234375), eps=1e-8, weight_decay=0.0625, warmup_steps=3, decay_at_z=True),
     dict(lr="0.015625", beta1="0.875", beta2="0.9990234375", eps="1e-8", weight_decay="0.0625", warmup_steps=3)),
    ("schedule_free_adamw", "spec", "AdamWScheduleFreePaper",
     dict(lr=0.015625, betas=(0.875, 0.9990234375), eps=1e-8, weight_decay=0.0625, warmup_steps=3),
     dict(lr="0.015625", beta1="0.875", beta2="0.9990234375", eps="1e-8", weight_decay="0.0625", warmup_steps=3)),
]


@pytest.mark.parametrize("algorithm,profile,name,kwargs,hyper", PACKAGE, ids=[f"{p[0]}-{p[2]}" for p in PACKAGE])
def test_the_package_computes_its_profile(algorithm, profile, name, kwargs, hyper):
    """schedulefree 1.4.1 in float64 against the exact reference under the profile that describes it
    (the spec for AdamWScheduleFreePaper, whose in-place y is the held form's equations for finite
    values): y and x agree to float64 rounding; the profiles' alternatives on the axes the package
    shows (bias_correction_at, weight_lr, decay_at, warmup_index) do not."""
    schedulefree = pytest.importorskip("schedulefree")
    alg = get(algorithm)
    got = _package_run(getattr(schedulefree, name), Y0, GRADS, **kwargs)
    records = _trajectory(alg, Y0, GRADS, profile=profile, states=True, **hyper)
    for (y, x), r in zip(got, records):
        assert numpy.allclose(y, _floats(r.params["x"].data), rtol=1e-13, atol=0)
        assert numpy.allclose(x, _floats(r.state["x"]["x"].data), rtol=1e-13, atol=0)
    alternatives = {"warmup_index": "t_minus_1"}
    if algorithm == "schedule_free_adamw":
        alternatives.update(bias_correction_at="denominator" if profile == "spec" else "lr",
                            weight_lr="scheduled" if profile == "spec" else "corrected",
                            decay_at="y" if profile == "schedulefree_reference" else "z")
    for axis, value in alternatives.items():
        other = _trajectory(alg, Y0, GRADS, profile=profile, semantics={axis: value}, states=True, **hyper)
        assert not all(numpy.allclose(y, _floats(r.params["x"].data), rtol=1e-13, atol=0)
                       for (y, _), r in zip(got, other)), axis


def test_the_package_in_place_form_is_the_recovered_one_on_an_infinite_gradient():
    """SGDScheduleFree updates y in place with torch.lerp: after g = +∞ its eval() x is NaN and so is
    the next y, as the recovered form (its profile's average_form), where the held form keeps −∞."""
    schedulefree = pytest.importorskip("schedulefree")
    got = _package_run(schedulefree.SGDScheduleFree, ["1"], [["1"], ["inf"], ["1"]], lr=0.25, momentum=0.5)
    assert got[1][0] == [float("-inf")] and numpy.isnan(got[1][1][0]) and numpy.isnan(got[2][0][0])
    rec = _trajectory(SGD, ["1"], [["1"], ["inf"], ["1"]], profile="schedulefree", states=True, lr="0.25",
                      beta1="0.5")
    assert mpmath.isnan(rec[1].state["x"]["x"].data[0]) and mpmath.isnan(rec[2].params["x"].data[0])
