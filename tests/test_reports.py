"""The report writers of ``optconform check``: JUnit XML and the self-contained HTML report."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from optconform.adapters import report_html
from optconform.adapters.report_html import write_html
from optconform.adapters.report_junit import write_junit


def case(verdict, adapter="torch", algorithm="adam", code_path="foreach", dtype="float32", scenario="basic",
         **extra):
    c = dict(algorithm=algorithm, profile="pytorch", scenario=scenario, adapter=adapter, code_path=code_path,
             device="cpu", dtype=dtype, mode="trajectory", verdict=verdict, max_ulp=None, max_rel=None,
             first_failing_step=None, first_failing_element=None, diverged_first=None, bound_ulp=None,
             message="", diagnosis=None, declared_divergences=[], vector=f"{algorithm}/pytorch/{scenario}.json",
             seconds=0.25, errors_by_step=[], bounds_by_step=[])
    c.update(extra)
    c["id"] = "-".join(str(c[k]) for k in ("algorithm", "profile", "scenario", "adapter", "code_path", "device",
                                           "dtype"))
    return c


CASES = [
    case("pass", dtype="float64", max_ulp=0.5, max_rel=1e-8, errors_by_step=[0.0, 0.5], bounds_by_step=[2.0, 4.0]),
    case("fail", scenario="sparse_grad", max_ulp="inf", max_rel="inf", first_failing_step=3,
         first_failing_element="params.w[1]", diverged_first="params", bound_ulp=6.0,
         message="step 3, params params.w[1]: got 1.5, exact 1.25 (inf ulps > bound 6) <&>",
         errors_by_step=[0.0, 1.5, "inf", "nan", None, 12.0], bounds_by_step=[2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
         declared_divergences=["eps_placement"], diagnosis={"hint": "eps inside sqrt"}),
    case("error", adapter="jax", algorithm="sgd", code_path="default", message="ImportError: no module named jax",
         notes=["warning [jax._src.xla_bridge]: no GPU <found>", "worker output:\nFatal Python error: Aborted"]),
    case("skip", adapter="jax", algorithm="sgd", code_path="default", dtype="bfloat16",
         message="dtype bfloat16 not supported on cpu"),
]
SUMMARY = {"total": 4, "pass": 1, "fail": 1, "error": 1, "skip": 1, "seconds": 1.0,
           "adapters": {"torch": {"framework": "torch", "version": "2.4.0", "available": True, "reason": ""},
                        "jax": {"framework": "jax", "version": None, "available": False, "reason": "not installed"}},
           "environment": {"python": "3.11.7", "platform": "linux", "torch": "2.4.0", "cuda": "none"}}


def test_junit(tmp_path):
    path = tmp_path / "junit.xml"
    write_junit(path, CASES, SUMMARY)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "1", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"torch", "jax"}
    torch, jax = suites["torch"], suites["jax"]
    assert [torch.get(k) for k in ("tests", "failures", "errors", "skipped")] == ["2", "1", "0", "0"]
    assert [jax.get(k) for k in ("tests", "failures", "errors", "skipped")] == ["2", "0", "1", "1"]
    assert float(torch.get("time")) == pytest.approx(0.5)
    names = {(tc.get("classname"), tc.get("name")) for tc in torch.iter("testcase")}
    assert ("optconform.adam.pytorch", "sparse_grad-foreach-cpu-float32") in names
    failure = torch.find("testcase/failure")
    assert CASES[1]["message"] in failure.get("message")
    assert "first_failing_element: params.w[1]" in failure.text and "max_ulp: inf" in failure.text
    assert jax.find("testcase/error").get("message") == "ImportError: no module named jax"
    # a case's notes (warnings, log records, a dead worker's output) are its system-out; no notes, none
    assert [tc.find("system-out").text for tc in jax.iter("testcase") if tc.find("system-out") is not None] == \
        ["warning [jax._src.xla_bridge]: no GPU <found>\nworker output:\nFatal Python error: Aborted"]
    assert torch.find("testcase/system-out") is None
    assert jax.find("testcase/skipped").get("message") == "dtype bfloat16 not supported on cpu"
    props = {p.get("name"): p.get("value") for p in torch.iter("property")}
    assert props["python"] == "3.11.7" and props["adapter.version"] == "2.4.0"
    assert os.listdir(tmp_path) == ["junit.xml"]


def test_junit_control_characters_stay_valid_xml(tmp_path):
    path = tmp_path / "j.xml"
    write_junit(path, [case("fail", message="bad \x00\x1b byte")], {"environment": {}})
    assert ET.parse(path).getroot().find("testsuite/testcase/failure").get("message") == "bad \ufffd\ufffd byte"


def _matrix_cells(text):
    table = text[text.index('<table class="matrix"'):]
    table = table[:table.index("</table>")]
    return re.findall(r'<td class="(cell-[a-z]+)">(.*?)</td>', table)


def test_html(tmp_path):
    path = tmp_path / "report.html"
    write_html(path, CASES, SUMMARY)
    assert os.listdir(tmp_path) == ["report.html"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # self-contained: no external resource anywhere (links, scripts, stylesheets, images, CSS url())
    assert "http://" not in text and "https://" not in text
    assert not re.search(r'(?:src|href)="(?!data:|#)', text)
    assert "<script" not in text and "<link" not in text and "url(" not in text
    # one embedded plot, for the failing case only
    assert text.count("data:image/png;base64,") == 1
    # every failing and error case has its details, with its id and the (escaped) message
    assert CASES[1]["id"] in text and CASES[2]["id"] in text
    assert "&lt;&amp;&gt;" in text and "<&>" not in text
    assert "ImportError: no module named jax" in text
    assert "no GPU &lt;found&gt;" in text and "Fatal Python error: Aborted" in text  # the error case's notes
    # the matrix: adam × (foreach, float64) one pass → green; adam × (foreach, float32) one fail → red,
    # linking to its details; sgd × (default, float32) one error → orange;
    # sgd × (default, bfloat16) one skip → grey
    cells = _matrix_cells(text)
    classes = [c for c, _ in cells]
    assert {"cell-pass", "cell-fail", "cell-error", "cell-skip"} <= set(classes)
    assert dict(cells)["cell-pass"] == "1 / 0 / 0 / 0"
    fail_cell = dict(cells)["cell-fail"]
    assert "0 / 1 / 0 / 0" in fail_cell
    target = re.search(r'href="#([^"]+)"', fail_cell).group(1)
    assert f'id="{target}"' in text
    # the summary header: versions and environment
    assert "2.4.0" in text and "not installed" in text and "3.11.7" in text


def test_html_all_pass_is_green(tmp_path):
    path = tmp_path / "r.html"
    write_html(path, [case("pass"), case("pass", scenario="other"), case("skip", scenario="third")], SUMMARY)
    cells = _matrix_cells(path.read_text(encoding="utf-8"))
    assert cells == [("cell-pass", "2 / 0 / 0 / 1")]
    assert "data:image/png;base64," not in path.read_text(encoding="utf-8")


def test_plot_handles_inf_nan_none_and_zero():
    png = report_html.plot_png(CASES[1])
    assert png.startswith("iVBORw0KGgo")  # base64 of the PNG signature
    assert report_html.plot_png(case("fail", errors_by_step=["inf", "nan", None], bounds_by_step=[0.0]))


def test_plots_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "MAX_PLOTS", 2)
    many = [case("fail", scenario=f"s{i}", message=f"m{i}", errors_by_step=[1.0, 9.0], bounds_by_step=[2.0, 4.0])
            for i in range(4)]
    path = tmp_path / "r.html"
    write_html(path, many, {"total": 4})
    text = path.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 2
    assert "plots are shown for the first 2 only" in text
    assert all(c["id"] in text for c in many)


@pytest.mark.parametrize("writer", [write_junit, write_html])
def test_missing_folder_is_created(tmp_path, writer):
    path = tmp_path / "new" / "deeper" / "report.out"
    writer(path, CASES, SUMMARY)
    assert path.is_file() and os.listdir(path.parent) == ["report.out"]


@pytest.mark.parametrize("writer", [write_junit, write_html])
def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, writer, monkeypatch):
    path = tmp_path / "report.out"
    path.write_text("old")

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        writer(path, CASES, SUMMARY)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["report.out"]


def test_writers_import_no_heavy_package():
    code = ("import sys, optconform.adapters.report_html, optconform.adapters.report_junit;"
            "print(sorted(m for m in ('matplotlib', 'numpy', 'torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
