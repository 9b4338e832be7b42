"""Diagnosis (adapters/diagnosis.py, reference/diagnosis.py): a failing case is rerun under the
neighbouring semantics, and the one the implementation computes is named.

The implementations here are real frameworks run against the vector of another framework's
profile (their difference is known from their sources: Keras's ε-hat against torch's ε after the
root; torch's SGD multiplies the momentum by η_t after the buffer, the spec inside), and small
faulty replays of the reference (tests/toy_adapters.py) for what no framework does on purpose.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from optconform.adapters.checker import compare
from optconform.adapters.diagnosis import diagnose, line
from optconform.adapters.protocol import Implementation
from optconform.reference import diagnosis as D
from tests import toy_adapters

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "vectors"


def _load(rel):
    return json.loads((VECTORS / rel).read_text())


def _diagnosed(adapter, rel, profile, dtype="float64", run_profile=None):
    doc = _load(rel)
    impl = Implementation(adapter.name, "forloop", "cpu", dtype)
    run = adapter.run(dict(doc, profile=run_profile or profile), impl)
    failed = compare(doc, run, impl, profile)
    assert failed.verdict == "fail", failed
    return diagnose(doc, run, impl, profile, failed), failed


def _torch():
    pytest.importorskip("torch")
    from optconform.adapters.frameworks.torch_adapter import TorchAdapter

    return TorchAdapter()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_adam_on_the_keras_vector_is_eps_after_the_root(dtype):
    adapter = _torch()
    d, failed = _diagnosed(adapter, "adam/keras/probe.json", "keras", dtype, run_profile="torch")
    assert d["explained"] and d["kind"] == "axis"
    assert d["axes"] == {"eps_placement": ["hat", "std"]}
    assert "torch" in d["profiles"] and "keras" not in d["profiles"]
    assert d["residual_ulp"] < failed.max_ulp
    assert "eps_placement = std (declared: hat)" in line(d)


def test_torch_sgd_on_the_spec_schedule_vector_is_lr_after_the_buffer():
    d, _ = _diagnosed(_torch(), "sgd/spec/scheduled.json", "spec", run_profile="torch")
    assert d["explained"] and d["axes"] == {"lr_placement": ["inside", "outside"]}
    assert "torch" in d["profiles"]


def test_torch_defaults_on_the_keras_defaults_vector_are_torch_with_its_defaults():
    d, _ = _diagnosed(_torch(), "adam/keras/defaults.json", "keras", run_profile="torch")
    assert d["explained"] and d["kind"] == "defaults"
    assert d["profile"] == "torch" and d["hyper"]["eps"] in ("1e-8", "1.0e-8", "0.00000001")
    assert d["axes"]["eps_placement"] == ["hat", "std"]


def test_float32_arithmetic_on_float64_tensors_is_a_precision_effect():
    d, _ = _diagnosed(toy_adapters.Float32ArithmeticAdapter(), "adam/spec/probe.json", "spec")
    assert d["explained"] and d["kind"] == "precision" and d["dtype"] == "float32"
    assert d["axes"] == {}


def test_a_step_count_one_ahead_is_named():
    d, _ = _diagnosed(toy_adapters.StepShiftedAdapter(), "adam/spec/probe.json", "spec")
    assert d["explained"] and d["kind"] == "step_index" and d["t_shift"] == 1


def test_a_perturbation_no_semantics_explains_is_unexplained_with_where_it_starts():
    adapter = toy_adapters.PerturbedAdapter()
    adapter.rel, adapter.at = 1e-9, 3
    d, failed = _diagnosed(adapter, "adam/spec/probe.json", "spec")
    assert not d["explained"] and d["kind"] is None
    assert d["first_failing_step"] == 3 == failed.first_failing_step
    assert d["first_failing_element"].startswith("w[")
    assert d["closest"] is not None and d["tried"] >= 5
    assert "unexplained" in line(d)


def test_neighbourhood_covers_every_weight_decay_form_and_both_index_shifts():
    hood = D.neighbourhood(_load("adam/spec/weight_decay.json"), "torch")
    forms = {c.axes[0][1] for c in hood.single if c.kind == "axis" and c.axes[0][0] == "weight_decay"}
    assert forms == {"none", "decoupled_lr", "decoupled_schedule", "decoupled", "decoupled_lr_after"}  # declared: l2
    assert {c.t_shift for c in hood.single if c.kind == "step_index"} == {1, -1}
    assert any(c.kind == "ignored" and dict(c.hyper) == {"weight_decay": "0"} for c in hood.single)
    assert all(len(dict(c.axes)) == 2 for c in hood.pairs)


def test_schedule_shift_moves_the_index_and_clamps_at_zero():
    from optconform.reference.replay import case_from_vector
    from optconform.reference.trajectory import run

    case = case_from_vector(_load("step/spec/probe.json"))
    plain = [s.lr for s in run(case)]
    ahead = [s.lr for s in run(case, schedule_shift=1)]
    behind = [s.lr for s in run(case, schedule_shift=-1)]
    assert ahead[:-1] == plain[1:]
    assert behind[0] == plain[0] and behind[1:] == plain[:-1]


def test_check_reports_the_diagnosis_in_the_terminal_json_and_html(tmp_path):
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--adapter",
                           "tests.toy_adapters:StepShiftedAdapter", "--only", "adam", "--scenario", "probe",
                           "--json", str(out), "--html", str(html)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "diagnosis: step count t +1" in proc.stdout
    case = json.loads(out.read_text())["cases"][0]
    assert case["diagnosis"]["kind"] == "step_index" and case["diagnosis"]["explained"]
    assert "step count t +1" in html.read_text()


def test_one_step_mode_is_diagnosed_from_the_injected_inputs():
    from optconform.adapters.frameworks.torch_adapter import TorchAdapter  # noqa: F401 - needs torch
    from optconform.reference.onestep import one_step_document

    adapter = _torch()
    source = _load("adam/keras/probe.json")
    impl = Implementation("torch", "forloop", "cpu", "float64")
    expected = one_step_document(source, "keras", "float64")
    run = adapter.run_one_step(dict(expected, profile="torch"), impl)
    failed = compare(expected, run, impl, "keras")
    assert failed.verdict == "fail"
    d = diagnose(expected, run, impl, "keras", failed, source=source)
    assert d["explained"] and d["axes"] == {"eps_placement": ["hat", "std"]}
    assert all(c != "step_index" for c in [d["kind"]])
