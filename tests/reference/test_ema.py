"""EMA of the parameters: averages derived by hand in fractions, the closed form of a geometric average, a
plain numpy float64 re-derivation, every axis on a case it separates, TensorFlow's float32 decay re-derived with
numpy float32 scalars, and torch's AveragedModel and tf.train.ExponentialMovingAverage run directly in float64
against their profiles (tests/test_framework_profiles.py confirms every framework profile through its adapter)."""
import dataclasses
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run as run_case

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


# --- tf.train.ExponentialMovingAverage: the delta form, num_updates, the float32 decay -------------------


def _with_effects(params, grads, profile, effects, semantics=None, **hyper):
    """The step records of one tensor "x" under ``profile`` (with ``semantics`` overrides) and the declared
    precision ``effects``."""
    prof = EMA.profile(profile)
    prof = dataclasses.replace(prof, semantics=dict(prof.semantics, **(semantics or {})))
    h = EMA.resolve(profile, {k: str(v) for k, v in hyper.items()})
    case = Case(EMA, prof, "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values(params)}, grads=[{"x": Tensor.from_values(g)} for g in grads])
    return run_case(case, effects=effects)


def test_delta_form_parts_from_the_sum_and_from_lerp_on_infinity():
    """θ₀ = 1, g = 1/2, +∞, 1, η = 1/4, d = 7/8: θ = 7/8, −∞, −∞. The delta a − (a − θ)/8: a₁ = 1 − (1/8)(1/8) = 63/64,
    a₂ = 63/64 − (63/64 + ∞)/8 = −∞, a₃ = −∞ − (−∞ + ∞)/8 = NaN, where the sum keeps a₃ = −∞. With d = 1/4 (w = 3/4)
    lerp's second branch θ − (θ − a)/4 = −∞ + ∞ is NaN at step 2, where the delta is a − (3/4)(a + ∞) = −∞."""
    grads = [["0.5"], ["inf"], ["1"]]
    delta = run(["1"], grads, profile="tf_train", states=True, lr="0.25", decay="0.875")
    assert avg(delta[0]) == [Fraction(63, 64)]
    assert delta[1].state["x"]["average"].data[0] == -mpmath.inf
    assert mpmath.isnan(delta[2].state["x"]["average"].data[0])
    total = run(["1"], grads, states=True, lr="0.25", decay="0.875")
    assert total[2].state["x"]["average"].data[0] == -mpmath.inf
    early = run(["1"], grads, profile="tf_train", states=True, lr="0.25", decay="0.25")
    lerp = run(["1"], grads, profile="tf_train", semantics={"ema_form": "lerp"}, states=True, lr="0.25", decay="0.25")
    assert early[1].state["x"]["average"].data[0] == -mpmath.inf and mpmath.isnan(lerp[1].state["x"]["average"].data[0])


def test_delta_form_equals_the_sum_on_finite_values():
    kw = dict(states=True, lr="0.125", decay="0.875")
    a = run(THETA0, GRADS, profile="tf_train", **kw)
    b = run(THETA0, GRADS, **kw)
    assert [avg(r) for r in a] == [avg(r) for r in b]


def test_num_updates_warmup_by_hand():
    """θ₀ = 1, g = 1, η = 1/4, d = 1/2, N = t: d₁ = min(1/2, 2/11) = 2/11, a₁ = (2/11)·1 + (9/11)(3/4) = 35/44;
    d₂ = min(1/2, 3/12) = 1/4, a₂ = (1/4)(35/44) + (3/4)(1/2) = 101/176; d₃ = 4/13, a₃ = (4·101/176 + 9/4)/13 = 50/143.
    N = t − 1 (lagged): d₁ = min(1/2, 1/10) = 1/10, a₁ = (1/10)·1 + (9/10)(3/4) = 31/40."""
    records = run(["1"], [["1"]] * 3, profile="tf_train_num_updates", states=True, lr="0.25", decay="0.5")
    got = [r.state["x"]["average"].data[0] for r in records]
    assert all(close(x, y) for x, y in zip(got, [Fraction(35, 44), Fraction(101, 176), Fraction(50, 143)]))
    lagged = run(["1"], [["1"]], profile="tf_train_num_updates", semantics={"decay_warmup": "num_updates_lagged"},
                 states=True, lr="0.25", decay="0.5")
    assert close(lagged[0].state["x"]["average"].data[0], Fraction(31, 40))


def test_num_updates_warmup_stops_at_the_decay():
    """(1 + N)/(10 + N) ≥ 1/2 from N = 8 on: the average of a constant gradient's iterates then decays by exactly d = 1/2
    per step, and before that by (1 + t)/(10 + t). The decay of step t, recovered in fractions as
    (a_t − θ_t)/(a_{t−1} − θ_t), from the parameters and the averages (to 45 digits)."""
    records = run(["1"], [["1"]] * 10, profile="tf_train_num_updates", states=True, lr="0.25", decay="0.5")
    a = [mpmath.mpf(1)] + [r.state["x"]["average"].data[0] for r in records]
    theta = [r.params["x"].data[0] for r in records]
    decays = [(a[t] - theta[t - 1]) / (a[t - 1] - theta[t - 1]) for t in range(1, 11)]
    want = [Fraction(1 + t, 10 + t) for t in range(1, 8)] + [Fraction(1, 2)] * 3
    assert all(close(x, y, 45) for x, y in zip(decays, want))


def test_float32_decay_emulation_is_tensorflows_arithmetic():
    """decay_ops = float32: w = fl32(1 − fl32(d)), with num_updates fl32(1 − min(fl32(d), fl32(fl32(1 + N)/fl32(10 + N)))),
    computed here with numpy float32 scalars; the first average is θ₀ − (θ₀ − θ₁)·w exactly (θ₀ = 1, θ₁ = 3/4)."""
    f32 = numpy.float32
    fx = {"decay_ops": "float32"}
    plain = _with_effects(["1"], [["1"]], "tf_train", fx, lr="0.25", decay="0.999")
    w = Fraction(float(f32(1) - f32(0.999)))
    assert w != Fraction(1, 1000) and avg(plain[0]) == [1 - w / 4]
    warm = _with_effects(["1"], [["1"]] * 2, "tf_train_num_updates", fx, lr="0.25", decay="0.999")
    for t, r in enumerate(warm, 1):
        w = Fraction(float(f32(1) - min(f32(0.999), f32(f32(1 + t) / f32(10 + t)))))
        prev = Fraction(1) if t == 1 else avg(warm[0])[0]
        theta = Fraction(1) - Fraction(t, 4)
        assert avg(r) == [prev - (prev - theta) * w]
    assert Fraction(float(f32(1) - f32(f32(2) / f32(11)))) != Fraction(9, 11)


def _tensorflow():
    pytest.importorskip("tf_keras")
    from optconform.adapters.frameworks.keras_adapter import _load

    _load("tf_keras")  # TensorFlow, imported quietly
    import tensorflow as tf

    return tf


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_tensorflow_ema_in_float64(compiled):
    """The docstring's loop run directly in float64: tf.train.ExponentialMovingAverage(7/8) applied once after creating
    the variable, then after each variable.assign_sub(η·g): the average within 1e-15 of the reference under tf_train
    (where d = 7/8 is exact in float32), and its first value d·θ₀ + (1 − d)·θ₁ (ema_start = initial)."""
    tf = _tensorflow()
    v = tf.Variable([float(x) for x in THETA0], dtype=tf.float64)
    ema = tf.train.ExponentialMovingAverage(0.875)
    ema.apply([v])

    def step(g):
        v.assign_sub(0.125 * g)
        ema.apply([v])

    got = _averages(tf, v, ema, step, compiled)
    records = run(THETA0, GRADS, profile="tf_train", states=True, lr="0.125", decay="0.875")
    for row, r in zip(got, records):
        numpy.testing.assert_allclose(row, [float(x) for x in r.state["x"]["average"].data], rtol=1e-15)
    first = [Fraction(x) - Fraction(1, 8) * Fraction(g) for x, g in zip(THETA0, GRADS[0])]
    assert got[0] == [float(Fraction(7, 8) * Fraction(t0) + Fraction(1, 8) * f) for t0, f in zip(THETA0, first)]


def _averages(tf, v, ema, step, compiled: bool) -> list:
    """ema's average of v after each of GRADS, with ``step(g)`` run eagerly or in one tf.function."""
    step = tf.function(step) if compiled else step
    got = []
    for g in GRADS:
        step(tf.constant([float(x) for x in g], dtype=tf.float64))
        got.append(ema.average(v).numpy().tolist())
    return got


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_num_updates_is_the_optimizers_iterations_after_its_step(compiled):
    """ema = ExponentialMovingAverage(0.999, num_updates=opt.iterations) applied after tf_keras SGD's apply_gradients,
    float64, eagerly and in one tf.function: the averages are the reference's with N = t (num_updates, with tf_keras
    SGD's buffer and the float32 decay); N = t − 1 (num_updates_lagged) is more than 1e-3 relative away at step 1."""
    tf = _tensorflow()
    import tf_keras

    v = tf.Variable([float(x) for x in THETA0], dtype=tf.float64)
    opt = tf_keras.optimizers.SGD(0.125)
    opt.build([v])
    ema = tf.train.ExponentialMovingAverage(0.999, num_updates=opt.iterations)
    ema.apply([v])

    def step(g):
        opt.apply_gradients([(g, v)])
        ema.apply([v])

    got = _averages(tf, v, ema, step, compiled)
    assert int(opt.iterations.numpy()) == len(GRADS)
    fx = {"decay_ops": "float32", "lr": "float32"}  # tf_keras's learning rate is a float32 variable (0.125: exact)

    def reference(warmup):
        records = _with_effects(THETA0, GRADS, "tf_train_num_updates", fx, lr="0.125", decay="0.999",
                                semantics={"sgd_buffer": "zero_momentum", "decay_warmup": warmup})
        return [[float(x) for x in r.state["x"]["average"].data] for r in records]

    numpy.testing.assert_allclose(got, reference("num_updates"), rtol=1e-15)
    lagged = reference("num_updates_lagged")
    assert abs(got[0][0] - lagged[0][0]) > 1e-3 * abs(got[0][0])


def test_zero_debias_changes_nothing_for_variables_and_rejects_tensors():
    """zero_debias=True debiases only averages of non-Variable tensors, which TF2 refuses: the average of a variable is
    the plain one, (1/2)·1 + (1/2)·3 = 2 after one apply."""
    tf = _tensorflow()
    v = tf.Variable([1.0], dtype=tf.float64)
    ema = tf.train.ExponentialMovingAverage(0.5, zero_debias=True)
    ema.apply([v])
    v.assign([3.0])
    ema.apply([v])
    assert ema.average(v).numpy().tolist() == [2.0]
    with pytest.raises(TypeError, match="non-Variable"):
        tf.train.ExponentialMovingAverage(0.5, zero_debias=True).apply([tf.constant([1.0])])
