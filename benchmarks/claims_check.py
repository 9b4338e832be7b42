"""One line per case of an ``optconform check`` selection: the facts the spec pages quote about a
framework's code paths ("legacy passes every scenario", "exp_inf is 0.655609130859375 at step 3",
"at most 1.8e-6 relative").

Takes ``optconform check``'s selection options (``--adapter``, ``--only``, ``--scenario``,
``--code-path``, ``--dtype``, ``--mode``, ``--jobs``), runs the check once (each framework imported once, in
its worker; Keras runs each backend in its own), and prints, sorted by case id,

    <case id> <verdict>[ (declared finding)] max_ulp=<u> max_rel=<r>[: <first line of the message>]

then, for each algorithm x profile x code path x dtype, the largest relative error of its cases
(max |got − exact| / |exact| over every value the checker compares, ``max_rel``), the largest
bound any of its cases was held to (in ulps, the checker's ``bounds_by_step``), where cases fail
the range of their first failing steps and of the relative error |got − exact| / |exact| of the
value each failure message names (the first value past the bound), and the summary line of
``check``. Where a case fails, its message names the step, the value, what the framework
gave and the exact value. Exit status as ``check``'s: 0 when every case conforms (declared findings
included), 1 otherwise, 2 for a selection that cannot run.

    python benchmarks/claims_check.py --adapter tf_keras --only adamax --code-path legacy --scenario nan_grad
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
from pathlib import Path

from optconform.adapters.cli import main as cli_main


FAILURE = re.compile(r"got (?P<got>\S+), exact (?P<exact>\S+) ")  # the checker's failure message


def _first_failure(case: dict):
    """(step, relative error) of the value a failing case's message names, or None."""
    found = FAILURE.search(case.get("message") or "") if case["verdict"] == "fail" else None
    if not found or case.get("first_failing_step") is None:
        return None
    try:
        got, exact = float(found["got"]), float(found["exact"])
    except ValueError:
        return None
    if exact == 0 or got != got:
        return None
    return case["first_failing_step"], abs(got - exact) / abs(exact)


def _number(value) -> float:
    return float(value) if value is not None else float("nan")


def _line(case: dict) -> str:
    verdict = case["verdict"] + (" (declared finding)" if case.get("known_finding") else "")
    text = f"{case['id']} {verdict} max_ulp={_number(case.get('max_ulp')):.3g} max_rel={_number(case.get('max_rel')):.2g}"
    message = (case.get("message") or "").splitlines()
    return f"{text}: {message[0]}" if message and case["verdict"] != "pass" else text


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = cli_main(["check", *argv, "--quiet", "--no-html", "--json", str(report)])
        if not report.exists():  # the selection could not run: check's own message
            print(out.getvalue(), end="")
            return status
        doc = json.loads(report.read_text(encoding="utf-8"))
    cases = sorted(doc["cases"], key=lambda c: c["id"])
    largest: dict = {}
    bounds: dict = {}
    failures: dict = {}
    for case in cases:
        print(_line(case))
        key = (case["algorithm"], case["profile"], case["code_path"], case["dtype"])
        rel = _number(case.get("max_rel"))
        if rel == rel:  # a skipped case has none
            largest[key] = max(largest.get(key, rel), rel)
        held = [b for b in case.get("bounds_by_step") or [] if b is not None]
        if held:
            bounds[key] = max(bounds.get(key, max(held)), max(held))
        first = _first_failure(case)
        if first:
            failures.setdefault(key, []).append(first)
    for (algorithm, profile, code_path, dtype), rel in sorted(largest.items()):
        print(f"largest relative error: {algorithm} {profile} {code_path} {dtype}: {rel:.2g}")
    for (algorithm, profile, code_path, dtype), bound in sorted(bounds.items()):
        print(f"largest bound: {algorithm} {profile} {code_path} {dtype}: {bound:.3g} ulps")
    for (algorithm, profile, code_path, dtype), found in sorted(failures.items()):
        steps, rels = [s for s, _ in found], [r for _, r in found]
        print(f"first failures: {algorithm} {profile} {code_path} {dtype}: {len(found)} cases, step "
              f"{min(steps)}-{max(steps)}, relative {min(rels):.2g}-{max(rels):.2g}")
    print(out.getvalue().strip().splitlines()[-1])  # check's summary line
    return status


if __name__ == "__main__":
    sys.exit(main())
