"""The Keras 3 and tf_keras adapters against the shipped vectors (real frameworks).

Expected values come from the vectors (the exact reference), never from the adapter: a case
passes when the checker says so, a state entry is compared with the vector's exact value, and a
deliberately wrong hyperparameter must make the checker fail.
"""
from __future__ import annotations

import math
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.frameworks.keras_adapter import KerasAdapter, TfKerasAdapter  # noqa: E402
from optconform.adapters.harness import Selection, VectorCache, plan, run_case  # noqa: E402
from optconform.adapters.protocol import Implementation, Unsupported  # noqa: E402
from optconform.reference.vectors import default_vector_dir  # noqa: E402

ADAPTERS = [pytest.param(KerasAdapter, id="keras", marks=pytest.mark.framework("keras")),
            pytest.param(TfKerasAdapter, id="tf_keras", marks=pytest.mark.framework("tf_keras"))]


@pytest.fixture(scope="module")
def vectors():
    return VectorCache(default_vector_dir())


def _adapter(cls):
    adapter = cls()
    ok, reason = adapter.available()
    if not ok:
        pytest.skip(reason)
    return adapter


def _cases(adapter, algorithm, scenario, dtype="float64"):
    found = plan(adapter, default_vector_dir(), Selection(algorithms=(algorithm,), scenarios=(scenario,),
                                                          dtypes=(dtype,),
                                                          code_paths=(adapter.default_code_path(algorithm),)))
    found = [c for c in found if c.profile == adapter.name]  # not the option profiles (tf_keras_adaptive)
    assert found, f"no {algorithm}/{scenario} vector for {adapter.name}"
    return found


def _doc(vectors, case):
    doc, _ = vectors.doc(case.rel)
    return dict(doc, profile=case.profile)


def _impl(adapter, dtype="float64"):
    return Implementation(adapter.name, adapter.default_code_path("adam"), "cpu", dtype)


def _ulps(got: float, exact: str) -> float:
    x = float(exact)
    return abs(got - x) / math.ulp(max(abs(x), 1e-300))


