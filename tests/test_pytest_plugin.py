"""The pytest plugin, used the way a framework port's CI would use it (pytester runs a fresh pytest)."""
import importlib.util

import pytest

pytest_plugins = ["pytester"]

TEST_FILE = """
def test_optconform(optconform_case):
    optconform_case.check()
"""


def test_a_port_runs_its_cases_with_readable_ids(pytester):
    pytester.makepyfile(test_port=TEST_FILE)
    result = pytester.runpytest("-p", "optconform.adapters.pytest_plugin", "--optconform-adapter",
                                "tests.toy_adapters:ExactAdapter", "--optconform-only", "adam",
                                "--optconform-scenario", "probe", "--optconform-scenario", "tiny_grad", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_optconform?adam-spec-probe-exact-replay-cpu-float64? PASSED*"])


def test_a_non_conforming_port_fails_with_the_checker_message(pytester):
    pytester.makepyfile(test_port=TEST_FILE)
    result = pytester.runpytest("-p", "optconform.adapters.pytest_plugin", "--optconform-adapter",
                                "tests.toy_adapters:BrokenAdapter", "--optconform-only", "adam",
                                "--optconform-scenario", "probe", "--optconform-scenario", "maximize",
                                "--optconform-scenario", "defaults")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*kernel exploded*"])


def test_a_bad_adapter_name_is_a_usage_error(pytester):
    pytester.makepyfile(test_port=TEST_FILE)
    result = pytester.runpytest("-p", "optconform.adapters.pytest_plugin", "--optconform-adapter", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown adapter 'nosuch'*"])


def test_a_failure_says_what_the_diagnosis_names(pytester):
    pytester.makepyfile(test_port=TEST_FILE)
    result = pytester.runpytest("-p", "optconform.adapters.pytest_plugin", "--optconform-adapter",
                                "tests.toy_adapters:StepShiftedAdapter", "--optconform-only", "adam",
                                "--optconform-scenario", "probe")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*adam-spec-probe-step_shifted*: fail: step 1*; diagnosis: *step*"])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_a_declared_finding_is_not_diagnosed_in_the_suite_but_is_in_check():
    """The suite decides a declared finding's expected failure by its verdict alone, so it spends no
    time diagnosing it; ``check`` (run_case) still diagnoses the same case for its report."""
    from optconform.adapters.harness import Selection, VectorCache, plan, run_case
    from optconform.adapters.pytest_plugin import ConformanceCase
    from optconform.adapters.registry import load
    from optconform.reference.vectors import default_vector_dir

    adapter, vectors = load("torch"), VectorCache(default_vector_dir())
    selection = Selection(algorithms=("asgd",), scenarios=("inf_grad",), code_paths=("foreach",), dtypes=("float64",))
    [case] = plan(adapter, vectors.directory, selection, vectors.manifest)
    conformance = ConformanceCase(adapter, case, vectors, target="torch")
    assert conformance.declared_findings()
    suite = conformance.run()
    assert suite.verdict == "fail" and suite.known_finding and suite.diagnosis is None
    checked = run_case(adapter, case, vectors)
    assert checked.verdict == "fail" and checked.known_finding and checked.diagnosis
