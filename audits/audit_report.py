"""The Markdown of the audits: one report per package (audits/reports/<package>.md) from the
audits' ``--json`` documents and targets.toml, and the summary table of spec/audits.md from the
reports. Facts only: every number comes from an audit's report card or cases."""
from __future__ import annotations

import importlib.metadata
import json
import math
import subprocess
import sys

from audit_targets import JOBS, ROOT, BadInput, Outcome, Target

REPORTS = ROOT / "audits" / "reports"
SPEC_PAGE = ROOT / "spec" / "audits.md"
BUDGET_S = 20.0
FRAMEWORK_DISTRIBUTIONS = ("torch", "numpy", "mpmath")
NOT_APPLICABLE_PREFIX = "not applicable: "
SUMMARY_BEGIN = "<!-- audits/run.py: summary begin -->"
SUMMARY_END = "<!-- audits/run.py: summary end -->"


def verdict(o: Outcome) -> str:
    """One phrase: conforms to P, diverges, not applicable, or could not run."""
    if o.card is None:
        return "could not run"
    card = o.card
    if card["conforms_to"]:
        return "conforms to " + ", ".join(card["conforms_to"])
    if not any(p["pass"] + p["fail"] + p["error"] for p in card["profiles"]):
        return "not applicable"
    return "diverges"


def closest(o: Outcome) -> str:
    if o.card is None:
        return "-"
    b = o.card["best_profile"]
    return f"{b['profile']} ({b['pass']} pass, {b['fail'] + b['error']} fail, {b['not_applicable']} n/a)"


def _float(x) -> float | None:
    """A metric of the audit's JSON as a float (non-finite ones are written as strings)."""
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _num(x, digits: int = 3) -> str:
    x = _float(x)
    if x is None:
        return "-"
    if math.isinf(x) or math.isnan(x):
        return str(x)
    return f"{x:.{digits}g}"


def _vector_profiles(rel: str, cache: dict) -> list:
    if rel not in cache:
        from optconform.reference.vectors import default_vector_dir

        cache[rel] = json.loads((default_vector_dir() / rel).read_text())["profiles"]
    return cache[rel]


def divergence_rows(o: Outcome, profile: str) -> list:
    """The failing cases that count for ``profile`` (its vectors, checked with its precision
    effects: a case's ``counts_for``), one row per scenario (dtypes and code paths together): the
    largest error, the first failing step and the diagnosis of a float64 case."""
    cache: dict = {}
    rows: dict = {}
    for c in o.report["cases"]:
        counted = c.get("counts_for") or _vector_profiles(c["vector"], cache)
        if c["verdict"] not in ("fail", "error") or profile not in counted:
            continue
        row = rows.setdefault(c["scenario"], {"scenario": c["scenario"], "cases": [], "max_ulp": None,
                                               "max_rel": None, "first": None, "diagnosis": None, "message": ""})
        row["cases"].append(f"{c['dtype']}/{c['code_path']}")
        for key, value in (("max_ulp", _float(c.get("max_ulp"))), ("max_rel", _float(c.get("max_rel")))):
            if value is not None and (row[key] is None or value > row[key]):
                row[key] = value
        step = c.get("first_failing_step")
        if step is not None and (row["first"] is None or step < row["first"]):
            row["first"] = step
        if c["verdict"] == "error" and not row["message"]:
            row["message"] = c.get("message", "")
        d = c.get("diagnosis")
        if d and (row["diagnosis"] is None or c["dtype"] == "float64"):
            row["diagnosis"] = _diagnosis_text(d)
    return list(rows.values())


def _diagnosis_text(d: dict) -> str:
    text = d.get("summary") or ""
    close = d.get("closest")
    if not d.get("explained") and close:
        text += f"; closest: {close.get('summary')} ({_num(close.get('residual_ulp'))} ulps)"
    return text


def defaults_that_differ(card: dict) -> list:
    """(hyper, keyword, target default, spec default, profiles sharing the target's) where the
    target's default is not the spec's."""
    from optconform.adapters.audit_card import _same

    out = []
    for row in card["defaults"]:
        spec = row["profiles"].get("spec")
        if _same(row["target"], spec):
            continue
        same = [n for n, v in row["profiles"].items() if _same(row["target"], v)]
        out.append((row["hyper"], row["keyword"], row["target"], spec, same))
    return out


