"""``optconform report merge``: the JSON reports of several machines as one matrix.

A port's CI runs ``optconform check --json`` on many machines (CPU, several GPU types, framework
versions). This module reads those reports (``audit --json`` writes the same shape), checks that
they can be compared, and merges them:

* a **cell** is one implementation checked on one vector: (algorithm, profile, scenario, adapter,
  code_path, device, dtype, mode) — the case's identity without the machine;
* a **machine** is one report, labelled by its file name without ``.json`` (with as many parent
  folders as it takes to tell the files apart: ``a100/report``, ``cpu/report``); its
  ``summary.machine`` (machine.py) says what it was;
* the **matrix**: rows algorithm × scenario, columns adapter × code path × device × dtype (× mode),
  and in each cell one verdict per machine.

**The same implementation disagrees across machines** when one cell has different verdicts on two
machines where it ran: the set of its verdicts other than ``skip`` — ``pass``, ``fail``, ``error``
— has more than one member. A ``skip`` means the case did not run on that machine (a dtype or code
path the machine does not offer), so it has no verdict to disagree with; a cell absent from a
report was not run there. A failure that the profile declares as a finding (``known_finding``) is a
``fail`` like any other here: a finding that holds on one machine and not on another is a
disagreement. Where every machine passes, the spread of ``max_ulp`` (its least and greatest
value) is information, not a verdict: two machines may round differently within the tolerance.

Compatibility: every report must be an object with ``cases`` (a list) and ``summary`` (an
object), and every case must have the fields of the JSON contract (DESIGN.md) with a known
verdict; one case twice in a report is malformed too. Reports checked against different vector
sets (``summary.vector_set.manifest_sha256``: the digest of the vectors' manifest) are refused:
their cells compare different expectations, so a different verdict would say nothing about the
machines. Reports of different optconform versions over the same vectors are merged, with a
warning (the checker may have changed). A report that does not say which vectors it used (written
before the field existed) is merged with a warning. Any of these problems: exit status 2 and one
line naming the file.

Exit status of the merge: 0 when no cell disagrees and every case passes or is skipped (a failure
or error covered by a declared finding counts as passing, as in ``optconform check``), 1 otherwise.

Outputs: :func:`merge` gives the merged JSON document; :func:`summary_lines` the terminal summary
and the list of disagreements; :func:`render_html` the matrix as one self-contained HTML file;
:func:`build_junit` one testcase per cell and machine. Imports no framework.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from optconform.reference import UserError, __version__

from .report_html import _fmt, finite_float

FORMAT = "optconform-merge/1"
KEY = ("algorithm", "profile", "scenario", "adapter", "code_path", "device", "dtype", "mode")
REQUIRED = KEY + ("verdict", "max_ulp", "max_rel", "first_failing_step", "diagnosis")
VERDICTS = ("pass", "fail", "error", "skip")
RAN = ("pass", "fail", "error")
SHOWN = 30  # disagreements (and failures) listed on the terminal before "... and N more"


@dataclass
class Report:
    label: str
    path: str
    cases: list
    summary: dict


# --- reading and validating ------------------------------------------------------------------------


def _bad(path, what: str) -> UserError:
    return UserError(f"{path}: {what}")


def _number_or_null(value) -> bool:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    if isinstance(value, str):  # check --json writes inf and nan as strings
        try:
            float(value)
            return True
        except ValueError:
            return False
    return False


def validate(path, doc) -> None:
    """Raise a one-line UserError naming ``path`` unless ``doc`` is a report of the JSON contract."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        raise _bad(path, "a merged report (report merge --json), not one machine's: merge the machines' own reports")
    if not isinstance(doc, dict) or "cases" not in doc or "summary" not in doc:
        raise _bad(path, 'not an optconform report: expected a JSON object with "cases" and "summary" '
                         "(what 'optconform check --json' writes)")
    if not isinstance(doc["cases"], list) or not isinstance(doc["summary"], dict):
        raise _bad(path, 'not an optconform report: "cases" must be a list and "summary" an object')
    seen: dict = {}
    for i, case in enumerate(doc["cases"]):
        if not isinstance(case, dict):
            raise _bad(path, f"case {i} is not an object")
        where = f"case {i}" + (f" ({case['id']})" if isinstance(case.get("id"), str) else "")
        missing = [k for k in REQUIRED if k not in case]
        if missing:
            raise _bad(path, f"{where} lacks {', '.join(missing)} (a report of another format or a truncated edit)")
        wrong = [k for k in KEY if not isinstance(case[k], str)]
        if wrong:
            raise _bad(path, f"{where}: {', '.join(wrong)} must be strings")
        if case["verdict"] not in VERDICTS:
            raise _bad(path, f"{where}: unknown verdict {case['verdict']!r} (one of {', '.join(VERDICTS)})")
        for k in ("max_ulp", "max_rel"):
            if not _number_or_null(case[k]):
                raise _bad(path, f"{where}: {k} must be a number or null, got {case[k]!r}")
        key = tuple(case[k] for k in KEY)
        if key in seen:
            raise _bad(path, f"{where} repeats case {seen[key]}: the same {', '.join(KEY)}")
        seen[key] = i


