"""``optconform check`` as the main job (the default HTML report, the machine a report comes from,
the divergence context of failing cases) and ``optconform report merge`` (several machines'
reports as one matrix). Reports come from the real command: torch over small selections, and a
port-style adapter that claims Keras's Adam profile; the merge's inputs are those reports and
edited copies of them."""
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from optconform.adapters import machine
from optconform.reference.vectors import default_vector_dir

ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}
KEY = ("algorithm", "profile", "scenario", "adapter", "code_path", "device", "dtype", "mode")

# a port that claims Keras's Adam profile and is off by a relative 1e-9 from step 3 on: every case fails
PORT = '''
from optconform.adapters.protocol import AdapterRun, Implementation
from optconform.reference.replay import case_from_vector
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run


class KerasAdamPort:
    name = "kport"
    framework = "kport"

    def available(self):
        return True, ""

    def version(self):
        return "1.0"

    def profiles(self):
        return {"adam": "keras"}

    def implementations(self, algorithm):
        return [Implementation(self.name, "plain", "cpu", "float64")]

    def run(self, doc, impl):
        steps = []
        for r in run(case_from_vector(doc, doc["profile"])):
            scale = 1 + 1e-9 * (r.t >= 3)
            steps.append({"t": r.t, "lr": [float(x) for x in r.lr], "state": {},
                          "params": {n: [float(x) * scale for x in p.data] for n, p in r.params.items()}})
        return AdapterRun(steps)
'''