def option_defaults(t: Target) -> dict:
    """{option: the target's own default} for the fixed options (what the user gets without them)."""
    import contextlib

    from optconform.adapters.audit import import_target, signature_of

    try:
        with contextlib.chdir(ROOT):  # targets such as audits/timm_shim.py:Lamb are paths from the root
            _, defaults, required, _ = signature_of(import_target(t.target), t.framework or "torch", "optimizer")
    except Exception:  # noqa: BLE001 - a report without the column is still a report
        return {}
    return {k: defaults.get(k, "required" if k in required else "?") for k in t.options}


def versions(packages: dict, package: str) -> list:
    out = []
    for dist in [packages[package]["distribution"], *FRAMEWORK_DISTRIBUTIONS, "optconform"]:
        try:
            out.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    out.append(("python", sys.version.split()[0]))
    commit = _commit()
    if commit:
        out.append(("optconform checkout", commit))
    return out


def _commit() -> str:
    """The checkout's commit (the audit code and vectors the reports came from), or ''."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(package: str, meta: dict, outcomes: list, packages: dict) -> str:
    w: list = []
    w.append(f"# Audit: {package}\n")
    w.append("Generated by `python audits/run.py --package " + package + "` from `audits/targets.toml`; "
             "do not edit by hand (the causes are the `findings` of targets.toml).\n")
    sha = _vector_set(outcomes)
    w.append("Versions: " + ", ".join(f"{d} {v}" for d, v in versions(packages, package)) + "; vectors: the set "
             "shipped with optconform" + (f" (manifest sha256 {sha})" if sha else "")
             + f". Each audit ran with `--jobs {JOBS}` on a {_cpus()}-core machine, one at a time.\n")
    if meta.get("note"):
        w.append(meta["note"] + "\n")
    w.append("## Summary\n")
    w.append(SUMMARY_BEGIN)
    w.append("| implementation | algorithm | match | verdict | closest profile | cases run / all | time (s) | "
             "differences from the spec |")
    w.append("|---|---|---|---|---|---|---|---|")
    for o in outcomes:
        w.append(f"| [{o.target.id}](#{_anchor(o.target)}) | {o.target.algorithm} | {o.target.match} | "
                 f"{_cell(verdict(o))} | {_cell(closest(o))} | {_coverage(o)} | {o.seconds:.1f} | "
                 f"{_cell(differences(o))} |")
    w.append(SUMMARY_END + "\n")
    w.append("*closest profile*: the profile whose vectors pass in the largest share (pass, fail, not applicable "
             "among its cases); *cases run*: the cases that ran out of all (the others are not applicable: they need "
             "a hyperparameter the target has no keyword for, or values its constructor refuses). A case is one "
             "vector in one dtype (float64, float32) on one code path.\n")
    over = [o for o in outcomes if o.seconds > BUDGET_S]
    w.append(f"Time per audit, wall clock including the imports: the budget is {BUDGET_S:.0f} s per optimizer; "
             + (f"{len(over)} of {len(outcomes)} audits took longer ({', '.join(o.target.id for o in over)})."
                if over else f"every audit finished within it.") + "\n")
    for o in outcomes:
        w.extend(_section(o))
    return "\n".join(w).rstrip() + "\n"


def differences(o: Outcome) -> str:
    """The report card in a phrase: the axes whose value is not the spec's, the defaults that
    differ, the failing cases no neighbouring semantics explains, the errors."""
    if o.card is None:
        return o.error
    from optconform.reference.model import get

    card = o.card
    spec = get(card["algorithm"]).profiles["spec"].semantics
    parts = [f"{axis} = {f['values'][0]}" for axis, f in card["fingerprint"].items()
             if f["status"] == "matched" and f["values"][0] != spec.get(axis)]
    parts += [f"{axis} unexplained" for axis, f in card["fingerprint"].items() if f["status"] == "unexplained"]
    fixed = o.target.options or {}  # options the target sets: their value, not the package default, ran
    parts += [f"{kw} = {fixed[kw]} set (default {tv}, spec {sv})" if kw in fixed else f"default {h} = {tv} (spec {sv})"
              for h, kw, tv, sv, _ in defaults_that_differ(card)
              if tv not in ("required", None) and sv is not None]  # no default, or none in the spec
    unexplained = sum(d["cases"] for d in card["diagnoses"] if d["diagnosis"].startswith("unexplained"))
    if unexplained:
        parts.append(f"{unexplained} failing cases unexplained by a neighbouring profile")
    errors = o.report["summary"]["error"]
    if errors:
        parts.append(f"{errors} cases raise")
    if not o.report["summary"]["pass"] + o.report["summary"]["fail"] + errors:
        parts.append("no case applicable")
    return "; ".join(parts) or "none"


def _anchor(t: Target) -> str:
    """The GitHub anchor of the target's section heading."""
    import re

    text = f"{t.id} as {t.algorithm} ({t.match})".lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _coverage(o: Outcome) -> str:
    if o.report is None:
        return "-"
    s = o.report["summary"]
    return f"{s['pass'] + s['fail'] + s['error']} / {s['total']}"


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def _vector_set(outcomes: list) -> str:
    for o in outcomes:
        if o.report:
            return o.report["summary"].get("vector_set", {}).get("manifest_sha256", "")[:12]
    return ""


