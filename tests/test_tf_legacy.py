"""tf_keras.optimizers.legacy and tf.compat.v1.train as the code paths ``legacy`` and ``v1`` of
the tf_keras adapter (adapters/frameworks/tf_legacy.py), on the real TensorFlow.

Every profile of those APIs is confirmed in float64 by tests/test_framework_profiles.py (through
``default_code_path``). Here: what is specific to these code paths. Expected values come from the
exact reference (a vector built from the profile's case, with the declared precision effects), never
from the adapter; a case passes when the checker says so.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras")

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.frameworks import tf_legacy  # noqa: E402
from optconform.adapters.frameworks.keras_adapter import TF_KERAS_PATHS, TfKerasAdapter  # noqa: E402
from optconform.adapters.protocol import Implementation, Unsupported  # noqa: E402
from optconform.reference.model import algorithms, get  # noqa: E402
from optconform.reference.onestep import one_step_document  # noqa: E402
from optconform.reference.scenarios import cases  # noqa: E402
from optconform.reference.vectors import vector_document  # noqa: E402

pytestmark = pytest.mark.framework("tf_keras")

ADAPTER = TfKerasAdapter()
APIS = {"legacy": "tf_keras.optimizers.legacy.", "v1": "tensorflow.compat.v1.train."}


def _impl(profile: str, dtype: str = "float64") -> Implementation:
    return Implementation(ADAPTER.name, tf_legacy.code_path_of(profile), "cpu", dtype)


@functools.lru_cache(maxsize=None)
def _vector_text(algorithm: str, profile: str, scenario: str) -> str:
    alg = get(algorithm)
    (case,) = [c for c in cases(alg, alg.profiles[profile]) if c.scenario == scenario]
    return json.dumps(vector_document([case]))


def _vector(algorithm: str, profile: str, scenario: str) -> dict:
    """The exact vector of the profile's case, as ``optconform generate`` writes it."""
    return dict(json.loads(_vector_text(algorithm, profile, scenario)), profile=profile)


def _expected(doc: dict, impl: Implementation) -> dict:
    """The vector recomputed with the declared precision effects that apply to ``impl``, as
    ``optconform check`` compares it (the vector's own rounding spread kept)."""
    alg = get(doc["algorithm"])
    effects = ADAPTER.precision_effects(alg.name, impl, doc["profile"])
    if not effects:
        return doc
    (case,) = [c for c in cases(alg, alg.profiles[doc["profile"]]) if c.scenario == doc["scenario"]]
    return json.loads(json.dumps(vector_document([case], effects=effects, base_spread=doc["spread"])))


def _check(doc: dict, run, impl: Implementation):
    return compare(_expected(doc, impl), run, impl, doc["profile"])


def _ulps(got: float, exact: str) -> float:
    x = float(exact)
    return abs(got - x) / math.ulp(max(abs(x), 1e-300))


def _legacy_profiles():
    return [(name, pname) for name, alg in algorithms().items() for pname in alg.profiles
            if tf_legacy.code_path_of(pname) is not None]


def test_each_profile_runs_on_the_code_path_of_its_api():
    found = _legacy_profiles()
    assert {tf_legacy.code_path_of(p) for _, p in found} == set(tf_legacy.CODE_PATHS)
    for algorithm, pname in found:
        profile = get(algorithm).profiles[pname]
        path = tf_legacy.code_path_of(pname)
        assert profile.framework == "tf_keras" and profile.api.startswith(APIS[path]), (algorithm, pname)
        assert ADAPTER.paths_for(algorithm, pname) == [path]
        assert ADAPTER.default_code_path(algorithm, pname) == path
        assert {(i.code_path, i.dtype) for i in ADAPTER.implementations_for(algorithm, pname)} == \
            {(path, "float64"), (path, "float32")}
    # the tf_keras.optimizers profiles keep the code paths of those classes; other frameworks get none
    assert ADAPTER.paths_for("adam", "tf_keras") == list(TF_KERAS_PATHS)
    assert ADAPTER.paths_for("adam", "tf_keras_adaptive") == list(TF_KERAS_PATHS)
    assert ADAPTER.paths_for("adam", "torch") == []
    assert ADAPTER.default_code_path("adam") == "eager"


