"""``optconform divergences``: the divergence catalog and the porting guide on the terminal.

The computations are the reference's (optconform.reference.catalog, .porting); this module only
renders them: Markdown (reference/catalog_page.py for the catalog, :func:`guide_markdown` for a
porting guide), shown through rich on a terminal and as plain Markdown when piped, and JSON for
``--json FILE`` (``-``: standard output). Imports no framework.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from optconform.reference import UserError
from optconform.reference.catalog_page import REGIME_LABEL, _cell, hyper_cell, size, sizes_cells

PROG = "optconform divergences"
VERDICT = {"exact": "exactly", "approximately": "approximately", "not_at_all": "not at all",
           "finite_equal": "identical for finite gradients"}


def _measure_line(kind: str, sizes: dict | None, regimes: list) -> str:
    if sizes is None:
        return "no difference (same semantics and defaults)"
    cells = sizes_cells(kind, sizes, regimes)
    if kind == "schedule":
        return f"up to the horizon {cells[0]}, past it {cells[1]}, first differs at {cells[2]}"
    return "; ".join(f"{REGIME_LABEL.get(r, r)} {c}" for r, c in zip(regimes, cells))


def guide_markdown(g: dict, regimes: list) -> str:
    kind = g["kind"]
    src, dst = g["from"], g["to"]
    lines = [f"## Porting {g['algorithm']}: `{src['api'] or 'spec'}` ({src['profile']}) → "
             f"`{dst['api'] or 'spec'}` ({dst['profile']})", ""]
    lines.append(f"Verdict: the target reproduces the source **{VERDICT[g['verdict_at_defaults']]}** at the "
                 f"source's defaults" + ("" if g["verdict"] == g["verdict_at_defaults"] else
                                         f", **{VERDICT[g['verdict']]}** with every feature on") + ".")
    lines.append("")
    steps = "t = 1 / 10 / 100 steps" if kind == "optimizer" else "learning rates"
    lines += ["### Constructor calls", "", "```"]
    for label, key in (("source:", "from"), ("target, same math:", "to"), ("target defaults:", "to_defaults")):
        lines.append(f"{label:<19}{g['calls'][key]['code']}")
        lines += [f"{'':<17}+ {code}" for code in g["calls"][key].get("beside", [])]
    lines.append("```")
    for side in ("from", "to"):
        for extra in g["calls"][side]["elsewhere"]:
            lines.append(f"- {'source' if side == 'from' else 'target'}: {extra}")
    lines.append("")
    rows = [h for h in g["hyper"] if h["status"] not in ("same", "neither has it")]
    if rows:
        lines += ["### Hyperparameters", "", f"| canonical | {src['profile']} | {dst['profile']} | to do |",
                  "|---|---|---|---|"]
        for h in rows:
            a, b = (hyper_cell({"keyword": h[side], "default": h[f"{side}_default"], "supported": h[side] is not None,
                                "value": h.get(f"{side}_value", h[f"{side}_default"]),
                                "required": h.get(f"{side}_required", False)}) for side in ("from", "to"))
            lines.append(f"| `{h['name']}` | {_cell(a)} | {_cell(b)} | {h['status']} |")
        lines.append("")
    lines += ["### Semantic differences", ""]
    if not g["axes"]:
        lines.append("None: both profiles take the same value on every axis.")
    for a in g["axes"]:
        cond = " (non-finite inputs only)" if a["finite_only"] else ""
        if a.get("switch"):
            cond = f" (only when `{a['switch']}` is on" + ("" if a.get("switch_on") else ", off at the source's defaults") + ")"
        head = f"- **`{a['axis']}`**{cond}: {a['from']} ({a['from_means']}) → {a['to']} ({a['to_means']}). "
        body = f"Reproducible **{VERDICT[a['verdict']]}**"
        how = []
        for o in a["options"]:
            also = f", which also changes {', '.join(o['also_changes'])}" if o["also_changes"] else ""
            same = " (the same API on another backend or configuration)" if o["api"] == dst["api"] else ""
            how.append(f"use profile {o['profile']}: `{o['api']}`{same}{also}")
        rule = a.get("rule")
        if rule:
            sets = ", ".join(f"`{rule['keywords'][k]}` = {rule['expressions'][k]}" for k in rule["set"])
            at = ", ".join(f"{k} = {v}" for k, v in rule["checked_at"].items())
            how.append(f"set {sets} ({rule['note']}); checked with the reference at {at}: residual "
                       f"{_measure_line(kind, rule['residual'], regimes)}")
        if a.get("advice"):
            how.append(a["advice"])
        if a["residual"] is not None:
            at = (" at " + ", ".join(f"{k} = {v}" for k, v in a["hyper"].items())) if a.get("hyper") else ""
            how.append(f"the difference with nothing set{at} ({steps}): {_measure_line(kind, a['residual'], regimes)}")
            if a["verdict"] == "exact" and not a["options"] and not rule:
                how.append("nothing to set: no difference at these hyperparameters")
        if a["finite_only"]:
            how.append("the two forms are equal in exact arithmetic for finite gradients; after an infinite or NaN "
                       f"gradient the state differs (the vectors whose `separates` names {a['axis']} test it)")
        lines.append(head + body + (": " + "; ".join(how) if how else "") + ".")
    lines.append("")
    lines += ["### Measured trajectory difference", ""]
    lines.append(f"- nothing changed (names translated, the target's defaults): "
                 f"{_measure_line(kind, g['unchanged'], regimes)}")
    lines.append(f"- the source's values passed (the semantic difference alone): "
                 f"{_measure_line(kind, g['translated'], regimes)}")
    f64 = g.get("float64")
    if f64 is not None:
        worst = max([v for row in f64["float64"].values() for v in row.values() if isinstance(v, float)], default=0.0)
        at = ", ".join(f"{k} = {v}" for k, v in f64.get("hyper", {}).items())
        at = f" at the source's values with {at}" if at else " at the source's values"
        if f64["verdict"] == "differ":
            exact = max([v for row in f64["exact"].values() for v in row.values() if isinstance(v, float)], default=0.0)
            lines.append(f"- in float64: not compared: {at.strip()} the two differ in exact arithmetic already "
                         f"(up to {size(exact)} relative), a semantic difference")
        elif f64["verdict"] == "up_to_rounding":
            lines.append(f"- in float64 (every operation rounded to 53 bits, declared precision effects applied){at}: "
                         + ("bit-identical parameters" if worst == 0 else
                            f"equal up to rounding, at most {size(worst)} relative"))
        else:
            why = ", ".join(f"{n} in {a} / {b}" for n, (a, b) in f64["precision_differs"].items())
            lines.append(f"- in float64{at} the two differ by up to {size(worst)} relative: equal in exact arithmetic "
                         "only, the float64 difference comes from the arithmetic"
                         + (f" (declared precision: {why})" if why else ""))
    for side, label in (("from", "source"), ("to", "target")):
        for e in g["precision"][side]:
            held = "the parameters' dtype" if e["dtype"] == "param" else e["dtype"]
            lines.append(f"- {label} precision effect ({e['where']}): {', '.join(e['hypers'])} held in {held}"
                         + (f" — {e['note'][:200]}{'…' if len(e['note']) > 200 else ''}" if e["note"] else ""))
    if kind == "optimizer":
        lines.append("")
        lines.append("Relative difference of the parameters after t = 1 / 10 / 100 steps, exact reference; "
                     + "; ".join(f"*{REGIME_LABEL.get(k, k)}*: {v}" for k, v in _regime_docs().items()) + ".")
    if "confirm" in g:
        lines += ["", confirm_markdown(g, regimes)]
    if "index" in g:
        lines += ["", "### Index convention", "",
                  f"- source ({src['profile']}): {g['index']['from']}",
                  f"- target ({dst['profile']}): {g['index']['to']}",
                  "- both give update k the value the reference computes at k (k = 0 the first update)."]
    return "\n".join(lines) + "\n"


CONFIRM_VERDICT = {"agree": "agree", "disagree": "DISAGREE", "not_installed": "not installed", "not_run": "not run"}


def _side_label(side: dict) -> str:
    if side["framework"] == "spec":
        return "the reference (spec)"
    if not side["available"]:
        return f"{side['framework']} (not installed)"
    effects = ", ".join(f"{k} in {v}" for k, v in side.get("effects", {}).items())
    return f"{side['framework']} `{side['code_path']}`" + (f" (declared: {effects})" if effects else "")


def confirm_markdown(g: dict, regimes: list) -> str:
    """The ``--confirm`` section: per statement, the frameworks' measured difference beside the
    reference's prediction (adapters/porting_confirm.py)."""
    c = g["confirm"]
    kind = g["kind"]
    lines = ["### Confirmed on the frameworks", "",
             f"Each statement run on the installed frameworks ({c['dtype']}, {c['device']}, default code paths) on "
             "the scenario above; *predicted*: the exact reference's difference of the two runs, *measured*: the "
             "frameworks'. *agree*: each framework's run is its own profile's exact trajectory within the bound "
             f"of spec/tolerance.md, so the measured difference is the predicted one up to rounding ({c['seconds']} s).",
             ""]
    for e in c["checks"]:
        head = (f"- **{e['statement']}** ({e['claim']}): {_side_label(e['from'])} → {_side_label(e['to'])}: "
                f"**{CONFIRM_VERDICT[e['verdict']]}**")
        parts = []
        for r in (regimes if kind == "optimizer" else ["lr"]):
            if r not in e["predicted"]:
                continue
            pred = " / ".join(size(v) for v in e["predicted"][r].values())
            meas = " / ".join(size(v) for v in e["measured"][r].values()) if r in e["measured"] else "—"
            if r in e.get("predicted_effects", {}):
                pred += " (declared effects applied: " + " / ".join(size(v) for v in e["predicted_effects"][r].values()) + ")"
            label = REGIME_LABEL.get(r, r) if kind == "optimizer" else "learning rates"
            parts.append(f"{label} predicted {pred}, measured {meas}")
        lines.append(head + (": " + "; ".join(parts) if parts else "") + (f" — {e['note']}" if e["note"] else "") + ".")
    return "\n".join(lines)


