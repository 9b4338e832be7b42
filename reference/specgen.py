"""Generate the tables of the spec pages from the profile data, so documentation cannot drift.

Each page ``spec/algorithms/<name>.md`` is prose written by hand with generated blocks between
markers::

    <!-- BEGIN GENERATED: hyperparameters -->
    ...
    <!-- END GENERATED: hyperparameters -->

Blocks: ``hyperparameters`` (canonical names, ranges, each profile's default and name, or
"required" where the framework's constructor has no default),
``profiles`` (which value each profile takes on every axis, and what the values mean),
``frameworks`` (API, source read, declared precision effects, notes) and ``divergences`` (the
size of each profile's difference from the spec profile, measured with the reference on the
``probe`` and ``tiny_grad`` scenarios).

``python -m optconform.reference.specgen`` rewrites the blocks; ``--check`` exits 1 naming every
stale page (a test runs it).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import mpmath

from .catalog import shown_keyword
from .model import Algorithm, Namespace, algorithms, encode_hyper
from .numeric import precision

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
BLOCKS = ("hyperparameters", "profiles", "frameworks", "divergences")
MARK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v) -> str:
    v = encode_hyper(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def hyperparameter_table(alg: Algorithm) -> str:
    profs = list(alg.profiles.values())
    head = "| canonical | meaning | range | " + " | ".join(p.name for p in profs) + " |"
    rule = "|" + "---|" * (3 + len(profs))
    rows = [head, rule]
    for name, h in alg.hypers.items():
        cells = []
        for p in profs:
            if name in p.unsupported:
                fixed = p.fixed_value(h)
                cells.append(f"— (fixed {_value(h.parse(fixed))})")
                continue
            fw_name = shown_keyword(p, name, p.names.get(name, name if p.name == "spec" else ""))
            if name in p.required:  # the constructor has no default: the user must give it
                cells.append(f"`{fw_name}` (required)" if fw_name else "(required)")
                continue
            default = _value(h.parse(p.defaults.get(name, h.default)))
            cells.append(f"`{fw_name}` = {default}" if fw_name and p.name != "spec" else default)
        rows.append(f"| `{name}` | {_cell(h.doc)} | {_cell(h.range_text())} | " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def profile_table(alg: Algorithm) -> str:
    if not alg.axes:
        return "This algorithm has no semantic axis: every profile computes the same equations."
    profs = list(alg.profiles.values())
    spec = alg.profiles["spec"].semantics
    rows = ["| axis | " + " | ".join(p.name for p in profs) + " |", "|" + "---|" * (1 + len(profs))]
    for axis in alg.axes:
        cells = []
        for p in profs:
            v = p.semantics[axis]
            cells.append(f"**{v}**" if v != spec[axis] else v)
        rows.append(f"| `{axis}` | " + " | ".join(cells) + " |")
    rows.append("")
    rows.append("Bold: differs from the spec profile. The values:")
    rows.append("")
    for axis, values in alg.axes.items():
        definition = alg.axis_defs[axis]
        rows.append(f"- `{axis}` — {definition.doc}")
        for v in values:
            rows.append(f"  - `{v}`: {definition.values[v]}")
    return "\n".join(rows)


def framework_table(alg: Algorithm) -> str:
    out = []
    for p in alg.profiles.values():
        if p.name == "spec":
            out.append(f"- **spec** — {p.source}")
            continue
        line = f"- **{p.name}** — `{p.api}`" + (f" ({p.version})" if p.version else "")
        if p.source:
            line += f"; read from {p.source}"
        out.append(line)
        if p.state_names:
            out.append("  - state: " + ", ".join(f"`{k}` = `{v}`" for k, v in p.state_names.items()))
        if p.unsupported:
            out.append("  - lacks: " + ", ".join(f"`{u}`" for u in p.unsupported))
        for e in p.precision:
            held = "the parameters' dtype" if e.dtype == "param" else e.dtype
            out.append(f"  - precision effect: {', '.join(e.hypers)} held in {held} ({e.where}"
                       + "".join(f"; step variant `{v}`" for v in _variants_of(alg, e)) + ")"
                       + (f": {e.note}" if e.note else ""))
        for f in p.findings:
            out.append(f"  - known finding ({f.where}, verdict {f.verdict}): {f.note}")
        for note in p.notes:
            out.append(f"  - {note}")
    return "\n".join(out)


def _variants_of(alg: Algorithm, effect) -> list:
    """The step variants that model the effect's names other than real hyperparameters (those
    round the hyperparameter itself): the first that models each, reference/effects.py."""
    from .effects import classify, select_variant

    out = []
    for name in effect.hypers:
        if classify(name, alg) != "hyper":
            chosen = select_variant(alg.step_variants, {name.removesuffix("@checkpoint")}, alg.name)
            if chosen not in out:
                out.append(chosen)
    return out


def divergence_table(alg: Algorithm) -> str:
    """Max relative difference of each profile from spec, computed with the reference (the
    measurement of the divergence catalog, reference/catalog.py)."""
    from .catalog import final_values, relative_difference
    from .scenarios import cases

    wanted = ("probe", "tiny_grad", "weight_decay") if alg.kind == "optimizer" else ("probe", "past_horizon")
    rows = ["| profile | axes that differ from spec | " + " | ".join(f"`{w}`" for w in wanted) + " |",
            "|" + "---|" * (2 + len(wanted))]
    any_row = False
    with precision(30):
        # both sides parse their hyperparameters at the same precision (0.004 is not dyadic)
        spec_cases = {c.scenario: c for c in cases(alg, alg.profiles["spec"])}
        base = {w: final_values(spec_cases[w]) for w in wanted if w in spec_cases}
        for p in list(alg.profiles.values())[1:]:
            differs = [a for a in alg.axes if p.semantics[a] != alg.profiles["spec"].semantics[a]]
            if not differs:
                continue
            any_row = True
            mine = {c.scenario: c for c in cases(alg, p)}
            cells = []
            for w in wanted:
                if w not in mine or w not in base:
                    cells.append("n/a")
                    continue
                if any(mine[w].groups[i][1] != spec_cases[w].groups[i][1] for i in range(len(mine[w].groups))):
                    cells.append("n/a (hyperparameters differ)")
                    continue
                worst = relative_difference(final_values(mine[w]), base[w])
                cells.append(mpmath.nstr(worst, 2) if worst else "0 (identical here)")
            rows.append(f"| {p.name} | " + ", ".join(f"`{a}`" for a in differs) + " | " + " | ".join(cells) + " |")
    if not any_row:
        return "Every profile has the spec profile's semantics."
    unit = "final parameters" if alg.kind == "optimizer" else "learning rates"
    return ("Largest relative difference from the spec profile over the "
            f"{unit}, computed with the reference (same hyperparameters):\n\n" + "\n".join(rows))


RENDER = {"hyperparameters": hyperparameter_table, "profiles": profile_table,
          "frameworks": framework_table, "divergences": divergence_table}


def render_page(alg: Algorithm, text: str) -> str:
    def replace(match):
        block = match.group(2)
        if block not in RENDER:
            return match.group(0)
        return f"{match.group(1)}{RENDER[block](alg)}\n{match.group(4)}"

    return MARK.sub(replace, text)


def page_path(alg: Algorithm, spec_dir: Path = SPEC_DIR) -> Path:
    return spec_dir / "algorithms" / f"{alg.name}.md"


def index_table() -> str:
    """The algorithm index of spec/README.md."""
    rows = []
    for kind in ("optimizer", "schedule"):
        rows.append(f"### {kind.capitalize()}s\n")
        rows.append("| algorithm | profiles | axes | summary |")
        rows.append("|---|---|---|---|")
        for alg in algorithms().values():
            if alg.kind != kind:
                continue
            rows.append(f"| [{alg.title}](algorithms/{alg.name}.md) (`{alg.name}`) | {', '.join(alg.profiles)} | "
                        f"{', '.join(f'`{a}`' for a in alg.axes) or '—'} | {_cell(alg.summary)} |")
        rows.append("")
    return "\n".join(rows).rstrip()


def stale_pages(spec_dir: Path = SPEC_DIR, write: bool = False) -> list[str]:
    problems = []
    index = spec_dir / "README.md"
    if index.exists():
        text = index.read_text(encoding="utf-8")
        new = MARK.sub(lambda m: f"{m.group(1)}{index_table()}\n{m.group(4)}" if m.group(2) == "index"
                       else m.group(0), text)
        if new != text:
            if write:
                index.write_text(new, encoding="utf-8")
            else:
                problems.append(f"{index}: generated index is stale")
    else:
        problems.append(f"{index}: missing")
    for alg in algorithms().values():
        path = page_path(alg, spec_dir)
        if not path.exists():
            problems.append(f"{path}: missing spec page for {alg.name}")
            continue
        text = path.read_text(encoding="utf-8")
        missing = [b for b in BLOCKS if f"<!-- BEGIN GENERATED: {b} -->" not in text]
        if missing:
            problems.append(f"{path}: no generated block(s) {', '.join(missing)}")
        new = render_page(alg, text)
        if new != text:
            if write:
                path.write_text(new, encoding="utf-8")
            else:
                problems.append(f"{path}: generated tables are stale")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optconform.reference.specgen",
                                     description="Regenerate the tables in spec/algorithms/*.md from the profiles.")
    parser.add_argument("--check", action="store_true", help="exit 1 if any page is stale")
    parser.add_argument("--spec", default=str(SPEC_DIR), help="spec folder (default: the checkout's)")
    args = parser.parse_args(argv)
    problems = stale_pages(Path(args.spec), write=not args.check)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
