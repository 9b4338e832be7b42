"""What Keras 3 does differently on each of its backends (TensorFlow, JAX, torch) and in
TensorFlow's compiled forms: the facts behind the ``keras_torch`` profiles, the backend clauses of
the keras profiles' precision effects and their declared findings (reference/profiles/*.toml).

Keras fixes its backend when it is imported, so every check runs in a worker process started with
that backend's environment (harness.worker_environment: KERAS_BACKEND, and x64 for jax), one
worker per backend kept for the module. Expected values come from the exact reference
(vector_document of a scenario, compared by adapters.checker.compare) or from arithmetic written
out here in numpy (a float32 rounding, a float32 product), never from the code under test.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import math

import numpy as np
import pytest

from optconform.adapters.checker import compare
from optconform.adapters.harness import worker_environment
from optconform.adapters.protocol import Implementation
from optconform.adapters.registry import load
from optconform.reference.model import get
from optconform.reference.scenarios import cases
from optconform.reference.vectors import default_vector_dir, read_manifest, vector_document

from .environments import call_in

pytestmark = pytest.mark.framework("keras")

BACKENDS = ("tensorflow", "jax", "torch")
ADAM_FAMILY = ("adam", "adamw", "amsgrad", "adamax", "nadam")


def _need(*backends):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'optconform[tensorflow]')")
    for backend in backends:
        if importlib.util.find_spec(backend) is None:
            pytest.skip(f"{backend} is not installed (Keras's {backend} backend)")


# --- one worker process per backend ---------------------------------------------------------------

def _on(backend: str, fn, *args):
    """``fn(*args)`` in a worker process whose Keras runs on ``backend`` (fn: a function of this
    module, so that the worker can import it)."""
    env = worker_environment(load("keras"), Implementation("keras", f"{backend}-eager", "cpu", "float64"))
    return call_in(env, fn, *args)


# --- what the workers run -------------------------------------------------------------------------


def _run(docs: list, code_path: str, dtype: str) -> list:
    """adapter.run of each vector document on ``code_path`` (in the worker)."""
    adapter = load("keras")
    impl = Implementation("keras", code_path, "cpu", dtype)
    return [adapter.run(doc, impl) for doc in docs]


def _ops_facts() -> dict:
    """How this backend's keras.ops treat float64 (in the worker)."""
    import keras
    from keras import ops

    def num(x):
        return np.asarray(ops.convert_to_numpy(x))

    x = np.array([1 / 3, 0.1, 0.7, 2 / 7], dtype=np.float64)
    t = ops.convert_to_tensor(x)
    return {
        "backend": keras.backend.backend(),
        "result_type": keras.backend.result_type("float64", "float32"),
        "mean": float(num(ops.mean(t))),
        "mean_dtype": str(num(ops.mean(t)).dtype),
        "cos_dtype": str(num(ops.cos(t)).dtype),
        "maximum_dtype": str(num(ops.maximum(t, t)).dtype),
        "multiply_python_float": float(num(ops.multiply(ops.convert_to_tensor(np.array([1.0])), 0.1))[0]),
        "cast_python_float": float(num(ops.cast(0.95, "float64"))),
    }


def _schedule_dtypes() -> dict:
    """The dtype and value of ExponentialDecay(initial_learning_rate, 10, 0.5) at step 0 for an
    np.float64 scalar and for a 0-d float64 array (in the worker)."""
    from keras import ops
    from keras.optimizers.schedules import ExponentialDecay

    out = {}
    for name, lr in (("np.float64", np.float64(0.1)), ("0-d array", np.array(0.1, dtype=np.float64))):
        value = np.asarray(ops.convert_to_numpy(ExponentialDecay(lr, 10, 0.5)(0)))
        out[name] = (str(value.dtype), float(value))
    return out


def _torch_weight_decay(theta: list) -> list:
    """One SGD step with a zero gradient, learning_rate 1e-3 and weight_decay 0.004 on a float64
    variable: only the decoupled decay moves it (in the worker)."""
    import keras

    variable = keras.Variable(np.array(theta, dtype=np.float64), dtype="float64")
    opt = keras.optimizers.SGD(learning_rate=1e-3, weight_decay=0.004)
    opt.apply_gradients([(keras.ops.convert_to_tensor(np.zeros(len(theta))), variable)])
    return np.asarray(keras.ops.convert_to_numpy(variable.value)).tolist()