def load(path) -> dict:
    """The report at ``path``, validated; a UserError naming the file otherwise."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise _bad(path, f"cannot read it: {exc.strerror or exc}") from None
    if not data.strip():
        raise _bad(path, "not an optconform report: the file is empty")
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise _bad(path, "not an optconform report: not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        truncated = ("; it ends mid-document: truncated?"
                     if exc.msg != "Extra data" and not data.rstrip().endswith((b"}", b"]")) else "")
        raise _bad(path, f"not an optconform report: not JSON ({exc.msg}: line {exc.lineno}, column "
                         f"{exc.colno}{truncated})") from None
    except RecursionError:
        raise _bad(path, "not an optconform report: JSON nested too deeply") from None
    validate(path, doc)
    return doc


def labels(paths: list) -> list:
    """A short distinct label per path: the file name without ``.json``, with as many parent folders
    as it takes to tell them apart. A file given twice is a UserError."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    first: dict = {}
    for p, r in zip(paths, resolved):
        if r in first:
            raise UserError(f"{p}: given twice" + (f" (also as {first[r]})" if str(first[r]) != str(p) else ""))
        first[r] = p
    parts = [list(r.with_suffix("").parts) if r.suffix == ".json" else list(r.parts) for r in resolved]
    depth = 1
    while True:
        out = ["/".join(p[-depth:]) for p in parts]
        if len(set(out)) == len(out) or depth > max(len(p) for p in parts):
            return out
        depth += 1


def read(paths: list) -> list:
    """The reports at ``paths``, labelled, validated and checked for compatibility (module docstring)."""
    if not paths:
        raise UserError("report merge: give at least one report (the JSON of 'optconform check --json')")
    reports = [Report(label, str(p), doc["cases"], doc["summary"])
               for label, p, doc in ((lbl, p, load(p)) for lbl, p in zip(labels(paths), paths))]
    base = next((r for r in reports if _vector_digest(r)), None)
    for r in reports:
        digest = _vector_digest(r)
        if base and digest and digest != _vector_digest(base):
            raise _bad(r.path, f"checked against another vector set than {base.path} (manifest SHA-256 "
                               f"{digest[:12]}… against {_vector_digest(base)[:12]}…, generators "
                               f"{_vector_field(r, 'generator')} and {_vector_field(base, 'generator')}): "
                               "merge reports of one vector set")
    return reports


def _vector_digest(report: Report):
    return _vector_field(report, "manifest_sha256")


def _vector_field(report: Report, name: str):
    vs = report.summary.get("vector_set")
    return vs.get(name) if isinstance(vs, dict) else None


def _version(report: Report):
    for where in ("machine", "environment"):
        part = report.summary.get(where)
        if isinstance(part, dict) and part.get("optconform"):
            return str(part["optconform"])
    return None


