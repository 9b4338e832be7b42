"""Faults cost the faulty case alone: a worker that dies, a case that hangs (asleep or busy in C),
an adapter that cannot be imported or says it is unavailable, framework noise; and ``module:attr``
adapters import from the current directory. Run through the real command line (tests/fault_adapters.py)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from optconform.adapters.harness import Selection, plan
from optconform.adapters.workers import Pool
from optconform.reference import vectors as V

from . import fault_adapters, toy_adapters

ROOT = Path(__file__).resolve().parent.parent
DIR = V.default_vector_dir()
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}
FAULTY = fault_adapters.FAULTY_SCENARIO
WARN_LINE = next(i for i, line in enumerate(Path(fault_adapters.__file__).read_text().splitlines(), 1)
                 if "warnings.warn(" in line)

pytest_plugins = ["pytester"]


def check(*args, cwd=ROOT, command=(sys.executable, "-m", "optconform.adapters"), timeout=240):
    """``optconform check ... --quiet --json``: (process, report or None, wall seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        start = time.monotonic()
        proc = subprocess.run([*command, "check", *args, "--quiet", "--json", str(report)], cwd=cwd, env=ENV,
                              capture_output=True, text=True, timeout=timeout)
        seconds = time.monotonic() - start
        doc = json.loads(report.read_text()) if report.exists() else None
    return proc, doc, seconds


def exact_ids(algorithm="adam"):
    """The ids of the cases an exact adapter has, with this adapter's name."""
    adapter = toy_adapters.ExactAdapter()
    return {c.id for c in plan(adapter, DIR, Selection(algorithms=(algorithm,)))}


def split(doc):
    faulty = [c for c in doc["cases"] if c["scenario"] == FAULTY]
    others = [c for c in doc["cases"] if c["scenario"] != FAULTY]
    return faulty, others


def assert_only_the_faulty_case_errs(doc, name):
    faulty, others = split(doc)
    assert len(faulty) == 1 and faulty[0]["verdict"] == "error", faulty
    assert {c["id"].replace(f"-{name}-", "-exact-") for c in doc["cases"]} == exact_ids()
    assert others and all(c["verdict"] == "pass" for c in others), [(c["id"], c["message"]) for c in others
                                                                    if c["verdict"] != "pass"]
    return faulty[0]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_worker_killed_by_sigabrt_costs_only_its_case(jobs):
    proc, doc, _ = check("--adapter", "tests.fault_adapters:AbortAdapter", "--only", "adam", "--jobs", jobs)
    assert proc.returncode == 1, proc.stderr
    case = assert_only_the_faulty_case_errs(doc, "abort")
    assert case["message"].startswith("the worker process died (signal SIGABRT) while running this case")
    assert "fault_adapters.py" in case["message"]  # where: faulthandler's traceback, innermost frame
    assert any("Fatal Python error: Aborted" in n for n in case["notes"])
    assert f"ERROR {case['id']}: the worker process died (signal SIGABRT)" in proc.stdout
    assert "Fatal Python error" not in proc.stderr  # the crash output is in the report, not on the terminal


@pytest.mark.parametrize("name, fragment", [("ExitAdapter", "the worker process died (exit code 3) while running"),
                                            ("SysExitAdapter", "SystemExit: 4")])
def test_a_case_that_exits_costs_only_itself(name, fragment):
    proc, doc, _ = check("--adapter", f"tests.fault_adapters:{name}", "--only", "adam", "--jobs", "1")
    assert proc.returncode == 1, proc.stderr
    case = assert_only_the_faulty_case_errs(doc, doc["cases"][0]["adapter"])
    assert fragment in case["message"]


@pytest.mark.parametrize("name", ["SleepAdapter", "BusyAdapter"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_hanging_case_times_out_and_the_run_goes_on(name, jobs):
    proc, doc, seconds = check("--adapter", f"tests.fault_adapters:{name}", "--only", "adam", "--jobs", jobs,
                               "--timeout", "2")
    assert proc.returncode == 1, proc.stderr
    case = assert_only_the_faulty_case_errs(doc, doc["cases"][0]["adapter"])
    assert case["message"].startswith("timed out after 2 s")
    # the stack the worker wrote when it was stopped names where it hung (the C regex engine: re's match)
    assert "in fault_adapters.py" in case["message"] or "in match" in case["message"], case["message"]
    assert any(n.startswith("stack when stopped:") and "fault_adapters.py" in n for n in case["notes"])
    assert 2 <= case["seconds"] < 10
    assert seconds < 60
    assert doc["summary"]["timeout"] == 2


def test_the_rest_of_a_piece_runs_in_a_fresh_worker():
    """One piece of every adam case with the aborting one in the middle: the cases after it get
    their real verdicts from a second worker."""
    adapter = fault_adapters.AbortAdapter()
    cases = plan(adapter, DIR, Selection(algorithms=("adam",)))
    cases.sort(key=lambda c: c.scenario != FAULTY)
    cases.insert(len(cases) // 2, cases.pop(0))
    target = "tests.fault_adapters:AbortAdapter"
    seen = []
    with Pool(DIR, jobs=1, timeout=60) as pool:
        results = pool.run([[(i, target, c) for i, c in enumerate(cases)]], len(cases),
                           lambda i, r: seen.append(i))
        assert pool.serial == 2  # the dead worker was replaced once
    assert sorted(seen) == list(range(len(cases)))
    for case, result in zip(cases, results):
        assert result.id == case.id
        assert result.verdict == ("error" if case.scenario == FAULTY else "pass"), (result.id, result.message)


def test_workers_are_reused_across_cases():
    """Every case of a clean run goes through one worker: what it loads is loaded once."""
    cases = plan(toy_adapters.ExactAdapter(), DIR, Selection(algorithms=("adam", "sgd")))
    with Pool(DIR, jobs=1, timeout=60) as pool:
        results = pool.run([[(i, "tests.toy_adapters:ExactAdapter", c) for i, c in enumerate(cases)]], len(cases))
        assert pool.serial == 1
    assert all(r.verdict == "pass" for r in results)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cases_run_in_workers_started_with_their_environment(jobs):
    """An adapter's worker_environment: every case runs in a worker started with its own (the
    adapter raises otherwise), and a worker never serves two environments."""
    proc, doc, _ = check("--adapter", "tests.fault_adapters:EnvironmentAdapter", "--only", "adam", "--only", "sgd",
                         "--jobs", jobs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    environments = {}
    for case in doc["cases"]:
        assert case["verdict"] == "pass", (case["id"], case["message"])
        (pid,) = [n for n in case["notes"] if n.startswith("pid ")]
        environments.setdefault(pid, set()).add(case["code_path"])
    assert all(len(paths) == 1 for paths in environments.values()), environments
    assert {p for paths in environments.values() for p in paths} == set(fault_adapters.EnvironmentAdapter.CODE_PATHS)
    assert len(environments) <= 3 * int(jobs)  # each environment's workers start once, not per piece


def test_a_conformance_case_needing_another_environment_runs_in_a_worker_with_it():
    """The conformance suite runs cases in its own process, except those whose adapter needs an
    environment it lacks (Keras on another backend): those go to a worker started with it."""
    from optconform.adapters.harness import VectorCache
    from optconform.adapters.pytest_plugin import ConformanceCase

    adapter = fault_adapters.EnvironmentAdapter()
    vectors = VectorCache(DIR)
    cases = [c for c in plan(adapter, DIR, Selection(algorithms=("sgd",))) if c.scenario != FAULTY][:3]
    target = "tests.fault_adapters:EnvironmentAdapter"
    pids = set()
    for case in cases:
        result = ConformanceCase(adapter, case, vectors, target).run()
        assert result.verdict == "pass", result.message
        pids.update(n for n in result.notes if n.startswith("pid "))
    assert f"pid {os.getpid()}" not in pids
    with pytest.raises(RuntimeError, match="ran in a worker started for None"):
        adapter.run(vectors.doc(cases[0].rel)[0], cases[0].impl)  # what running it here would do


def test_pieces_carry_the_adapters_environment_and_affinity():
    """harness._chunks: every piece holds cases of one environment and, where the adapter declares
    an affinity (what its compiled programs are keyed on), of one affinity."""
    from optconform.adapters.harness import _chunks

    class Affine(fault_adapters.EnvironmentAdapter):
        def affinity(self, impl):
            return (impl.code_path, impl.dtype)

    for adapter, has_affinity in ((fault_adapters.EnvironmentAdapter(), False), (Affine(), True)):
        cases = plan(adapter, DIR, Selection(algorithms=("adam", "sgd")))
        pieces = _chunks([("t", adapter, c) for c in cases], jobs=2)
        assert sorted(i for p in pieces for i, _, _ in p) == list(range(len(cases)))
        for piece in pieces:
            (path,) = {c.impl.code_path for _, _, c in piece}
            assert piece.env == {fault_adapters.ENVIRONMENT_VARIABLE: path}
            assert piece.affinity == (("t", path, "float64") if has_affinity else None)


@pytest.mark.parametrize("name,fragment", [("BatchAbortAdapter", "died (signal SIGABRT)"),
                                            ("BatchRaiseAdapter", "ValueError: probe fails")])
def test_a_faulty_case_in_a_batch_costs_only_itself(name, fragment):
    """Cases an adapter runs as one batch: when the batch dies or raises, its cases run again
    alone, so the faulty case is the only error and every other case has its real verdict."""
    proc, doc, _ = check("--adapter", f"tests.fault_adapters:{name}", "--only", "adam", "--jobs", "1")
    assert proc.returncode == 1, proc.stderr
    faulty = assert_only_the_faulty_case_errs(doc, fault_adapters.__dict__[name].name)
    assert fragment in faulty["message"]


def test_cases_of_equal_batch_key_run_as_one_batch():
    """With no fault in it, every case of the batch passes and says it ran in the batch."""
    proc, doc, _ = check("--adapter", "tests.fault_adapters:BatchAdapter", "--only", "sgd", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    batched = [c for c in doc["cases"] if any(n.startswith("batch of ") for n in c["notes"])]
    assert batched and all(c["verdict"] == "pass" for c in doc["cases"])
    assert len(batched) == len(doc["cases"])


def test_batching_can_be_turned_off():
    env = dict(ENV, OPTCONFORM_BATCH="off")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "r.json"
        proc = subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--adapter",
                               "tests.fault_adapters:BatchAdapter", "--only", "sgd", "--quiet", "--json",
                               str(report)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
        cases = json.loads(report.read_text())["cases"]
    assert cases and not any(n.startswith("batch of ") for c in cases for n in c["notes"])


def _port_folder(tmp_path):
    """A port's folder: myport.py (the toy adapters), broken_port.py and raising_port.py."""
    shutil.copy(Path(toy_adapters.__file__), tmp_path / "myport.py")
    (tmp_path / "broken_port.py").write_text(fault_adapters.IMPORT_FAILS)
    (tmp_path / "raising_port.py").write_text(fault_adapters.IMPORT_RAISES)
    return tmp_path


def optconform_script():
    script = Path(sys.executable).parent / "optconform"
    assert script.exists(), script
    return (str(script),)


def test_module_attr_adapters_import_from_the_current_directory(tmp_path):
    folder = _port_folder(tmp_path)
    for jobs in ("1", "2"):
        proc, doc, _ = check("--adapter", "myport:ExactAdapter", "--only", "adam", "--jobs", jobs, cwd=folder,
                             command=optconform_script())
        assert proc.returncode == 0, proc.stderr
        assert {c["id"] for c in doc["cases"]} == exact_ids()
        assert all(c["verdict"] == "pass" for c in doc["cases"])


def test_unimportable_adapters_are_reported_and_the_others_run(tmp_path):
    folder = _port_folder(tmp_path)
    proc, doc, _ = check("--adapter", "broken_port:Adapter", "--adapter", "raising_port:Adapter", "--adapter",
                         "myport:ExactAdapter", "--only", "adam", cwd=folder, command=optconform_script())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "adapter broken_port:Adapter is unavailable" in lines[0]
    assert "No module named 'optconform_fakeframework_that_is_not_installed'" in lines[0]
    assert "adapter raising_port:Adapter is unavailable" in lines[1]
    assert "RuntimeError: CUDA driver initialization failed" in lines[1]
    adapters = doc["summary"]["adapters"]
    assert adapters["broken_port:Adapter"]["available"] is False
    assert "optconform_fakeframework_that_is_not_installed" in adapters["broken_port:Adapter"]["reason"]
    assert adapters["raising_port:Adapter"]["available"] is False
    assert adapters["exact"]["available"] is True
    assert {c["id"] for c in doc["cases"]} == exact_ids() and all(c["verdict"] == "pass" for c in doc["cases"])


def test_one_named_unimportable_adapter_is_exit_2_with_one_line(tmp_path):
    folder = _port_folder(tmp_path)
    proc, doc, _ = check("--adapter", "broken_port:Adapter", cwd=folder, command=optconform_script())
    assert proc.returncode == 2 and doc is None
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "adapter broken_port:Adapter is unavailable: importing broken_port failed: ModuleNotFoundError" in lines[0]


def test_no_adapter_that_can_run_is_exit_2_with_one_line(tmp_path):
    folder = _port_folder(tmp_path)
    proc, _, _ = check("--adapter", "broken_port:Adapter", "--adapter", "raising_port:Adapter", cwd=folder,
                       command=optconform_script())
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no adapter can run" in lines[0] and "Traceback" not in proc.stderr
    assert "broken_port:Adapter" in lines[0] and "raising_port:Adapter" in lines[0]


def test_available_false_or_raising_is_unavailable_and_the_others_run():
    proc, doc, _ = check("--adapter", "tests.fault_adapters:UnavailableAdapter", "--adapter",
                         "tests.fault_adapters:RaisingAvailableAdapter", "--adapter", "tests.toy_adapters:ExactAdapter",
                         "--only", "adam")
    assert proc.returncode == 0, proc.stderr
    adapters = doc["summary"]["adapters"]
    assert adapters["unavailable"] == {"framework": "reference", "available": False, "version": None,
                                       "reason": fault_adapters.UnavailableAdapter().available()[1]}
    assert adapters["raising"]["available"] is False
    assert adapters["raising"]["reason"] == ("available() raised OSError: libcudart.so.12: cannot open shared "
                                             "object file")
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "adapter unavailable is unavailable" in lines[0] and "adapter raising" in lines[1]
    assert {c["adapter"] for c in doc["cases"]} == {"exact"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_framework_noise_stays_off_the_terminal_and_warnings_become_notes(jobs):
    proc, doc, _ = check("--adapter", "tests.fault_adapters:NoisyAdapter", "--only", "adam", "--jobs", jobs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOISE" not in proc.stdout and proc.stderr == ""
    assert proc.stdout.splitlines()[0].startswith("adapter algorithm")
    for case in doc["cases"]:
        scenario = case["scenario"]
        assert case["notes"] == [f"warning [fakeframework]: recompiling for {scenario}",
                                 f"warning [fakeframework._dynamo]: graph break in {scenario}",
                                 f"UserWarning: fake deprecation in {scenario} (fault_adapters.py:{WARN_LINE})"], \
            case["notes"]


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_timeout_is_exit_2_with_one_line(value):
    proc, _, _ = check("--adapter", "tests.toy_adapters:ExactAdapter", f"--timeout={value}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--timeout" in lines[0] and "Traceback" not in proc.stderr


TEST_FILE = """
def test_optconform(optconform_case):
    optconform_case.check()
"""


def test_the_pytest_plugin_bounds_a_hang_and_survives_a_crash(pytester):
    pytester.makepyfile(test_port=TEST_FILE)
    pytester.syspathinsert(ROOT)
    result = pytester.runpytest("-p", "optconform.adapters.pytest_plugin", "--optconform-timeout", "2",
                                "--optconform-adapter", "tests.fault_adapters:BusyAdapter",
                                "--optconform-adapter", "tests.fault_adapters:AbortAdapter",
                                "--optconform-only", "adam", "--optconform-scenario", FAULTY,
                                "--optconform-scenario", "tiny_grad", "--optconform-mode", "trajectory")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*adam-spec-probe-busy-replay-cpu-float64: error: timed out after 2 s*"])
    result.stdout.fnmatch_lines(["*adam-spec-probe-abort-replay-cpu-float64: error: the worker process died "
                                 "(signal SIGABRT)*"])


def test_a_worker_with_too_many_memory_mappings_retires_and_costs_no_case(monkeypatch):
    """A worker past OPTCONFORM_WORKER_MAPPINGS (here 1: every worker) leaves after each case; the
    cases it was handed but had not run go to a fresh worker, and every case passes."""
    monkeypatch.setenv("OPTCONFORM_WORKER_MAPPINGS", "1")
    cases = plan(toy_adapters.ExactAdapter(), DIR, Selection(algorithms=("sgd",)))[:4]
    with Pool(DIR, jobs=1, timeout=60) as pool:
        results = pool.run([[(i, "tests.toy_adapters:ExactAdapter", c) for i, c in enumerate(cases)]], len(cases))
        assert pool.serial == len(cases)  # one worker per case
    assert [r.id for r in results] == [c.id for c in cases]
    assert all(r.verdict == "pass" for r in results), [(r.id, r.message) for r in results]