def _xla_maximum() -> dict:
    """tf.maximum with a NaN operand, eagerly and compiled with XLA (in a TensorFlow worker)."""
    import tensorflow as tf

    a = tf.constant([1.0, np.nan, np.inf], tf.float64)
    b = tf.constant([np.nan, 1.0, np.nan], tf.float64)
    return {"eager": tf.maximum(a, b).numpy().tolist(),
            "xla": tf.function(tf.maximum, jit_compile=True)(a, b).numpy().tolist()}


def _grappler_division(samples: int) -> dict:
    """float32 x/√y in tf.function against eager and against x·rsqrt(y) (in a TensorFlow worker)."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal(samples).astype(np.float32))
    y = tf.constant(rng.uniform(0.1, 10.0, samples).astype(np.float32))
    graph = tf.function(lambda a, b: a / tf.sqrt(b))(x, y).numpy()
    return {"differs_from_eager": int(np.sum(graph != (x / tf.sqrt(y)).numpy())),
            "equals_rsqrt": int(np.sum(graph == (x * tf.math.rsqrt(y)).numpy()))}


def _run_without_grappler_rewrites(docs: list, code_path: str, dtype: str) -> list:
    """_run with Grappler's arithmetic optimizer and constant folding off (restored after)."""
    import tensorflow as tf

    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False, "constant_folding": False})
    try:
        return _run(docs, code_path, dtype)
    finally:
        tf.config.optimizer.set_experimental_options(
            {k: before.get(k, True) for k in ("arithmetic_optimization", "constant_folding")})


def _run_with_float64_means(docs: list, code_path: str, dtype: str) -> list:
    """_run with keras.ops.mean computing in the input's dtype (jax worker): what Adafactor does
    on the jax backend once its means are float64."""
    import jax.numpy as jnp
    import keras.src.backend.jax.numpy as backend_numpy

    original = backend_numpy.mean
    backend_numpy.mean = lambda x, axis=None, keepdims=False: jnp.mean(backend_numpy.convert_to_tensor(x), axis=axis,
                                                                      keepdims=keepdims)
    try:
        return _run(docs, code_path, dtype)
    finally:
        backend_numpy.mean = original


# --- vectors --------------------------------------------------------------------------------------


def _case(algorithm: str, profile: str, scenario: str):
    alg = get(algorithm)
    return next(c for c in cases(alg, alg.profiles[profile]) if c.scenario == scenario)


def _shipped_spread(case) -> dict:
    """The float64 rounding spread of the shipped vector of ``case``'s profile and scenario ({} where
    none is shipped: the floor of the bound alone; closed-loop scenarios need it)."""
    directory = default_vector_dir()
    for rel, entry in read_manifest(directory)["files"].items():
        if rel.startswith(f"{case.algorithm.name}/") and rel.endswith(f"/{case.scenario}.json") \
                and case.profile.name in entry["profiles"]:
            with open(directory / rel) as fh:
                spread = json.load(fh).get("spread", {})
            return {"float64": spread["float64"]} if "float64" in spread else {}
    return {}


def _doc(case, profile: str | None = None, effects: dict | None = None) -> dict:
    """The vector of ``case`` (under ``profile``'s semantics when given), with the effects that
    apply and the shipped vector's float64 spread, as the adapter reads it (JSON round trip),
    naming ``case``'s profile."""
    spread = _shipped_spread(case)
    if profile is not None:
        semantics = get(case.algorithm.name).profiles[profile].semantics
        case = dataclasses.replace(case, profile=dataclasses.replace(case.profile, semantics=semantics))
    doc = json.loads(json.dumps(vector_document([case], round_hypers=effects or None, base_spread=spread)))
    return dict(doc, profile=case.profile.name)


def _effects(algorithm: str, profile: str, code_path: str, dtype: str = "float64") -> dict:
    return load("keras").precision_effects(algorithm, Implementation("keras", code_path, "cpu", dtype), profile)


def _state(run, step: int, entry: str) -> list:
    return run.steps[step - 1]["state"]["w"][entry]


# --- the torch backend's Adam family: a profile of its own ------------------------------------------