def warnings(reports: list) -> list:
    """What the merge should say about its inputs without refusing them."""
    out = []
    versions = {r.label: _version(r) for r in reports}
    if len({v for v in versions.values() if v}) > 1:
        out.append("the reports come from different optconform versions ("
                   + ", ".join(f"{k}: {v}" for k, v in versions.items()) + "): a difference may be the checker's")
    for r in reports:
        if not _vector_digest(r):
            out.append(f"{r.path} does not say which vector set it was checked against (a report written before "
                       "summary.vector_set existed): assumed to be the same as the others")
    return out


# --- merging ------------------------------------------------------------------------------------------


def cell_id(key: tuple) -> str:
    """A cell's id: the case id (harness.Case.id) without the machine."""
    cell = dict(zip(KEY, key))
    suffix = "" if cell["mode"] == "trajectory" else f"-{cell['mode']}"
    return "-".join(cell[k] for k in KEY[:-1]) + suffix


def disagrees(verdicts: dict) -> bool:
    """Whether a cell's verdicts ({machine: verdict}) disagree: more than one of pass/fail/error."""
    return len({v for v in verdicts.values() if v in RAN}) > 1


def ulp_spread(cases: dict) -> list | None:
    """[least, greatest] ``max_ulp`` of a cell that passes on at least two machines and nowhere else
    runs; None otherwise."""
    ran = [c for c in cases.values() if c["verdict"] in RAN]
    if len(ran) < 2 or any(c["verdict"] != "pass" for c in ran):
        return None
    values = [finite_float(c["max_ulp"]) for c in ran]
    if any(v is None for v in values):
        return None
    return [min(values), max(values)]


def _passes(case: dict) -> bool:
    """Pass, skip, or a failure or error the profile declares as a finding (check's exit status)."""
    return case["verdict"] in ("pass", "skip") or bool(case.get("known_finding"))


def merge(reports: list) -> dict:
    """The merged document (see the module docstring)."""
    cells: dict = {}
    for r in reports:
        for case in r.cases:
            cells.setdefault(tuple(case[k] for k in KEY), {})[r.label] = case
    out_cells = []
    disagreements = []
    counts = dict.fromkeys((*VERDICTS, "known"), 0)
    for key in sorted(cells):
        cases = {r.label: cells[key][r.label] for r in reports if r.label in cells[key]}
        verdicts = {m: c["verdict"] for m, c in cases.items()}
        for c in cases.values():
            counts[c["verdict"]] += 1
            counts["known"] += bool(c.get("known_finding"))
        cid = cell_id(key)
        differ = disagrees(verdicts)
        if differ:
            disagreements.append(cid)
        out_cells.append({**dict(zip(KEY, key)), "id": cid, "verdicts": verdicts, "disagree": differ,
                          "max_ulp": {m: c["max_ulp"] for m, c in cases.items()},
                          "ulp_spread": ulp_spread(cases), "cases": cases})
    rows = sorted({(c["algorithm"], c["scenario"]) for c in out_cells})
    columns = sorted({(c["adapter"], c["code_path"], c["device"], c["dtype"], c["mode"]) for c in out_cells})
    ok = not disagreements and all(_passes(c) for r in reports for c in r.cases)
    machines = []
    for r in reports:
        own = dict.fromkeys((*VERDICTS, "known"), 0)
        for c in r.cases:
            own[c["verdict"]] += 1
            own["known"] += bool(c.get("known_finding"))
        machines.append({"label": r.label, "file": r.path, "machine": r.summary.get("machine") or {},
                         "adapters": r.summary.get("adapters") or {}, "environment": r.summary.get("environment") or {},
                         "vector_set": r.summary.get("vector_set"), "counts": {"total": len(r.cases), **own}})
    base = next((r for r in reports if _vector_digest(r)), None)
    return {
        "format": FORMAT, "generator": f"optconform {__version__}",
        "machines": machines,
        "vector_set": base.summary.get("vector_set") if base else None,
        "warnings": warnings(reports),
        "rows": [list(r) for r in rows],
        "columns": [list(c) for c in columns],
        "cells": out_cells,
        "disagreements": disagreements,
        "summary": {"machines": len(reports), "cells": len(out_cells), "cases": sum(len(r.cases) for r in reports),
                    **counts, "disagreements": len(disagreements), "status": 0 if ok else 1},
    }


