"""The checker: exact passes, faithful float64 arithmetic passes, a 1e-12 semantic change fails at
the right step, declared divergences are reported; and `optconform check` end to end."""
import importlib.util
import json
import subprocess
import sys

import pytest

from optconform.adapters.checker import bound, compare
from optconform.adapters.harness import Selection, VectorCache, plan, run_case
from optconform.reference import vectors as V

from . import toy_adapters

DIR = V.default_vector_dir()


def _results(adapter, algorithms=("adam",)):
    vectors = VectorCache(DIR)
    return [run_case(adapter, c, vectors) for c in plan(adapter, DIR, Selection(algorithms=algorithms), vectors.manifest)]


def test_the_exact_trajectory_passes_everywhere():
    results = _results(toy_adapters.ExactAdapter())
    assert results and all(r.verdict == "pass" for r in results), [r.message for r in results if r.verdict != "pass"]
    assert max(r.max_ulp for r in results) <= 0.5  # rounding the exact value to float64


def test_faithful_float64_arithmetic_in_another_order_passes():
    """The reference recomputed with every operation rounded to 53 bits is a faithful float64
    implementation: it must pass, with errors of a few ulps."""
    results = _results(toy_adapters.ReorderedAdapter(), ("adam", "sgd"))
    assert results and all(r.verdict == "pass" for r in results), [r.message for r in results if r.verdict != "pass"]
    assert max(r.max_ulp for r in results) > 0.5  # it really is a different computation


def test_a_semantic_difference_of_1e_12_fails_at_its_first_step():
    adapter = toy_adapters.PerturbedAdapter()
    results = [r for r in _results(adapter) if r.scenario in ("probe", "defaults", "long_run")]
    assert results
    for r in results:
        assert r.verdict == "fail", r.id
        assert r.first_failing_step == adapter.at
        assert r.diverged_first == "params"
        assert r.first_failing_element.startswith("w[")
        assert 1e-13 < r.max_rel < 1e-11


def test_the_float64_bound_detects_1e_12_for_every_scenario_length():
    # 1e-12 relative is about 4500 ulps; the floor 8t stays below it for t < 560 (every scenario)
    assert bound(250, 0.0, "float64") < 1e-12 / 2.0 ** -52 / 2


def test_errors_and_skips_are_per_case_and_the_run_continues():
    results = _results(toy_adapters.BrokenAdapter())
    verdicts = {r.scenario: r for r in results}
    assert verdicts["probe"].verdict == "error" and "kernel exploded" in verdicts["probe"].message
    assert verdicts["maximize"].verdict == "skip" and "no maximize" in verdicts["maximize"].message
    assert verdicts["defaults"].verdict == "pass"


def test_declared_divergences_are_reported_not_hidden():
    from optconform.adapters.frameworks.torch_adapter import TorchAdapter

    pytest.importorskip("torch")
    adapter = TorchAdapter()
    vectors = VectorCache(DIR)
    case = next(c for c in plan(adapter, DIR, Selection(algorithms=("adamw",), scenarios=("probe",),
                                                         code_paths=("forloop",), dtypes=("float64",)))
                if c.impl.device == "cpu")
    r = run_case(adapter, case, vectors)
    assert r.verdict == "pass"
    assert r.declared_divergences == ["weight_decay"]  # torch AdamW scales decay by lr, the paper does not