@pytest.mark.parametrize("algorithm", ADAM_FAMILY)
def test_keras_torch_profile_fits_the_torch_backend_and_only_it(algorithm):
    """inf_grad (where first_moment/second_moment act): the torch backend fits keras_torch and not
    keras; the TensorFlow and JAX backends fit keras and not keras_torch."""
    _need(*BACKENDS)
    for backend, own, other in (("torch", "keras_torch", "keras"), ("tensorflow", "keras", "keras_torch"),
                                ("jax", "keras", "keras_torch")):
        path = f"{backend}-eager"
        case = _case(algorithm, own, "inf_grad")
        [run] = _on(backend, _run, [_doc(case)], path, "float64")
        impl = Implementation("keras", path, "cpu", "float64")
        fits = compare(_doc(case, effects=_effects(algorithm, own, path)), run, impl, own)
        assert fits.verdict == "pass", f"{algorithm} on {backend}: {fits.message}"
        misfit = compare(_doc(case, profile=other, effects=_effects(algorithm, own, path)), run, impl, own)
        assert misfit.verdict == "fail", f"{algorithm} on {backend} also fits {other}'s semantics"


def test_torch_backend_adam_keeps_an_infinite_moment_infinite():
    """Keras Adam on inf_grad at step 4: m and v stay +∞ on torch (β₁m + (1 − β₁)g), NaN on
    TensorFlow and JAX (m + (g − m)(1 − β₁)), exactly where the two exact forms say so."""
    _need(*BACKENDS)
    mix = _doc(_case("adam", "keras_torch", "inf_grad"))
    lerp = _doc(_case("adam", "keras", "inf_grad"))
    for entry in ("exp_avg", "exp_avg_sq"):
        exact_mix = [float(v) for v in mix["steps"][3]["state"]["w"][entry]]
        exact_lerp = [float(v) for v in lerp["steps"][3]["state"]["w"][entry]]
        where = [i for i, (a, b) in enumerate(zip(exact_mix, exact_lerp)) if math.isinf(a) and math.isnan(b)]
        assert where, f"inf_grad no longer separates the {entry} forms"
        [torch_run] = _on("torch", _run, [mix], "torch-eager", "float64")
        assert all(_state(torch_run, 4, entry)[i] == math.inf for i in where)
        for backend in ("tensorflow", "jax"):
            [run] = _on(backend, _run, [lerp], f"{backend}-eager", "float64")
            assert all(math.isnan(_state(run, 4, entry)[i]) for i in where), backend


# --- keras.ops on float64 outside TensorFlow ------------------------------------------------------


def test_keras_ops_on_float64_per_backend():
    """Keras's type promotion maps float64 to float32 outside TensorFlow: ops.mean is a float32
    mean (cast back), ops.cos returns float32 on jax, ops.maximum returns float32 on torch, and
    torch turns a Python float into a float32 tensor; ops.cast of a Python float to float64 goes
    through float32 only on TensorFlow."""
    _need(*BACKENDS)
    x = np.array([1 / 3, 0.1, 0.7, 2 / 7], dtype=np.float64)
    exact_mean = float(np.mean(x))
    facts = {b: _on(b, _ops_facts) for b in BACKENDS}
    tf, jx, th = facts["tensorflow"], facts["jax"], facts["torch"]
    assert (tf["result_type"], jx["result_type"], th["result_type"]) == ("float64", "float32", "float32")
    assert tf["mean"] == pytest.approx(exact_mean, rel=1e-15)
    for f in (jx, th):
        assert f["mean_dtype"] == "float64"
        assert 1e-12 < abs(f["mean"] - exact_mean) / exact_mean < 1e-6, f["backend"]  # a float32 mean
    assert (tf["cos_dtype"], jx["cos_dtype"], th["cos_dtype"]) == ("float64", "float32", "float64")
    assert (tf["maximum_dtype"], jx["maximum_dtype"], th["maximum_dtype"]) == ("float64", "float64", "float32")
    assert tf["multiply_python_float"] == jx["multiply_python_float"] == 0.1
    assert th["multiply_python_float"] == float(np.float32(0.1))
    assert tf["cast_python_float"] == float(np.float32(0.95))
    assert jx["cast_python_float"] == th["cast_python_float"] == 0.95