# --- terminal -----------------------------------------------------------------------------------------


def _machine_line(m: dict) -> str:
    info = m["machine"]
    what = [str(info[k]) for k in ("hostname", "cpu") if info.get(k)]
    if info.get("gpus"):
        what.append("; ".join(map(str, info["gpus"])))
    versions = info.get("frameworks") or {k: v.get("version") for k, v in m["adapters"].items()
                                          if isinstance(v, dict) and v.get("available")}
    if versions:
        what.append(", ".join(f"{k} {v}" for k, v in versions.items()))
    return f"{m['label']}: {m['file']}" + (f" ({'; '.join(what)})" if what else " (no machine description)")


def _verdict_text(case: dict) -> str:
    text = case["verdict"]
    if case["verdict"] in ("pass", "fail") and case.get("max_ulp") is not None:
        text += f" (max_ulp {_fmt(case['max_ulp'])}"
        if case["verdict"] == "fail" and case.get("first_failing_step") is not None:
            text += f", step {case['first_failing_step']}"
        text += ")"
    if case.get("known_finding"):
        text += " [declared finding]"
    return text


def summary_lines(doc: dict) -> list:
    """The terminal summary: machines, counts per machine, the disagreements, the other failures."""
    s = doc["summary"]
    lines = [f"{s['machines']} report(s):"] + [f"  {_machine_line(m)}" for m in doc["machines"]]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    width = max(len("machine"), *(len(m["label"]) for m in doc["machines"]))
    lines.append(f"{'machine':<{width}}  {'pass':>6} {'fail':>6} {'error':>6} {'skip':>6}")
    for m in doc["machines"]:
        c = m["counts"]
        lines.append(f"{m['label']:<{width}}  {c['pass']:>6} {c['fail']:>6} {c['error']:>6} {c['skip']:>6}")
    bad = [c for c in doc["cells"] if c["disagree"]]
    for cell in bad[:SHOWN]:
        lines.append(f"DISAGREE {cell['id']}: " + ", ".join(f"{m} {_verdict_text(c)}" for m, c in cell["cases"].items()))
    if len(bad) > SHOWN:
        lines.append(f"... and {len(bad) - SHOWN} more disagreements (see --json / --html)")
    # the cells that agree but do not pass: one line per cell and verdict, naming the machines
    failures = []
    for cell in doc["cells"]:
        if cell["disagree"]:
            continue
        groups: dict = {}
        for m, c in cell["cases"].items():
            if c["verdict"] in ("fail", "error"):
                groups.setdefault((c["verdict"], bool(c.get("known_finding"))), []).append((m, c))
        for (verdict, known), items in groups.items():
            c = items[0][1]
            first = (c.get("message") or "").splitlines()[0] if c.get("message") else ""
            failures.append(f"{'KNOWN ' if known else ''}{verdict.upper()} {cell['id']} on "
                            f"{', '.join(m for m, _ in items)}: {first}")
    lines += failures[:SHOWN]
    if len(failures) > SHOWN:
        lines.append(f"... and {len(failures) - SHOWN} more failing cells (see --json / --html)")
    spread = [c for c in doc["cells"] if c["ulp_spread"] and c["ulp_spread"][1] > c["ulp_spread"][0]]
    if spread:
        top = max(spread, key=lambda c: c["ulp_spread"][1] - c["ulp_spread"][0])
        lines.append(f"{len(spread)} cell(s) pass on every machine with different max_ulp; the widest spread: "
                     f"{top['id']}: " + ", ".join(f"{m} {_fmt(finite_float(v))}" for m, v in top["max_ulp"].items()))
    extra = f" ({s['known']} of these declared findings)" if s["known"] else ""
    lines.append(f"{s['cells']} cells on {s['machines']} machine(s), {s['cases']} cases: {s['pass']} passed, "
                 f"{s['fail']} failed, {s['error']} errors{extra}, {s['skip']} skipped; "
                 f"{s['disagreements']} cell(s) disagree across machines")
    return lines


# --- JSON ---------------------------------------------------------------------------------------------