def _regime_docs() -> dict:
    from optconform.reference.catalog import REGIMES

    return {r.name: r.doc for r in REGIMES}


def _show(markdown: str) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(markdown))
    else:
        sys.stdout.write(markdown)


def _write_json(target: str, doc: dict) -> None:
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    from optconform.reference.vectors import atomic_write

    try:
        atomic_write(Path(target), text.encode("utf-8"))
    except OSError as exc:
        raise UserError(f"{PROG}: cannot write {target}: {exc.strerror or exc}") from None


def vector_flags(directory: Path, names: list) -> dict:
    """{algorithm: {axis: [vector paths that separate it]}} from the vectors' ``separates`` fields
    (vectors written before the field existed contribute nothing). Reads each file only up to that
    line: ``dumps`` writes one top-level key per line."""
    from optconform.reference.vectors import read_manifest

    out: dict = {}
    manifest = read_manifest(directory)
    for rel in manifest["files"]:
        alg = rel.split("/", 1)[0]
        if alg not in names:
            continue
        try:
            with open(directory / rel, encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith(' "separates":'):
                        value = json.loads(line.split(":", 1)[1].rstrip().rstrip(","))
                        for axis in value:
                            out.setdefault(alg, {}).setdefault(axis, []).append(rel)
                        break
                    if line.startswith(' "steps"'):
                        break
        except OSError:
            continue
    return out


def _flags_markdown(flagged: dict) -> str:
    lines = ["### Vectors that separate each axis", ""]
    for axis, rels in sorted(flagged.items()):
        shown = ", ".join(f"`{r}`" for r in rels[:6]) + (f" and {len(rels) - 6} more" if len(rels) > 6 else "")
        lines.append(f"- `{axis}`: {shown}")
    return "\n".join(lines) + "\n"


def cmd_divergences(args) -> int:
    from optconform.reference.catalog import Cache, catalog
    from optconform.reference.catalog_page import algorithm_section
    from optconform.reference.model import get
    from optconform.reference.vectors import default_vector_dir

    start = time.perf_counter()
    names = [get(n).name for n in args.algorithms]
    if (args.source is None) != (args.target is None):
        raise UserError(f"{PROG}: the porting guide needs both --from and --to")
    if getattr(args, "confirm", False) and args.source is None:
        raise UserError(f"{PROG}: --confirm confirms a porting guide: give --from and --to")
    cache = Cache(enabled=not args.no_cache)
    if args.source is not None:
        if len(names) != 1:
            raise UserError(f"{PROG}: --from/--to take exactly one ALGORITHM, got {len(names)}")
        from optconform.reference.porting import guide

        doc = cache.get(f"guide:{names[0]}:{args.source}:{args.target}",
                        lambda: guide(names[0], args.source, args.target))
        cache.save()
        if getattr(args, "confirm", False):
            from .porting_confirm import confirm

            doc = dict(doc, confirm=confirm(doc))
        if args.json:
            _write_json(args.json, doc)
        if args.json != "-":
            from optconform.reference.catalog import REGIMES

            _show(guide_markdown(doc, [r.name for r in REGIMES]))
        return 0
    doc = catalog(names or None, cache)
    if args.json:
        _write_json(args.json, doc)
    if args.json == "-":
        return 0
    directory = Path(args.vectors) if args.vectors else default_vector_dir()
    if args.vectors and not directory.is_dir():
        raise UserError(f"{directory}: vector folder does not exist")
    flagged = vector_flags(directory, [e["name"] for e in doc["algorithms"]]) if (directory / "manifest.json").exists() else {}
    parts = []
    for entry in doc["algorithms"]:
        parts.append(algorithm_section(entry, list(doc["regimes"])))
        if entry["name"] in flagged:
            parts.append(_flags_markdown(flagged[entry["name"]]))
    _show("\n".join(parts))
    print(f"{len(doc['algorithms'])} algorithm(s) in {time.perf_counter() - start:.1f} s; "
          f"spec/divergences.md has them all", file=sys.stderr)
    return 0