def optconform(*args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", "optconform.adapters", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def key(case):
    return tuple(case[k] for k in KEY)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Two real torch reports over overlapping selections: sgd float32 on forloop and foreach (A),
    sgd and adam float32 on forloop (B)."""
    folder = tmp_path_factory.mktemp("reports")
    runs = {"A": ("--only", "sgd", "--code-path", "forloop", "--code-path", "foreach"),
            "B": ("--only", "sgd", "--only", "adam", "--code-path", "forloop")}
    out = {}
    for name, selection in runs.items():
        path = folder / f"{name}.json"
        proc = optconform("check", "--adapter", "torch", *selection, "--dtype", "float32", "--json", str(path),
                          "--quiet", "--no-html", cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[name] = path
    assert not (folder / "optconform-report").exists()  # --no-html
    return out


@pytest.fixture(scope="module")
def port_run(tmp_path_factory):
    """``optconform check`` with no report option, in a folder holding the port: (process, folder)."""
    folder = tmp_path_factory.mktemp("port")
    (folder / "kport.py").write_text(PORT)
    proc = optconform("check", "--adapter", "kport:KerasAdamPort", "--quiet", "--json", "port.json", cwd=folder)
    return proc, folder


def edited(src: Path, dst: Path, change) -> Path:
    doc = json.loads(src.read_text())
    change(doc)
    dst.write_text(json.dumps(doc))
    return dst


# --- check: the main job ----------------------------------------------------------------------------


def test_check_writes_the_html_report_by_default_and_names_it_last(port_run):
    proc, folder = port_run
    assert proc.returncode == 1, proc.stdout + proc.stderr  # every case of the port fails
    report = folder / "optconform-report" / "report.html"
    assert report.is_file()
    assert proc.stdout.strip().splitlines()[-1] == f"HTML report: {os.path.join('optconform-report', 'report.html')}"
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # no temporary file left behind
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text and not re.search(r'(?:src|href)="(?!data:|#)', text)
    assert "<h2>Machine</h2>" in text and socket.gethostname() in text


def test_html_gives_the_divergence_context_of_each_failing_case(port_run):
    from optconform.reference.catalog import catalog, largest
    from optconform.reference.catalog_page import size
    from optconform.reference.model import get

    proc, folder = port_run
    text = (folder / "optconform-report" / "report.html").read_text(encoding="utf-8")
    doc = json.loads((folder / "port.json").read_text())
    failing = [c for c in doc["cases"] if c["verdict"] == "fail"]
    assert failing and len(failing) == len(doc["cases"])
    assert text.count("Divergence context") == len(failing)
    alg = get("adam")
    keras, spec = alg.profiles["keras"], alg.profiles["spec"]
    differing = [a for a in alg.axes if keras.semantics[a] != spec.semantics[a]]
    assert differing  # Keras's Adam is not the spec's
    context = text[text.index("Divergence context"):]
    context = context[:context.index("</div>")]
    assert "profile <b>keras</b>" in context and keras.api in context
    for axis in differing:
        assert f"<code>{axis}</code> = {keras.semantics[axis]}" in context and f"spec: {spec.semantics[axis]}" in context
    # the catalog's measured size of each differing axis that matters for finite gradients
    entry = next(r for r in catalog(["adam"])["algorithms"][0]["differences"] if r["profile"] == "keras")
    for row in entry["axes"]:
        if not row["finite_only"]:
            assert f"{row['axis']} alone up to {size(largest(row['effect']))}" in context
    # the defaults that differ (Keras's ε)
    assert f"eps = {keras.defaults['eps']}" in context


def test_json_says_which_machine_and_which_vectors(reports):
    import torch

    summary = json.loads(reports["A"].read_text())["summary"]
    m = summary["machine"]
    assert m["hostname"] == socket.gethostname() and m["cpus"] == os.cpu_count()
    assert m["python"].startswith(platform.python_version()) and m["arch"] == platform.machine()
    assert m["frameworks"] == {"torch": torch.__version__}
    assert isinstance(m["gpus"], list) and m["cpu"]
    manifest = default_vector_dir() / "manifest.json"
    assert summary["vector_set"]["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert summary["vector_set"]["files"] == len(json.loads(manifest.read_text())["files"])


def test_gpu_names_come_from_the_nvidia_driver_files(tmp_path):
    for bus, model in (("0000:41:00.0", "NVIDIA H100 80GB HBM3"), ("0000:01:00.0", "NVIDIA A100-SXM4-40GB")):
        (tmp_path / "gpus" / bus).mkdir(parents=True)
        (tmp_path / "gpus" / bus / "information").write_text(f"Model: \t\t {model}\nIRQ:   \t\t 42\n")
    assert machine.nvidia_gpus(str(tmp_path)) == ["NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"]
    assert machine.nvidia_gpus(str(tmp_path / "absent")) == []


def test_html_and_no_html_together_is_one_line_error(tmp_path):
    proc = optconform("check", "--adapter", "torch", "--only", "sgd", "--html", "x.html", "--no-html", cwd=tmp_path)
    assert_one_line_error(proc, "--no-html")
    assert list(tmp_path.iterdir()) == []


def test_report_help():
    proc = optconform("report", "merge", "--help", cwd=None)
    assert proc.returncode == 0 and "disagrees" in proc.stdout and "examples:" in proc.stdout
    assert_one_line_error(optconform("report", cwd=None), "SUBCOMMAND")


# --- report merge ---------------------------------------------------------------------------------------


def merge(*files, cwd, outputs=True):
    out = Path(cwd)
    extra = ("--json", str(out / "m.json"), "--junit", str(out / "m.xml"), "--html", str(out / "m.html")) if outputs else ()
    proc = optconform("report", "merge", *map(str, files), *extra, cwd=cwd)
    doc = json.loads((out / "m.json").read_text()) if outputs and proc.returncode in (0, 1) else None
    return proc, doc


def test_merge_of_one_report_is_its_content(reports, tmp_path):
    original = json.loads(reports["A"].read_text())
    proc, doc = merge(reports["A"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [m["label"] for m in doc["machines"]] == ["A"]
    merged = [cell["cases"]["A"] for cell in doc["cells"]]
    assert sorted(merged, key=key) == sorted(original["cases"], key=key)
    assert all(set(cell["cases"]) == {"A"} for cell in doc["cells"])
    for v in ("pass", "fail", "error", "skip"):
        assert doc["summary"][v] == original["summary"][v]
    assert doc["disagreements"] == [] and doc["machines"][0]["machine"] == original["summary"]["machine"]
    junit = ET.parse(tmp_path / "m.xml").getroot()
    assert int(junit.get("tests")) == len(original["cases"])


def test_two_machines_overlap_in_the_matrix(reports, tmp_path):
    a, b = (json.loads(reports[n].read_text())["cases"] for n in "AB")
    proc, doc = merge(reports["A"], reports["B"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = {key(c): c for c in doc["cells"]}
    assert set(cells) == {key(c) for c in a} | {key(c) for c in b}
    shared = {key(c) for c in a} & {key(c) for c in b}
    assert shared and all(set(cells[k]["verdicts"]) == {"A", "B"} for k in shared)
    assert {c["algorithm"] for c in doc["cells"]} == {"sgd", "adam"}
    # columns: adapter × code path × device × dtype (× mode); rows: algorithm × scenario
    assert sorted(map(tuple, doc["columns"])) == sorted({(c["adapter"], c["code_path"], c["device"], c["dtype"],
                                                           c["mode"]) for c in a + b})
    assert sorted(map(tuple, doc["rows"])) == sorted({(c["algorithm"], c["scenario"]) for c in a + b})
    junit = ET.parse(tmp_path / "m.xml").getroot()
    suites = {s.get("name"): int(s.get("tests")) for s in junit.iter("testsuite")}
    assert suites == {"A": len(a), "B": len(b)}
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert 'class="disagree"' not in html and "<script" not in html
    assert html.count('class="m v-') == len(doc["cells"]) * 2  # one mark per cell and machine
    assert "0 cell(s) disagree" in proc.stdout


def test_a_changed_verdict_is_a_disagreement(reports, tmp_path):
    original = json.loads(reports["A"].read_text())
    victim = next(c for c in original["cases"] if c["verdict"] == "pass" and c["code_path"] == "foreach")

    def fail_one(doc):
        case = next(c for c in doc["cases"] if c["id"] == victim["id"])
        case.update(verdict="fail", message="edited: step 2 differs")
        doc["summary"]["machine"]["hostname"] = "other-host"

    (tmp_path / "gpu").mkdir()
    other = edited(reports["A"], tmp_path / "gpu" / "A.json", fail_one)
    proc, doc = merge(reports["A"], other, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    labels = [m["label"] for m in doc["machines"]]
    assert labels[1] == "gpu/A" and labels[0].endswith("/A") and len(set(labels)) == 2
    assert doc["disagreements"] == [victim["id"]]
    cell = next(c for c in doc["cells"] if c["disagree"])
    assert key(cell) == key(victim) and cell["verdicts"] == {labels[0]: "pass", labels[1]: "fail"}
    assert f"DISAGREE {victim['id']}" in proc.stdout and "1 cell(s) disagree" in proc.stdout
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert html.count('<td class="disagree">') == 1 and "other-host" in html
    failures = [tc for tc in ET.parse(tmp_path / "m.xml").getroot().iter("testcase") if tc.find("failure") is not None]
    assert len(failures) == 1 and "machines disagree" in failures[0].find("failure").get("message")
    assert failures[0].get("name").endswith(f"[{labels[1]}]")


def test_a_skip_is_not_a_disagreement_and_equal_passes_are_information(reports, tmp_path):
    original = json.loads(reports["A"].read_text())
    victim = next(c for c in original["cases"] if c["verdict"] == "pass")
    widened = next(c for c in original["cases"] if c["verdict"] == "pass" and c["id"] != victim["id"]
                   and isinstance(c["max_ulp"], float))

    def change(doc):
        for c in doc["cases"]:
            if c["id"] == victim["id"]:
                c.update(verdict="skip", message="no such kernel on this machine")
            if c["id"] == widened["id"]:
                c["max_ulp"] = widened["max_ulp"] + 3.0
    other = edited(reports["A"], tmp_path / "other.json", change)
    proc, doc = merge(reports["A"], other, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert doc["disagreements"] == []
    cell = next(c for c in doc["cells"] if c["id"] == widened["id"])
    assert cell["ulp_spread"] == [widened["max_ulp"], widened["max_ulp"] + 3.0]
    assert widened["id"] in proc.stdout  # the widest max_ulp spread is shown


def test_reports_of_another_optconform_version_merge_with_a_warning(reports, tmp_path):
    def other_version(doc):
        doc["summary"]["machine"]["optconform"] = "99.0"
    other = edited(reports["A"], tmp_path / "newer.json", other_version)
    proc, doc = merge(reports["A"], other, cwd=tmp_path)
    assert proc.returncode == 0 and "different optconform versions" in proc.stdout
    assert any("99.0" in w for w in doc["warnings"])


def _missing_field(doc):
    del doc["cases"][1]["max_ulp"]


def _other_vectors(doc):
    doc["summary"]["vector_set"]["manifest_sha256"] = "0" * 64


def _repeated_case(doc):
    doc["cases"].append(dict(doc["cases"][0]))


def _unknown_verdict(doc):
    doc["cases"][0]["verdict"] = "flaky"


def _no_summary(doc):
    del doc["summary"]


@pytest.mark.parametrize("change,fragment", [
    (_missing_field, "lacks max_ulp"),
    (_other_vectors, "another vector set"),
    (_repeated_case, "repeats case 0"),
    (_unknown_verdict, "unknown verdict 'flaky'"),
    (_no_summary, "not an optconform report"),
])
def test_malformed_or_incompatible_report_is_one_line_naming_it(reports, tmp_path, change, fragment):
    bad = edited(reports["A"], tmp_path / "bad.json", change)
    proc, _ = merge(reports["A"], bad, cwd=tmp_path)
    assert_one_line_error(proc, str(bad), fragment)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "m.html").exists()


@pytest.mark.parametrize("content,fragment", [
    ("this is not json\n", "not JSON"),
    (None, "truncated"),  # the first half of a real report
    ("", "empty"),
    ("[1, 2, 3]", "not an optconform report"),
    ('{"cases": {}, "summary": {}}', "must be a list"),
])
def test_a_file_that_is_not_a_report_is_one_line_naming_it(reports, tmp_path, content, fragment):
    if content is None:
        text = reports["A"].read_text()
        content = text[: len(text) // 2]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    proc, _ = merge(reports["A"], bad, cwd=tmp_path, outputs=False)
    assert_one_line_error(proc, str(bad), fragment)


def test_missing_file_twice_given_file_and_merged_output_as_input(reports, tmp_path):
    assert_one_line_error(merge(tmp_path / "nope.json", cwd=tmp_path, outputs=False)[0], "nope.json", "cannot read")
    assert_one_line_error(merge(reports["A"], reports["A"], cwd=tmp_path, outputs=False)[0], "given twice")
    proc, _ = merge(reports["A"], cwd=tmp_path)
    assert proc.returncode == 0
    merged = tmp_path / "merged.json"
    shutil.copy(tmp_path / "m.json", merged)
    assert_one_line_error(merge(merged, cwd=tmp_path, outputs=False)[0], "merged.json", "a merged report")


def test_merging_imports_no_framework(reports):
    code = ("import sys; from optconform.adapters.report_merge import merge, read, summary_lines, build_junit;"
            f"doc = merge(read([{str(reports['A'])!r}, {str(reports['B'])!r}])); summary_lines(doc); build_junit(doc);"
            "bad = [m for m in ('torch', 'jax', 'tensorflow', 'keras', 'matplotlib', 'numpy') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