def write_json(path, doc: dict) -> None:
    """The merged document, written atomically (compact: ten machines' full reports are large)."""
    from .report_junit import atomic_write

    atomic_write(path, (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8"))


# --- JUnit --------------------------------------------------------------------------------------------


def build_junit(doc: dict):
    """``<testsuites>``: one ``<testsuite>`` per machine, one ``<testcase>`` per cell it ran
    (classname ``optconform.<algorithm>.<profile>``, name ``<scenario>-<code_path>-<device>-<dtype>
    [<machine>]``). Failures, errors and skips as in ``check --junit``; a cell that disagrees across
    machines says so in its message (and, where it passed, in its ``<system-out>``)."""
    import xml.etree.ElementTree as ET

    from .report_junit import _body, _seconds, _text, case_name

    root = ET.Element("testsuites", name="optconform report merge")
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    by_machine: dict = {m["label"]: [] for m in doc["machines"]}
    for cell in doc["cells"]:
        for label, case in cell["cases"].items():
            by_machine[label].append((cell, case))
    for m in doc["machines"]:
        suite = ET.SubElement(root, "testsuite", name=m["label"])
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="file", value=_text(m["file"]))
        for key, value in (m["machine"] or {}).items():
            ET.SubElement(props, "property", name=f"machine.{key}", value=_text(json.dumps(value) if isinstance(
                value, (dict, list)) else value))
        counts = dict(tests=0, failures=0, errors=0, skipped=0)
        seconds = 0.0
        for cell, case in by_machine[m["label"]]:
            counts["tests"] += 1
            seconds += float(_seconds(case.get("seconds")))
            name = case_name(case) + ("" if case["mode"] == "trajectory" else f"-{case['mode']}") + f" [{m['label']}]"
            tc = ET.SubElement(suite, "testcase", classname=f"optconform.{case['algorithm']}.{case['profile']}",
                               name=_text(name), time=_seconds(case.get("seconds")))
            message = case.get("message") or case["verdict"]
            if case.get("known_finding"):
                message = f"{message} [known finding: {case['known_finding']}]"
            disagreement = ("machines disagree: " + ", ".join(f"{k} {v}" for k, v in cell["verdicts"].items())
                            if cell["disagree"] else "")
            if disagreement:
                message = f"[{disagreement}] {message}"
            if case["verdict"] == "fail":
                counts["failures"] += 1
                ET.SubElement(tc, "failure", message=_text(message), type="ConformanceFailure").text = _text(_body(case))
            elif case["verdict"] == "error":
                counts["errors"] += 1
                ET.SubElement(tc, "error", message=_text(message), type="AdapterError").text = _text(_body(case))
            elif case["verdict"] == "skip":
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=_text(message))
            out = [disagreement] if disagreement and case["verdict"] == "pass" else []
            out += [str(n) for n in case.get("notes") or ()]
            if out:
                ET.SubElement(tc, "system-out").text = _text("\n".join(out))
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", f"{seconds:.3f}")
    for key, n in totals.items():
        root.set(key, str(n))
    return root