def _section(o: Outcome) -> list:
    t = o.target
    w = [f"## {t.id} as {t.algorithm} ({t.match})\n", t.note + "\n", "```console", f"$ {t.command()}", "```\n"]
    if o.card is None:
        w.append(f"**Could not run** (exit status {o.rc}, {o.seconds:.1f} s): `{o.error}`\n")
        w.extend(_findings(t))
        return w
    card, summary = o.card, o.report["summary"]
    w.append(f"**Verdict: {verdict(o)}**; closest: {closest(o)}. {summary['total']} cases "
             f"({summary['pass']} pass, {summary['fail']} fail, {summary['error']} error, {summary['skip']} skipped "
             f"or not applicable) in {o.seconds:.1f} s wall clock ({summary['seconds']:.1f} s running the cases)"
             f"{'; over the ' + format(BUDGET_S, '.0f') + ' s budget' if o.seconds > BUDGET_S else ''}.\n")
    mapping = ", ".join(f"{c}→`{k}`" for c, k in card["mapping"].items()) or "none"
    w.append(f"- Keyword mapping: {mapping}.")
    if card["unmapped"]:
        w.append(f"- Not taken by the target: {', '.join(card['unmapped'])} "
                 f"(vectors that need them are not applicable).")
    if t.options:
        own = option_defaults(t)
        w.append("- Fixed options: " + ", ".join(f"`{k}={v}` (package default `{own.get(k, '?')!r}`)"
                                                 for k, v in t.options.items()) + ".")
    w.append(f"- Code paths: {', '.join(card['code_paths'])}" + _paths_text(card) + ".")
    w.append(f"- State round trip (resume): {_counts(card['state_round_trip']) or 'no resume vector'}; "
             f"step() modifies the gradient in place: "
             f"{'yes (' + ', '.join(card['gradient_modified']) + ')' if card['gradient_modified'] else 'no'}.\n")
    w.append("| profile | pass | fail | error | n/a | max ulp |")
    w.append("|---|---|---|---|---|---|")
    for p in card["profiles"]:
        w.append(f"| {p['profile']} | {p['pass']} | {p['fail']} | {p['error']} | {p['not_applicable']} | "
                 f"{_num(p['max_ulp'])} |")
    w.append("")
    fp = card["fingerprint"]
    if fp:
        w.append("Semantic fingerprint (float64 cases): " + "; ".join(
            f"{axis} = {_fp(f)}" for axis, f in fp.items()) + ".\n")
    differ = defaults_that_differ(card)
    if differ:
        w.append("Defaults that differ from the spec: " + "; ".join(
            f"{h} (`{kw}`) = {tv} where the spec has {sv}"
            f"{' (as ' + ', '.join(s for s in same if s != 'spec') + ')' if same else ' (no profile)'}"
            for h, kw, tv, sv, same in differ) + ".\n")
    else:
        w.append("Defaults: the mapped hyperparameters' defaults are the spec's.\n")
    best = card["best_profile"]["profile"]
    rows = divergence_rows(o, best)
    if rows:
        w.append(f"Divergences from {best} (failing cases of its vectors, per scenario; sizes in units of the "
                 f"case's dtype, the largest over its cases):\n")
        w.append("| scenario | cases | max ulp | max rel | first failing step | diagnosis |")
        w.append("|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: r["scenario"]):
            diag = r["diagnosis"] or r["message"] or "-"
            w.append(f"| {r['scenario']} | {_cases_text(r['cases'])} | "
                     f"{_num(r['max_ulp'])} | {_num(r['max_rel'])} | {r['first'] if r['first'] is not None else '-'} | "
                     f"{_cell(diag)} |")
        w.append("")
    elif card["conforms_to"]:
        w.append(f"No divergence from {', '.join(card['conforms_to'])}.\n")
    if card["not_applicable"]:
        reasons = [m.removeprefix(NOT_APPLICABLE_PREFIX) for m in card["not_applicable"]]
        w.append("Not applicable: " + "; ".join(reasons[:6])
                 + (f"; and {len(reasons) - 6} more" if len(reasons) > 6 else "") + ".\n")
    w.extend(_findings(t))
    return w


def _cases_text(cases: list) -> str:
    """'4: float32, float64 × forloop, foreach' for the dtype/code-path labels of a row's cases."""
    dtypes = sorted({c.split("/")[0] for c in cases})
    paths = sorted({c.split("/")[1] for c in cases})
    return f"{len(cases)}: {', '.join(dtypes)}" + (f" × {', '.join(paths)}" if len(paths) > 1 else "")


def _findings(t: Target) -> list:
    if not t.findings:
        return []
    w = ["Causes, read from the source:\n"]
    for f in t.findings:
        w.append(f"- {f['cause']} (`{f['source']}`: `{f['code'].strip()}`)")
    w.append("")
    return w


def _fp(f: dict) -> str:
    if f["status"] == "matched":
        return f["values"][0]
    if f["status"] == "unexplained":
        return "unexplained (every value ruled out)"
    return "undetermined (" + " or ".join(f["values"]) + ")"


def _counts(c: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.items())


def _paths_text(card: dict) -> str:
    agree = card["code_paths_agree"]
    if agree["agree"] is None:
        return ""
    return (" (same verdicts on every vector" if agree["agree"] else
            f" (verdicts differ on {len(agree['differences'])} cases") + \
        f"; errors not bit-identical on {agree['errors_differ']})"


def committed_verdicts(package: str) -> dict:
    """{id: (verdict, closest)} from the summary table of the committed report."""
    path = REPORTS / f"{package}.md"
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if SUMMARY_BEGIN not in text:
        raise BadInput(f"{path}: no summary table (regenerate it: python audits/run.py --package {package})")
    table = text.split(SUMMARY_BEGIN, 1)[1].split(SUMMARY_END, 1)[0]
    out = {}
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]
        out[_unlink(cells[0])] = (cells[3], cells[4])
    return out


