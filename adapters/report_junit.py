"""JUnit XML for ``optconform check``: the format CI test reporters (Jenkins, GitLab, GitHub actions) read.

One ``<testsuite>`` per adapter, one ``<testcase>`` per case (classname ``optconform.<algorithm>.<profile>``,
name ``<scenario>-<code_path>-<device>-<dtype>``). A failing case gets ``<failure>`` with its message and
metrics, an error ``<error>``, a skip ``<skipped>``; a case's notes (warnings, log records, the
output of a worker that died or timed out) are its ``<system-out>``. Each suite carries the run's
environment as ``<properties>``. Input is the JSON form of the checker's cases (``CaseResult.as_json()``) and the summary.

The file is written atomically (a temporary file in the same folder, then ``os.replace``); a missing
folder is created.
"""
from __future__ import annotations

import os
import re
import secrets
import xml.etree.ElementTree as ET

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
METRICS = ("max_ulp", "max_rel", "bound_ulp", "first_failing_step", "first_failing_element", "diverged_first")


def _text(value) -> str:
    """``value`` as a string XML 1.0 can hold (control characters become U+FFFD)."""
    return _NOT_XML.sub("\ufffd", str(value))


def case_name(case: dict) -> str:
    return f"{case['scenario']}-{case['code_path']}-{case['device']}-{case['dtype']}"


def _seconds(value) -> str:
    try:
        return f"{float(value or 0.0):.3f}"
    except (TypeError, ValueError):
        return "0.000"


def _body(case: dict) -> str:
    lines = [case.get("message") or ""]
    lines += [f"{key}: {case.get(key)}" for key in METRICS if case.get(key) is not None]
    for key in ("declared_divergences", "vector", "id"):
        if case.get(key):
            lines.append(f"{key}: {case[key]}")
    if case.get("diagnosis"):
        from .diagnosis import line

        lines.append(f"diagnosis: {line(case['diagnosis']) if isinstance(case['diagnosis'], dict) else case['diagnosis']}")
    return "\n".join(lines)


def _properties(parent: ET.Element, summary: dict, adapter: str) -> None:
    props = ET.SubElement(parent, "properties")
    for key, value in sorted((summary.get("environment") or {}).items()):
        ET.SubElement(props, "property", name=_text(key), value=_text(value))
    info = (summary.get("adapters") or {}).get(adapter) or {}
    for key in ("framework", "version", "available", "reason"):
        if info.get(key) not in (None, ""):
            ET.SubElement(props, "property", name=f"adapter.{key}", value=_text(info[key]))


def build(cases: list, summary: dict) -> ET.Element:
    """The ``<testsuites>`` element for ``cases``."""
    root = ET.Element("testsuites", name="optconform")
    by_adapter: dict = {}
    for case in cases:
        by_adapter.setdefault(case.get("adapter", "unknown"), []).append(case)
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    total_time = 0.0
    for adapter in sorted(by_adapter):
        group = by_adapter[adapter]
        suite = ET.SubElement(root, "testsuite", name=adapter)
        _properties(suite, summary, adapter)
        counts = dict(tests=len(group), failures=0, errors=0, skipped=0)
        suite_time = 0.0
        for case in group:
            suite_time += float(_seconds(case.get("seconds")))
            tc = ET.SubElement(suite, "testcase", classname=f"optconform.{case['algorithm']}.{case['profile']}",
                               name=case_name(case), time=_seconds(case.get("seconds")))
            verdict = case.get("verdict")
            message = _text(case.get("message") or verdict or "")
            if case.get("known_finding"):
                message = _text(f"{message} [known finding: {case['known_finding']}]")
            if verdict == "fail":
                counts["failures"] += 1
                ET.SubElement(tc, "failure", message=message, type="ConformanceFailure").text = _text(_body(case))
            elif verdict == "error":
                counts["errors"] += 1
                ET.SubElement(tc, "error", message=message, type="AdapterError").text = _text(_body(case))
            elif verdict == "skip":
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=message)
            if case.get("notes"):
                ET.SubElement(tc, "system-out").text = _text("\n".join(str(n) for n in case["notes"]))
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", f"{suite_time:.3f}")
        total_time += suite_time
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", f"{total_time:.3f}")
    return root


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    The folder is created if missing. The temporary file is opened with mode 0666 less the umask
    (unlike ``mkstemp``'s 0600), so the report gets an ordinary file's permissions.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_junit(path, cases: list, summary: dict) -> None:
    """Write the JUnit XML report for ``cases`` (``CaseResult.as_json()`` dicts) to ``path``."""
    root = build(cases, summary)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    atomic_write(path, data + b"\n")