def test_adafactor_on_jax_fits_its_profile_once_means_are_float64():
    """The declared finding of keras Adafactor on jax (float64): the float32 means are the whole
    difference. As is, the defaults case fails; with keras.ops.mean in float64 every scenario
    passes under the effects that apply on jax (no TensorFlow cast)."""
    _need("jax")
    alg = get("adafactor")
    path = "jax-eager"
    effects = _effects("adafactor", "keras", path)
    assert set(effects) == {"lr"}
    impl = Implementation("keras", path, "cpu", "float64")
    chosen = [c for c in cases(alg, alg.profiles["keras"]) if len(c.groups) == 1]
    docs = [_doc(c) for c in chosen]
    expected = [_doc(c, effects=effects) for c in chosen]
    assert alg.profiles["keras"].finding_for("defaults", path, "cpu", "float64", "fail") is not None
    [as_is] = _on("jax", _run, docs[:1], path, "float64")
    assert chosen[0].scenario == "defaults"
    assert compare(expected[0], as_is, impl, "keras").verdict == "fail"
    for case, doc, run in zip(chosen, expected, _on("jax", _run_with_float64_means, docs, path, "float64")):
        verdict = compare(doc, run, impl, "keras")
        assert verdict.verdict == "pass", f"{case.scenario}: {verdict.message}"


def test_torch_backend_weight_decay_factor_is_float32():
    """TorchOptimizer._apply_weight_decay: θ ← θ·fl32(1 − fl32(λ·η)) (η the float32 learning rate),
    not θ − θλη in float64."""
    _need("torch")
    theta = [1.0, 0.3, -2.5]
    eta = np.float32(1e-3)
    factor = float(np.float32(1) - np.float32(0.004) * eta)
    got = _on("torch", _torch_weight_decay, theta)
    assert got == [t * factor for t in theta]
    assert got != [t - t * 0.004 * float(eta) for t in theta]


def test_np_float64_schedule_is_float32_on_torch():
    """A Keras schedule computes in its initial_learning_rate's dtype: np.float64 gives float64 on
    TensorFlow and JAX but float32 on torch (np.float64 is a Python float there); a 0-d array gives
    float64 everywhere."""
    _need(*BACKENDS)
    for backend in BACKENDS:
        got = _on(backend, _schedule_dtypes)
        assert got["0-d array"] == ("float64", 0.1), backend
        expected = ("float32", float(np.float32(0.1))) if backend == "torch" else ("float64", 0.1)
        assert got["np.float64"] == expected, backend


# --- TensorFlow's compiled forms --------------------------------------------------------------------


def test_xla_maximum_drops_a_nan_second_operand():
    _need("tensorflow")
    got = _on("tensorflow", _xla_maximum)
    assert all(math.isnan(v) for v in got["eager"])
    assert got["xla"][0] == 1.0 and math.isnan(got["xla"][1]) and got["xla"][2] == math.inf


def test_amsgrad_under_xla_keeps_the_maximum_when_v_is_nan():
    """nan_grad at step 3: eagerly max_exp_avg_sq turns NaN where the reference says so; compiled
    with XLA it keeps its step-2 value there (the declared finding)."""
    _need("tensorflow")
    case = _case("amsgrad", "keras", "nan_grad")
    doc = _doc(case)
    exact = [float(v) for v in doc["steps"][2]["state"]["w"]["max_exp_avg_sq"]]
    nan_at = [i for i, v in enumerate(exact) if math.isnan(v)]
    assert nan_at
    [eager] = _on("tensorflow", _run, [doc], "tensorflow-eager", "float64")
    [xla] = _on("tensorflow", _run, [doc], "tensorflow-xla", "float64")
    for i in nan_at:
        assert math.isnan(_state(eager, 3, "max_exp_avg_sq")[i])
        assert _state(xla, 3, "max_exp_avg_sq")[i] == _state(xla, 2, "max_exp_avg_sq")[i]
        assert math.isfinite(_state(xla, 3, "max_exp_avg_sq")[i])


def test_tf_function_rewrites_division_by_a_root_into_rsqrt():
    """Grappler, inside tf.function: x/√y becomes x·rsqrt(y), which rounds differently in float32."""
    _need("tensorflow")
    got = _on("tensorflow", _grappler_division, 20000)
    assert got["equals_rsqrt"] == 20000
    assert got["differs_from_eager"] > 1000