def write_junit(path, doc: dict) -> None:
    import xml.etree.ElementTree as ET

    from .report_junit import atomic_write

    root = build_junit(doc)
    ET.indent(root)
    atomic_write(path, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


# --- HTML ---------------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em;margin:0 0 .3em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin:1.2em 0 .3em} h4{font-size:1em;margin:.6em 0 .3em} code{font:12px ui-monospace,monospace}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #ccc;padding:.2em .4em;text-align:left}
.matrix th{font:11px ui-monospace,monospace;vertical-align:bottom} .matrix td{white-space:nowrap;text-align:center}
.m{display:inline-block;width:1.3em;font:11px/1.5 ui-monospace,monospace;text-align:center;margin:0 1px}
.v-pass{background:#c8f0c8} .v-fail{background:#f5a8a8} .v-error{background:#ffc98a} .v-skip{background:#ddd;color:#666}
.v-none{color:#bbb} .v-known{background:#e9d3f5}
td.disagree{outline:3px solid #c00;outline-offset:-3px} .flag{color:#c00;font-weight:700}
.counts span{display:inline-block;margin-right:1em;font-weight:600}
.case{border-left:4px solid #d33;padding:.2em .8em;margin:.8em 0} .case.error{border-color:#f90}
.msg{white-space:pre-wrap;background:#f6f6f6;padding:.4em} .warn{color:#a50}
.ctx{background:#f3f6fb;border:1px solid #cdd8ea;padding:.2em .8em;margin:.5em 0} .ctx ul{margin:.2em 0}
"""
LETTER = {"pass": "P", "fail": "F", "error": "E", "skip": "S"}
MAX_DETAILS = 500  # failing and error cases shown in full


def _anchor(*parts) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(str(p) for p in parts))


def _mark(label: str, case: dict | None) -> str:
    if case is None:
        return f'<span class="m v-none" title="{escape(label)}: not run">·</span>'
    verdict = case["verdict"]
    known = verdict == "fail" and case.get("known_finding")
    title = f"{label}: {verdict}" + (f", max_ulp {_fmt(case.get('max_ulp'))}" if case.get("max_ulp") is not None else "")
    if known:
        title += " (declared finding)"
    cls = "v-known" if known else f"v-{verdict}"
    return f'<span class="m {cls}" title="{escape(title)}">{LETTER[verdict]}</span>'


def _header(doc: dict) -> list:
    s = doc["summary"]
    out = ["<h1>optconform report merge</h1>", '<p class="counts">',
           f"<span>{s['machines']} machines</span><span>{s['cells']} cells</span><span>{s['cases']} cases</span>",
           *(f'<span class="v-{v}">&nbsp;{s[v]} {v}&nbsp;</span>' for v in VERDICTS),
           f'<span class="flag">{s["disagreements"]} disagreeing cell(s)</span></p>']
    out += [f'<p class="warn">warning: {escape(w)}</p>' for w in doc["warnings"]]
    out.append("<h2>Machines</h2><table><tr><th>mark</th><th>machine</th><th>file</th><th>host</th><th>os</th>"
               "<th>cpu</th><th>gpus</th><th>frameworks</th><th>optconform</th><th>pass / fail / error / skip</th></tr>")
    for i, m in enumerate(doc["machines"], 1):
        info = m["machine"] or {}
        versions = info.get("frameworks") or {k: v.get("version") for k, v in m["adapters"].items()
                                              if isinstance(v, dict) and v.get("available")}
        c = m["counts"]
        cells = [str(i), m["label"], m["file"], info.get("hostname"), info.get("os") or m["environment"].get("platform"),
                 info.get("cpu"), "; ".join(map(str, info.get("gpus") or [])) or "none",
                 ", ".join(f"{k} {v}" for k, v in versions.items()),
                 info.get("optconform") or m["environment"].get("optconform"),
                 " / ".join(str(c[v]) for v in VERDICTS)]
        out.append("<tr>" + "".join(f"<td>{escape(_fmt(x))}</td>" for x in cells) + "</tr>")
    out.append("</table>")
    return out


def _disagreement_section(doc: dict) -> list:
    bad = [c for c in doc["cells"] if c["disagree"]]
    if not bad:
        return ["<h2>Disagreements</h2><p>None: every cell has the same verdict on every machine where it ran.</p>"]
    out = ["<h2>Disagreements</h2>",
           f"<p>{len(bad)} cell(s) where the same implementation has different verdicts (pass, fail, error; "
           "skips aside) on different machines.</p>"]
    for cell in bad:
        out.append(f'<h3 id="{_anchor("d", cell["id"])}"><span class="flag">≠</span> <code>{escape(cell["id"])}</code> '
                   f'<a href="#{_anchor("c", cell["id"])}">(in the matrix)</a></h3>')
        out.append("<table><tr><th>machine</th><th>verdict</th><th>max ulp</th><th>max rel</th><th>first failing step</th>"
                   "<th>message</th></tr>")
        for label, case in cell["cases"].items():
            out.append("<tr>" + "".join(f"<td>{escape(_fmt(x))}</td>" for x in (
                label, case["verdict"] + (" (declared finding)" if case.get("known_finding") else ""),
                case.get("max_ulp"), case.get("max_rel"), case.get("first_failing_step"),
                (case.get("message") or "")[:300])) + "</tr>")
        out.append("</table>")
    return out


def _matrix_section(doc: dict) -> list:
    labels_ = [m["label"] for m in doc["machines"]]
    legend = ", ".join(f"{i}: {escape(label)}" for i, label in enumerate(labels_, 1))
    out = ["<h2>Matrix</h2>",
           f"<p>Rows: algorithm × scenario; columns: adapter / code path / device / dtype (/ mode). Each cell holds one "
           f"mark per machine, in this order: {legend}. P pass, F fail (violet: a declared finding), E error, "
           "S skip, · not run there. A cell outlined in red disagrees across machines.</p>"]
    by_alg: dict = {}
    for cell in doc["cells"]:
        by_alg.setdefault(cell["algorithm"], []).append(cell)
    for alg, cells in by_alg.items():
        columns = sorted({(c["adapter"], c["code_path"], c["device"], c["dtype"], c["mode"]) for c in cells})
        grid: dict = {}
        for c in cells:
            key = (c["scenario"], (c["adapter"], c["code_path"], c["device"], c["dtype"], c["mode"]))
            grid.setdefault(key, []).append(c)
        head = "".join("<th>" + "<br>".join(escape(x) for x in col[:4])
                       + ("" if col[4] == "trajectory" else f"<br>{escape(col[4])}") + "</th>" for col in columns)
        out.append(f'<h3 id="{_anchor("alg", alg)}">{escape(alg)}</h3>')
        out.append(f'<table class="matrix"><tr><th>scenario</th>{head}</tr>')
        for scenario in sorted({c["scenario"] for c in cells}):
            tds = []
            for col in columns:
                here = grid.get((scenario, col))
                if not here:
                    tds.append("<td></td>")
                    continue
                lines = []
                for c in here:
                    marks = "".join(_mark(label, c["cases"].get(label)) for label in labels_)
                    prefix = f"<small>{escape(c['profile'])}</small> " if len(here) > 1 else ""
                    link = f' <a class="flag" href="#{_anchor("d", c["id"])}">≠</a>' if c["disagree"] else ""
                    lines.append(f'<span id="{_anchor("c", c["id"])}">{prefix}{marks}{link}</span>')
                cls = ' class="disagree"' if any(c["disagree"] for c in here) else ""
                tds.append(f"<td{cls}>" + "<br>".join(lines) + "</td>")
            out.append(f"<tr><th>{escape(scenario)}</th>{''.join(tds)}</tr>")
        out.append("</table>")
    return out


def _details_section(doc: dict, contexts: dict) -> list:
    from .report_html import _case_section

    bad = [(label, case) for cell in doc["cells"] for label, case in cell["cases"].items()
           if case["verdict"] in ("fail", "error")]
    if not bad:
        return []
    out = ["<h2>Failing and error cases</h2>"]
    if len(bad) > MAX_DETAILS:
        out.append(f'<p class="warn">{len(bad)} failing and error cases: the first {MAX_DETAILS} are shown.</p>')
    for label, case in bad[:MAX_DETAILS]:
        out.append(f"<h4>on {escape(label)}</h4>")
        out += _case_section(case, None, contexts.get((case.get("algorithm"), case.get("profile"))),
                             anchor=_anchor("case", label, case.get("id", "")))
    return out


def render_html(doc: dict, contexts: dict | None = None) -> str:
    """The merged matrix as one self-contained HTML page (inline CSS, no script, no external file).
    ``contexts``: the failing cases' divergence contexts (default: report_context.contexts)."""
    if contexts is None:
        from .report_context import contexts as compute

        contexts = compute([c for cell in doc["cells"] for c in cell["cases"].values()])
    body = [*_header(doc), *_disagreement_section(doc), *_matrix_section(doc), *_details_section(doc, contexts)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>optconform report merge</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(path, doc: dict) -> None:
    from .report_junit import atomic_write

    atomic_write(path, render_html(doc).encode("utf-8"))
