"""The pytest plugin, used the way a framework port's CI would use it (pytester runs a fresh pytest)."""
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