@pytest.mark.parametrize("cls", ADAPTERS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_adam_vector_passes(cls, dtype, vectors):
    adapter = _adapter(cls)
    (case,) = _cases(adapter, "adam", "probe", dtype)
    result = run_case(adapter, case, vectors)
    assert result.verdict == "pass", result.message
    assert result.precision_effects.get("lr") == "float32"  # Keras's learning rate variable


@pytest.mark.parametrize("cls", ADAPTERS)
def test_state_is_read_by_canonical_name(cls, vectors):
    """Every state entry the vector holds comes back under its canonical name, equal to the
    vector's exact value: Adam's second moment, and SGD's momentum buffer, which Keras keeps
    negated (m = −b)."""
    adapter = _adapter(cls)
    impl = _impl(adapter)
    for algorithm, entry in (("adam", "exp_avg_sq"), ("sgd", "momentum_buffer"), ("nadam", "mu_product")):
        (case,) = _cases(adapter, algorithm, "sign_alternating")
        doc = _doc(vectors, case)
        if algorithm == "adam":  # no precision effect touches v_t: compare it to the vector directly
            run = adapter.run(doc, impl)
            exact = doc["steps"][-1]["state"]["w"][entry]
            got = run.steps[-1]["state"]["w"][entry]
            assert len(got) == len(exact)
            assert max(_ulps(g, x) for g, x in zip(got, exact)) < 64
        else:
            result = run_case(adapter, case, vectors)
            assert result.verdict == "pass", result.message
            run = adapter.run(doc, impl)
        assert entry in run.steps[-1]["state"]["w"], f"{algorithm}: {entry} not read"
    sgd = adapter.run(_doc(vectors, _cases(adapter, "sgd", "sign_alternating")[0]), impl)
    first = sgd.steps[0]
    # b₁ = η·g₁ with the learning rate inside (lr_placement = inside): same sign as the gradient
    grads = _doc(vectors, _cases(adapter, "sgd", "sign_alternating")[0])["inputs"]["grads"][0]["w"]
    assert all((b > 0) == (float(g) > 0) for b, g in zip(first["state"]["w"]["momentum_buffer"], grads))


@pytest.mark.parametrize("cls", ADAPTERS)
@pytest.mark.parametrize("algorithm", ["adam", "nadam"])
def test_resume_round_trips(cls, algorithm, vectors, monkeypatch):
    """Saving the optimizer's variables after step 5 and loading them into a fresh optimizer gives
    exactly the run that never stopped (NaDAM: its optimizer-wide μ product too), and the vector."""
    adapter = _adapter(cls)
    (case,) = _cases(adapter, algorithm, "resume")
    assert run_case(adapter, case, vectors).verdict == "pass"
    doc = _doc(vectors, case)
    calls = []
    resume = adapter.flavour.resume

    def spy(opt, fresh, variables):
        calls.append((id(opt), id(fresh), int(opt.iterations.numpy())))
        return resume(opt, fresh, variables)

    monkeypatch.setattr(adapter.flavour, "resume", spy)
    resumed = adapter.run(doc, _impl(adapter))
    (old, new, iterations), = calls
    assert old != new and iterations == doc["inputs"]["checkpoint_at"]
    inputs = dict(doc["inputs"])
    del inputs["checkpoint_at"]
    straight = adapter.run(dict(doc, inputs=inputs), _impl(adapter))
    assert len(calls) == 1
    assert resumed.steps == straight.steps


@pytest.mark.parametrize("cls", ADAPTERS)
def test_wrong_hyperparameter_is_caught(cls, vectors):
    """β₁ off by 2⁻²⁰ in the optimizer the adapter builds: the checker must fail the case."""
    adapter = _adapter(cls)
    (case,) = _cases(adapter, "adam", "probe")
    doc = _doc(vectors, case)
    expected, text = vectors.expected_doc(case.rel, case.profile,
                                          adapter.precision_effects("adam", _impl(adapter), case.profile))
    group = dict(doc["inputs"]["groups"][0])
    group["hyper"] = dict(group["hyper"], beta1=repr(float(group["hyper"]["beta1"]) + 2.0 ** -20))
    wrong = dict(doc, inputs=dict(doc["inputs"], groups=[group]))
    result = compare(expected, adapter.run(wrong, _impl(adapter)), _impl(adapter), case.profile, doc_json=text)
    assert result.verdict == "fail"
    assert result.first_failing_step == 1


@pytest.mark.parametrize("cls", ADAPTERS)
@pytest.mark.parametrize("algorithm,entry", [("adam", "exp_avg_sq"), ("sgd", "momentum_buffer"),
                                             ("nadam", "mu_product")])
def test_one_step_injects_the_state(cls, algorithm, entry, vectors):
    """One-step mode passes from the vector's exact states, and a changed injected state entry
    (negated: Keras SGD holds −b, so a sign error would go unnoticed otherwise; NaDAM's μ product
    halved) changes the next step, so the checker fails it: the entry really is written into Keras."""
    adapter = _adapter(cls)
    (case,) = _cases(adapter, algorithm, "sign_alternating")
    impl = _impl(adapter)
    effects = adapter.precision_effects(algorithm, impl, case.profile)
    expected, text = vectors.one_step_doc(case.rel, case.profile, effects, "float64")
    run = adapter.run_one_step(dict(expected, profile=case.profile), impl)
    assert compare(expected, run, impl, case.profile, doc_json=text).verdict == "pass"

    def changed(value):
        return [repr(-float(v)) for v in value] if isinstance(value, list) else repr(float(value) / 2)

    inject = [dict(step) for step in expected["inject"]]
    inject[2] = dict(inject[2], state={n: dict(s, **{entry: changed(s[entry])}) for n, s in inject[2]["state"].items()})
    wrong = adapter.run_one_step(dict(expected, inject=inject, profile=case.profile), impl)
    result = compare(expected, wrong, impl, case.profile, doc_json=text)
    assert result.verdict == "fail" and result.first_failing_step == 3, result.message


@pytest.mark.parametrize("cls", ADAPTERS)
def test_parameter_groups_are_unsupported(cls, vectors):
    adapter = _adapter(cls)
    (case,) = _cases(adapter, "adam", "param_groups")
    with pytest.raises(Unsupported, match="no parameter groups"):
        adapter.run(_doc(vectors, case), _impl(adapter))


@pytest.mark.parametrize("cls", ADAPTERS)
@pytest.mark.parametrize("algorithm,scenario", [("reduce_on_plateau", "probe"), ("cosine_restarts", "past_horizon"),
                                                ("step", "defaults")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_schedule_vectors_pass(cls, algorithm, scenario, dtype, vectors):
    adapter = _adapter(cls)
    (case,) = _cases(adapter, algorithm, scenario, dtype)
    result = run_case(adapter, case, vectors)
    assert result.verdict == "pass", result.message


def test_importing_the_adapter_imports_no_framework():
    code = ("import sys, optconform.adapters.frameworks.keras_adapter, optconform.adapters.frameworks.keras_schedules;"
            "print(sorted(m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