def _unlink(cell: str) -> str:
    """'[Lamb](#lamb-as-lamb-exact)' -> 'Lamb'."""
    return cell[1:cell.index("](")] if cell.startswith("[") and "](" in cell else cell


def summary_rows(package: str) -> list:
    """The rows of a committed report's summary table (cells, links pointing into the report)."""
    path = REPORTS / f"{package}.md"
    if not path.exists():
        return []
    table = path.read_text(encoding="utf-8").split(SUMMARY_BEGIN, 1)[1].split(SUMMARY_END, 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        cells[0] = cells[0].replace("](#", f"](../audits/reports/{package}.md#")
        rows.append(cells)
    return rows


def write_spec_table(packages: dict, write: bool = True) -> bool:
    """Rewrite the generated table of spec/audits.md from every committed report (``write=False``:
    only compare); True if it was (or would be) changed."""
    text = SPEC_PAGE.read_text(encoding="utf-8")
    if SUMMARY_BEGIN not in text:
        raise BadInput(f"{SPEC_PAGE}: no '{SUMMARY_BEGIN}' marker for the summary table")
    lines = [SUMMARY_BEGIN,
             "| package | implementation | algorithm | match | verdict | closest profile | cases run / all | "
             "time (s) | differences from the spec |",
             "|---|---|---|---|---|---|---|---|---|"]
    for package in packages:
        for cells in summary_rows(package):
            lines.append(f"| [{package}](../audits/reports/{package}.md) | " + " | ".join(cells) + " |")
    lines.append(SUMMARY_END)
    head, rest = text.split(SUMMARY_BEGIN, 1)
    new = head + "\n".join(lines) + rest.split(SUMMARY_END, 1)[1]
    if new != text and write:
        SPEC_PAGE.write_text(new, encoding="utf-8")
    return new != text