def test_importing_the_checker_imports_no_framework():
    code = ("import sys, optconform.adapters.checker, optconform.adapters.harness, optconform.adapters.cli;"
            "bad = [m for m in ('torch', 'jax', 'tensorflow', 'keras', 'matplotlib') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def cli(*args):
    return subprocess.run([sys.executable, "-m", "optconform.adapters", *args], capture_output=True, text=True,
                          timeout=600)


def test_check_command_with_a_third_party_adapter(tmp_path):
    out = tmp_path / "r.json"
    proc = cli("check", "--adapter", "tests.toy_adapters:ExactAdapter", "--only", "adam", "--json", str(out),
               "--junit", str(tmp_path / "r.xml"), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["summary"]["total"] == len(doc["cases"]) > 0 and doc["summary"]["fail"] == 0
    case = doc["cases"][0]
    for key in ("algorithm", "profile", "scenario", "adapter", "code_path", "device", "dtype", "mode", "verdict",
                "max_ulp", "max_rel", "first_failing_step", "diagnosis"):
        assert key in case
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_check_exit_1_on_failure_and_error():
    proc = cli("check", "--adapter", "tests.toy_adapters:BrokenAdapter", "--only", "adam", "--quiet")
    assert proc.returncode == 1
    assert "ERROR" in proc.stdout and "kernel exploded" in proc.stdout


@pytest.mark.parametrize("args,fragment", [
    (("--adapter", "nosuch"), "unknown adapter 'nosuch'"),
    (("--adapter", "tests.toy_adapters:Nope"), "has no attribute 'Nope'"),
    (("--adapter", "tests.toy_adapters:ExactAdapter", "--only", "zzz"), "matches no case"),
    (("--adapter", "tests.toy_adapters:ExactAdapter", "--dtype", "float8"), "unknown dtype 'float8'"),
    (("--adapter", "tests.toy_adapters:ExactAdapter", "--vectors", "/nonexistent"), "manifest is missing"),
])
def test_check_bad_arguments_exit_2_with_one_line(args, fragment):
    proc = cli("check", *args, "--quiet")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in proc.stderr


def test_check_a_corrupted_vector_exits_2_naming_it(tmp_path):
    import shutil

    from optconform.reference.vectors import default_vector_dir

    copy = tmp_path / "vectors"
    shutil.copytree(default_vector_dir() / "sgd", copy / "sgd")
    shutil.copy(default_vector_dir() / "manifest.json", copy / "manifest.json")
    victim = sorted((copy / "sgd" / "spec").glob("*.json"))[0]
    text = victim.read_text()
    victim.write_text(text[: len(text) // 2])  # truncated
    proc = cli("check", "--adapter", "tests.toy_adapters:ExactAdapter", "--only", "sgd", "--vectors", str(copy),
               "--quiet")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and victim.name in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_check_reports_a_declared_finding_as_known_and_exits_0(tmp_path):
    proc = cli("check", "--adapter", "torch", "--only", "sgd", "--code-path", "compiled", "--scenario", "param_groups",
               "--dtype", "float32", "--quiet", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "KNOWN ERROR sgd-torch-param_groups-torch-compiled-cpu-float32" in proc.stdout
    case = json.loads((tmp_path / "r.json").read_text())["cases"][0]
    assert case["verdict"] == "error" and "SpeculationLogDivergence" in case["known_finding"]


def _one_step_results(adapter, algorithms=("adam", "sgd")):
    vectors = VectorCache(DIR)
    selection = Selection(algorithms=algorithms, modes=("one-step",))
    return [run_case(adapter, c, vectors) for c in plan(adapter, DIR, selection, vectors.manifest)]


def test_one_step_mode_passes_a_faithful_float64_implementation_with_a_one_step_bound():
    results = _one_step_results(toy_adapters.OneStepAdapter())
    assert results and all(r.mode == "one-step" and r.id.endswith("-one-step") for r in results)
    assert all(r.verdict == "pass" for r in results), [r.message for r in results if r.verdict != "pass"]
    # the bound does not grow with the step count: 8 ulps unless the step's own spread is larger
    long = [r for r in results if r.scenario == "long_run"]
    assert long and all(b == long[0].bounds_by_step[0] or b < 50 for r in long for b in r.bounds_by_step)


def test_one_step_mode_fails_a_1e_12_change_at_its_step():
    adapter = toy_adapters.PerturbedOneStepAdapter()
    results = [r for r in _one_step_results(adapter, ("adam",)) if r.scenario in ("probe", "defaults", "long_run")]
    assert results
    for r in results:
        assert r.verdict == "fail", r.id
        assert r.first_failing_step == adapter.at and r.diverged_first == "params"


def test_plan_offers_one_step_only_to_adapters_that_inject_state():
    vectors = VectorCache(DIR)
    selection = Selection(algorithms=("adam",), modes=("one-step",))
    assert not plan(toy_adapters.ExactAdapter(), DIR, selection, vectors.manifest)
    assert plan(toy_adapters.OneStepAdapter(), DIR, selection, vectors.manifest)