CASES = [("sgd", "tf_keras_legacy", "variant_nesterov"), ("sgd", "tf_keras_legacy", "scheduled"),
         ("sgd", "tf_v1", "defaults"), ("sgd", "tf_v1", "variant_nesterov"), ("sgd", "tf_v1", "scheduled"),
         ("adam", "tf_keras_legacy", "probe"), ("amsgrad", "tf_keras_legacy", "sign_alternating"),
         ("adamax", "tf_keras_legacy", "probe"), ("nadam", "tf_keras_legacy", "quadratic"),
         ("adagrad", "tf_keras_legacy", "variant_lr_decay"), ("adadelta", "tf_v1", "probe"),
         ("rmsprop", "tf_keras_legacy", "variant_centered"), ("rmsprop", "tf_keras_legacy_momentum", "scheduled"),
         ("adam", "tf_v1", "defaults"), ("adam", "tf_v1", "long_run"), ("adam", "tf_v1", "scheduled"),
         ("rmsprop", "tf_v1", "defaults"), ("rmsprop", "tf_v1", "variant_centered_momentum"),
         ("rmsprop", "tf_v1", "scheduled"), ("adagrad", "tf_v1", "defaults"), ("adagrad", "tf_v1", "rosenbrock")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("algorithm,profile,scenario", CASES)
def test_vector_passes(algorithm, profile, scenario, dtype):
    """Plain SGD through GradientDescentOptimizer (v1 defaults: momentum 0), Nesterov, schedules
    (legacy: a LearningRateSchedule at iterations; v1: a callable of the global step), the learning
    rate decay of OptimizerV2, closed loop, compat.v1 Adam (its float32 running β powers declared),
    RMSProp (mean square from ones, centered with momentum) and Adagrad (no ε), in both dtypes."""
    doc, impl = _vector(algorithm, profile, scenario), _impl(profile, dtype)
    result = _check(doc, ADAPTER.run(doc, impl), impl)
    assert result.verdict == "pass", result.message


def test_state_is_read_by_name_from_slots():
    """Slots come back under their canonical names with the vector's exact values: legacy SGD's
    slot holds m = −b (read negated), v1's accumulator holds b, legacy Nadam's μ product is an
    optimizer-wide weight; plain v1 SGD (GradientDescentOptimizer) has none."""
    for algorithm, profile, scenario, entry in (("sgd", "tf_keras_legacy", "variant_nesterov", "momentum_buffer"),
                                                ("sgd", "tf_v1", "variant_nesterov", "momentum_buffer"),
                                                ("nadam", "tf_keras_legacy", "probe", "mu_product"),
                                                ("adamax", "tf_keras_legacy", "probe", "exp_inf")):
        doc = _vector(algorithm, profile, scenario)
        run = ADAPTER.run(doc, _impl(profile))
        expected = _expected(doc, _impl(profile))
        for got_step, exact_step in zip(run.steps, expected["steps"]):
            assert set(got_step["state"]["w"]) == set(exact_step["state"]["w"]), (algorithm, profile)
            got, exact = got_step["state"]["w"][entry], exact_step["state"]["w"][entry]
            got, exact = (got, exact) if isinstance(got, list) else ([got], [exact])
            assert max(_ulps(g, x) for g, x in zip(got, exact)) < 64, (algorithm, profile, got_step["t"])
    plain = _vector("sgd", "tf_v1", "defaults")
    assert all(step["state"]["w"] == {} for step in ADAPTER.run(plain, _impl("tf_v1")).steps)


@pytest.mark.parametrize("algorithm,profile,entry", [("sgd", "tf_keras_legacy", "momentum_buffer"),
                                                     ("sgd", "tf_v1", "momentum_buffer"),
                                                     ("nadam", "tf_keras_legacy", "mu_product"),
                                                     ("rmsprop", "tf_keras_legacy_momentum", "square_avg"),
                                                     ("adam", "tf_v1", "exp_avg_sq"),
                                                     ("rmsprop", "tf_v1", "square_avg"),
                                                     ("adagrad", "tf_v1", "sum")])
def test_one_step_injection_changes_the_next_step(algorithm, profile, entry):
    """One-step mode passes from the exact states, and a changed injected entry (negated; a
    scalar halved) makes step 3 fail: the state really is written into the slot (legacy SGD's
    negated one included) or the optimizer-wide weight."""
    doc, impl = _vector(algorithm, profile, "sign_alternating"), _impl(profile)
    effects = ADAPTER.precision_effects(algorithm, impl, profile)
    expected = dict(one_step_document(doc, profile, "float64", effects=effects), profile=profile)
    assert compare(expected, ADAPTER.run_one_step(expected, impl), impl, profile).verdict == "pass"

    def changed(value):
        return [repr(-float(v)) for v in value] if isinstance(value, list) else repr(float(value) / 2)

    inject = [dict(step) for step in expected["inject"]]
    inject[2] = dict(inject[2], state={n: dict(s, **{entry: changed(s[entry])}) for n, s in inject[2]["state"].items()})
    result = compare(expected, ADAPTER.run_one_step(dict(expected, inject=inject), impl), impl, profile)
    assert result.verdict == "fail" and result.first_failing_step == 3, result.message


def test_v1_beta_powers_are_set_for_the_next_update():
    """compat.v1 Adam keeps β₁ᵗ, β₂ᵗ in non-slot float32 variables; one-step mode sets them to
    what five real updates leave there (and the global step to 5)."""
    import numpy as np
    import tensorflow as tf

    flavour = tf_legacy.flavour("v1")

    def optimizer(updates: int):
        var = tf.Variable(np.array([0.5, -0.25]), name="w")
        opt = flavour.prepare(tf.compat.v1.train.AdamOptimizer(0.001, beta1=0.9, beta2=0.999))
        for _ in range(updates):
            flavour.apply(opt, [(tf.constant(np.array([0.125, 0.75])), var)])
        return opt

    stepped, injected = optimizer(5), optimizer(1)
    flavour.set_iterations(injected, 5)
    assert int(injected.global_step.numpy()) == int(stepped.global_step.numpy()) == 5
    for name in tf_legacy.V1_POWERS:
        assert injected._get_non_slot_variable(name).numpy() == stepped._get_non_slot_variable(name).numpy()


@pytest.mark.parametrize("algorithm,profile", [("adam", "tf_keras_legacy"), ("nadam", "tf_keras_legacy"),
                                               ("sgd", "tf_v1"), ("adadelta", "tf_v1"), ("adam", "tf_v1"),
                                               ("rmsprop", "tf_v1")])
def test_resume_round_trips(algorithm, profile, monkeypatch):
    """Checkpointing after step 5 and restoring into a fresh optimizer (tf.train.Checkpoint with
    the variables, v1 with the global step) gives exactly the run that never stopped, and the vector."""
    doc, impl = _vector(algorithm, profile, "resume"), _impl(profile)
    flavour = ADAPTER.flavour_for(impl.code_path)
    calls = []
    resume = flavour.resume

    def spy(opt, fresh, variables):
        calls.append((id(opt), id(fresh)))
        return resume(opt, fresh, variables)

    monkeypatch.setattr(flavour, "resume", spy)
    resumed = ADAPTER.run(doc, impl)
    assert len(calls) == 1 and calls[0][0] != calls[0][1]
    assert _check(doc, resumed, impl).verdict == "pass"
    straight = ADAPTER.run(dict(doc, inputs={k: v for k, v in doc["inputs"].items() if k != "checkpoint_at"}), impl)
    assert len(calls) == 1
    assert resumed.steps == straight.steps


@pytest.mark.parametrize("algorithm,profile,hyper", [("adam", "tf_keras_legacy", "beta1"), ("sgd", "tf_v1", "momentum"),
                                                     ("rmsprop", "tf_keras_legacy", "rho"), ("rmsprop", "tf_v1", "rho"),
                                                     ("adagrad", "tf_v1", "initial_accumulator_value")])
def test_wrong_hyperparameter_is_caught(algorithm, profile, hyper):
    """A hyperparameter 2⁻¹⁸ off in the optimizer the adapter builds (still float32-exact): the
    checker must fail."""
    doc, impl = _vector(algorithm, profile, "probe"), _impl(profile)
    group = dict(doc["inputs"]["groups"][0])
    group["hyper"] = dict(group["hyper"], **{hyper: repr(float(group["hyper"][hyper]) + 2.0 ** -18)})
    wrong = dict(doc, inputs=dict(doc["inputs"], groups=[group]))
    result = _check(doc, ADAPTER.run(wrong, impl), impl)
    assert result.verdict == "fail"
    assert result.first_failing_step in (1, 2)


def test_v1_adam_needs_its_running_beta_powers_in_float64():
    """compat.v1 Adam passes in float64 with the declared running products P(t) = fl32(P(t − 1)·fl32(β))
    and fails (by far more than the bound) with β merely rounded to float32 in β₁ᵗ, β₂ᵗ: the
    declared effect is what the framework computes, not a loosened comparison."""
    doc, impl = _vector("adam", "tf_v1", "probe"), _impl("tf_v1")
    run = ADAPTER.run(doc, impl)
    assert _check(doc, run, impl).verdict == "pass"
    declared = ADAPTER.precision_effects("adam", impl, "tf_v1")
    assert declared["running_power_beta1"] == declared["running_power_beta2"] == "float32"
    rounded = {k: v for k, v in declared.items() if not k.startswith("running_power")}
    rounded.update(power_beta1="float32", power_beta2="float32")
    alg = get("adam")
    (case,) = [c for c in cases(alg, alg.profiles["tf_v1"]) if c.scenario == "probe"]
    expected = dict(json.loads(json.dumps(vector_document([case], effects=rounded, base_spread=doc["spread"]))),
                    profile="tf_v1")
    result = compare(expected, run, impl, "tf_v1")
    assert result.verdict == "fail" and result.max_ulp > 1e6, result.message


def test_v1_rmsprop_mean_square_starts_at_one():
    """RMSPropOptimizer's rms slot starts at ones: the run matches initial_square_avg = 1 (its
    vector), and the same vector computed from 0, as every other RMSprop starts, fails at step 1."""
    doc, impl = _vector("rmsprop", "tf_v1", "probe"), _impl("tf_v1")
    run = ADAPTER.run(doc, impl)
    assert _check(doc, run, impl).verdict == "pass"
    g, rho = float(doc["inputs"]["grads"][0]["w"][0]), float(doc["inputs"]["groups"][0]["hyper"]["rho"])
    assert run.steps[0]["state"]["w"]["square_avg"][0] == pytest.approx(rho + (1 - rho) * g * g, rel=1e-6)
    alg = get("rmsprop")
    (case,) = [c for c in cases(alg, alg.profiles["tf_v1"]) if c.scenario == "probe"]
    h = alg.resolve("tf_v1", dict(case.groups[0][1], initial_square_avg="0"))
    from_zero = dict(json.loads(json.dumps(vector_document([dataclasses.replace(case, groups=[(case.groups[0][0], h)])],
                                                           effects=ADAPTER.precision_effects("rmsprop", impl, "tf_v1"),
                                                           base_spread=doc["spread"]))), profile="tf_v1")
    result = compare(from_zero, run, impl, "tf_v1")
    assert result.verdict == "fail" and result.first_failing_step == 1, result.message


def test_what_the_code_paths_cannot_run_is_a_skip():
    """Legacy Nadam rejects a LearningRateSchedule; neither API has parameter groups, each says so
    in its own words; compat.v1 Adagrad rejects an accumulator starting at 0; a profile runs only
    on its own code path."""
    with pytest.raises(Unsupported, match="rejects"):
        ADAPTER.run(_vector("nadam", "tf_keras_legacy", "scheduled"), _impl("tf_keras_legacy"))
    with pytest.raises(Unsupported, match="^tf.compat.v1.train optimizers have no parameter groups"):
        ADAPTER.run(_vector("sgd", "tf_v1", "param_groups"), _impl("tf_v1"))
    with pytest.raises(Unsupported, match="^Keras optimizers have no parameter groups"):
        ADAPTER.run(_vector("sgd", "tf_keras_legacy", "param_groups"), _impl("tf_keras_legacy"))
    doc = _vector("adagrad", "tf_v1", "probe")
    group = dict(doc["inputs"]["groups"][0])
    group["hyper"] = dict(group["hyper"], initial_accumulator_value="0")
    with pytest.raises(Unsupported, match="initial_accumulator_value must be positive"):
        ADAPTER.run(dict(doc, inputs=dict(doc["inputs"], groups=[group])), _impl("tf_v1"))
    with pytest.raises(Unsupported, match="does not run"):
        ADAPTER.run(_vector("sgd", "tf_v1", "probe"), _impl("tf_keras_legacy"))


def test_importing_the_module_imports_no_framework():
    code = ("import sys, optconform.adapters.frameworks.tf_legacy;"
            "print(sorted(m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