def test_rmsprop_tf_function_equals_eager_without_grappler_rewrites():
    """The declared float32 finding of RMSprop centered with momentum in tf.function is Grappler's:
    with its arithmetic optimizer and constant folding off the graph's trajectory is eager's, bit
    for bit, while with them on it differs."""
    _need("tensorflow")
    doc = _doc(_case("rmsprop", "keras", "variant_centered_momentum"))
    [eager] = _on("tensorflow", _run, [doc], "tensorflow-eager", "float32")
    [graph] = _on("tensorflow", _run, [doc], "tensorflow-function", "float32")
    [plain] = _on("tensorflow", _run_without_grappler_rewrites, [doc], "tensorflow-function", "float32")
    assert plain.steps == eager.steps
    assert graph.steps != eager.steps


# --- the torch backend's Lion: sign(NaN) = 0 --------------------------------------------------------


def test_torch_backend_lion_stops_an_element_with_a_nan_direction():
    """nan_grad: where the exact trajectory turns NaN (c_t NaN), the torch backend keeps the last
    finite parameter (torch.sign(NaN) = 0) for every later step; TensorFlow and JAX give NaN."""
    _need(*BACKENDS)
    doc = _doc(_case("lion", "keras", "nan_grad"))
    exact = [[float(v) for v in step["params"]["w"]] for step in doc["steps"]]
    first = next(t for t, row in enumerate(exact, 1) if any(math.isnan(v) for v in row))
    frozen = [i for i, v in enumerate(exact[first - 1]) if math.isnan(v)]
    assert first > 1 and frozen
    [torch_run] = _on("torch", _run, [doc], "torch-eager", "float64")
    for t in range(first, len(exact) + 1):
        for i in frozen:
            assert torch_run.steps[t - 1]["params"]["w"][i] == torch_run.steps[first - 2]["params"]["w"][i]
            assert math.isfinite(torch_run.steps[t - 1]["params"]["w"][i])
    for backend in ("tensorflow", "jax"):
        [run] = _on(backend, _run, [doc], f"{backend}-eager", "float64")
        assert all(math.isnan(run.steps[first - 1]["params"]["w"][i]) for i in frozen), backend


# --- batches: one optimizer over several vectors gives each vector its own trajectory ---------------


def _single_and_batched(rels: list, code_path: str, dtypes: list) -> tuple:
    """Each (vector, dtype) run alone and all of them run as one batch (adapter.run_batch), in the
    worker: the two lists of step records."""
    adapter = load("keras")
    directory = default_vector_dir()
    manifest = read_manifest(directory)
    from optconform.reference.vectors import load_vector

    items = []
    for rel in rels:
        doc = dict(load_vector(directory, rel, manifest), profile="keras")
        for dtype in dtypes:
            if dtype in doc["dtypes"]:
                items.append((doc, Implementation("keras", code_path, "cpu", dtype)))
    keys = {adapter.batch_key(doc, impl, "trajectory") for doc, impl in items}
    single = [adapter.run(doc, impl).steps for doc, impl in items]
    batched = [run.steps for run in adapter.run_batch(items)]
    return keys, single, batched


@pytest.mark.parametrize("code_path", ["tensorflow-function", "tensorflow-xla", "jax-jit", "tensorflow-eager"])
def test_a_batch_gives_every_vector_its_own_trajectory_bit_for_bit(code_path):
    """Vectors of equal hyperparameters and dtypes run as one Keras optimizer: every value of every
    step equals the vector's run alone. Compiled forms: different lengths (6, 12, 60, 250 steps),
    NaN and infinities (inf_grad, nan_grad), a closed loop (rosenbrock); eager forms batch only
    vectors of one length (12 steps: large, tiny and zero gradients, multi-tensor)."""
    backend = code_path.partition("-")[0]
    _need(backend)
    if code_path.endswith("eager"):
        rels = ["adam/keras/large_grad.json", "adam/keras/tiny_grad.json", "adam/keras/zero_grad.json",
                "adam/keras/multi_tensor.json"]
    else:
        rels = ["adam/keras/inf_grad.json", "adam/keras/nan_grad.json", "adam/keras/sign_alternating.json",
                "adam/keras/rosenbrock.json", "adam/keras/long_run.json"]
    keys, single, batched = _on(backend, _single_and_batched, rels, code_path, ["float64", "float32", "bfloat16"])
    assert len(keys) == 1 and None not in keys, keys  # one batch key: the run_batch below is legitimate
    assert len(single) == len(batched) >= 3 * len(rels) - 2
    for alone, together in zip(single, batched):
        assert json.dumps(alone) == json.dumps(together)  # NaN == NaN as text; every float bit for bit
