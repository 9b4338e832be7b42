"""Audit third-party optimizers and schedules, and write one Markdown report per package.

    python audits/run.py                      every target of audits/targets.toml
    python audits/run.py --package timm       one package (repeatable)
    python audits/run.py --only 'Lamb*'       targets whose id matches (with --package: within it)
    python audits/run.py --check              rerun, compare with the committed reports' verdicts
    python audits/run.py --keep DIR           also keep each audit's --json document and time in DIR
    python audits/run.py --from DIR           rewrite the reports from a --keep DIR, running nothing
    python audits/run.py --list               print the optconform audit command of every target

Each target runs through ``python -m optconform.adapters audit TARGET --algorithm A [--framework F]
[--option K=V ...] [--name C=K ...] --json FILE --jobs 2`` from the repository root (so
``audits/timm_shim.py:Lamb`` imports), one audit at a time, timed. The report of a package,
``audits/reports/<package>.md``, gives the package's and the frameworks' versions and, per target:
the command that reproduces the audit, the report card's verdict (the profiles it conforms to, or
the closest), the semantic fingerprint, the defaults that differ from the spec and the frameworks,
each divergence as a measured fact (max ulp, max relative error, first failing step, diagnosis),
the cause read from the package's source (targets.toml ``findings``: a sentence, the file and line,
and the text that line holds, which this script verifies) and the time the audit took against
the budget of :data:`BUDGET_S` seconds per optimizer.

``--check`` reruns the targets and compares each verdict and closest profile with the summary table
of the committed report, verifies every finding's file and line, and requires a finding for every
target that diverges. Exit status: 0 all agree, 1 a difference (one line each), 2 bad input.

This module runs and checks; audit_targets.py reads targets.toml and checks the findings'
citations; audit_report.py writes the Markdown (the reports and spec/audits.md's summary table).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audit_report import REPORTS, SPEC_PAGE, closest, committed_verdicts, render, verdict, write_spec_table
from audit_targets import JOBS, ROOT, BadInput, Outcome, Target, check_finding, load, select


def run_one(t: Target, scratch: Path, jobs: int = JOBS) -> Outcome:
    """Audit one target in a fresh process, timed from start to exit (imports included)."""
    out = scratch / f"{t.package}-{t.id}.json"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "optconform.adapters", *t.argv(str(out), jobs)], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode in (0, 1) and out.exists():
        return Outcome(t, proc.returncode, seconds, json.loads(out.read_text()))
    lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
    return Outcome(t, proc.returncode, seconds, None, lines[-1] if lines else f"exit status {proc.returncode}")


def compare(outcomes: list) -> list:
    problems = []
    by_package: dict = {}
    for o in outcomes:
        by_package.setdefault(o.target.package, []).append(o)
    for package, os_ in by_package.items():
        committed = committed_verdicts(package)
        for o in os_:
            was = committed.get(o.target.id)
            now = (verdict(o), closest(o))
            if was is None:
                problems.append(f"{package}/{o.target.id}: not in audits/reports/{package}.md (run audits/run.py)")
            elif was != now:
                problems.append(f"{package}/{o.target.id}: the report says {was[0]!r} (closest {was[1]}), "
                                f"now {now[0]!r} (closest {now[1]})")
    return problems


def audit_findings(targets: list, outcomes: list | None = None) -> list:
    problems = []
    for t in targets:
        for f in t.findings:
            bad = check_finding(f)
            if bad:
                problems.append(f"{t.package}/{t.id}: finding {bad}")
    for o in outcomes or []:
        if verdict(o) in ("diverges", "could not run") and not o.target.findings:
            problems.append(f"{o.target.package}/{o.target.id}: {verdict(o)} but targets.toml gives no cause "
                            f"(findings)")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="audits/run.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", action="append", help="only this package (repeatable)")
    ap.add_argument("--only", metavar="GLOB", action="append",
                    help="only targets whose id matches (repeatable; the reports are not rewritten)")
    ap.add_argument("--check", action="store_true", help="compare with the committed reports instead of writing them")
    ap.add_argument("--jobs", type=int, default=JOBS, help=f"worker processes per audit (default {JOBS})")
    ap.add_argument("--keep", metavar="DIR", help="keep each audit's --json document and timing in DIR")
    ap.add_argument("--from", dest="source", metavar="DIR", help="write the reports from a --keep DIR, running nothing")
    ap.add_argument("--list", action="store_true", help="print the commands and exit")
    args = ap.parse_args(argv)
    try:
        packages, targets = load()
        chosen = select(targets, args.package, args.only)
        if args.list:
            for t in chosen:
                print(f"{t.package}/{t.id}: {t.command()}")
            return 0
        problems = audit_findings(chosen)
        outcomes = _from_dir(Path(args.source), chosen) if args.source else _run_all(chosen, args.keep, args.jobs)
        problems += audit_findings([], outcomes)
        if args.check:
            problems += compare(outcomes)
            if write_spec_table(packages, write=False):
                problems.append(f"{SPEC_PAGE.relative_to(ROOT)}: the summary table is not the reports' "
                                f"(python audits/run.py --from DIR or a full run rewrites it)")
        elif args.only:
            print("--only: the reports are written for whole packages only; not rewritten")
        else:
            for package in dict.fromkeys(o.target.package for o in outcomes):
                mine = [o for o in outcomes if o.target.package == package]
                REPORTS.mkdir(parents=True, exist_ok=True)
                (REPORTS / f"{package}.md").write_text(render(package, packages[package], mine, packages),
                                                       encoding="utf-8")
                print(f"wrote audits/reports/{package}.md")
            if write_spec_table(packages):
                print(f"updated the summary table of {SPEC_PAGE.relative_to(ROOT)}")
    except BadInput as exc:
        print(f"audits/run.py: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


def _run_all(chosen: list, keep: str | None, jobs: int) -> list:
    with tempfile.TemporaryDirectory(prefix="optconform-audits-") as scratch:
        where = Path(keep) if keep else Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for i, t in enumerate(chosen, 1):
            o = run_one(t, where, jobs)
            (where / f"{t.package}-{t.id}.run.json").write_text(
                json.dumps({"rc": o.rc, "seconds": o.seconds, "error": o.error}))
            outcomes.append(o)
            print(f"[{i}/{len(chosen)}] {t.package}/{t.id} ({t.algorithm}): {verdict(o)}; closest {closest(o)}; "
                  f"{o.seconds:.1f} s" + (f"; {o.error}" if o.error else ""), flush=True)
    return outcomes


def _from_dir(where: Path, chosen: list) -> list:
    outcomes = []
    for t in chosen:
        run = where / f"{t.package}-{t.id}.run.json"
        if not run.exists():
            raise BadInput(f"{run}: missing (run audits/run.py --keep {where} first)")
        meta = json.loads(run.read_text())
        doc = where / f"{t.package}-{t.id}.json"
        report = json.loads(doc.read_text()) if meta["rc"] in (0, 1) and doc.exists() else None
        outcomes.append(Outcome(t, meta["rc"], meta["seconds"], report, meta["error"]))
    return outcomes


if __name__ == "__main__":
    sys.exit(main())
