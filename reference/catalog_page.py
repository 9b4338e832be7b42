"""The divergence catalog as Markdown: spec/divergences.md, and what ``optconform divergences``
prints (through rich) — one rendering of reference/catalog.py's document.

``python -m optconform.reference.catalog_page`` rewrites spec/divergences.md and the catalog the
package ships (spec/divergences.json, reference/catalog.py ``SEED``: what a first
``optconform divergences`` reads instead of recomputing); ``--check`` exits 1 when either is stale
(a test runs it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalog import SEED, STEPS, Cache, catalog, seed_text

SPEC_PAGE = Path(__file__).resolve().parent.parent / "spec" / "divergences.md"
REGIME_LABEL = {"ordinary": "ordinary", "near_eps": "near ε", "scheduled": "scheduled"}


def size(v) -> str:
    """A measured size as text: 2 significant digits, ``0``, ``non-finite`` or ``—``."""
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    return f"{v:.2g}"


def sizes_cells(kind: str, sizes: dict | None, regimes: list) -> list:
    """Table cells of one measurement: per regime ``a / b / c`` (t = 1, 10, 100) for an optimizer;
    ``k ≤ T``, ``k > T`` and the first differing k for a schedule."""
    if kind == "schedule":
        row = (sizes or {}).get("lr")
        if row is None:
            return ["—"] * 3
        if "error" in row:
            return [row["error"], "", ""]
        first = "never" if row["first_k"] is None else f"k = {row['first_k']}"
        return [size(row["within"]), size(row["past"]), first]
    out = []
    for regime in regimes:
        row = (sizes or {}).get(regime)
        if row is None:
            out.append("—")
        elif "error" in row:
            out.append(row["error"])
        else:
            out.append(" / ".join(size(row[str(t)]) for t in STEPS))
    return out


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _api(entry: dict, profile: str) -> str:
    for p in entry["profiles"]:
        if p["name"] == profile:
            return f"`{p['api']}`" if p["api"] else "the spec"
    return profile


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def hyper_cell(c: dict, spec: bool = False) -> str:
    """One profile's cell of a hyperparameter: ``keyword`` = the framework's own value (``required``
    where its constructor has no default), or ``— (fixed v)`` where it lacks the hyperparameter."""
    if not c["supported"]:
        return f"— (fixed {_value(c['default'])})"
    if spec:
        return _value(c["default"])
    value = "required" if c.get("required") else _value(c.get("value", c["default"]))
    return f"`{c['keyword']}` = {value}"


def algorithm_section(entry: dict, regimes: list, level: int = 2) -> str:
    h = "#" * level
    kind = entry["kind"]
    profiles = [p["name"] for p in entry["profiles"]]
    lines = [f"{h} {entry['title']} (`{entry['name']}`)", ""]
    lines.append("Profiles: " + "; ".join(f"**{p['name']}** {('`' + p['api'] + '`') if p['api'] else '(canonical)'}"
                                          for p in entry["profiles"]) + ".")
    lines.append("")
    if entry["axes"]:
        lines += [f"{h}# Axes", "", "| axis | " + " | ".join(profiles) + " |", "|" + "---|" * (1 + len(profiles))]
        for row in entry["axes"]:
            cells = [f"**{row['values'][p]}**" if row["values"][p] != row["spec"] else row["values"][p] for p in profiles]
            mark = " (non-finite only)" if row["finite_only"] else (f" (when `{row['switch']}` is on)" if row["switch"] else "")
            lines.append(f"| `{row['axis']}`{mark} | " + " | ".join(cells) + " |")
        lines += ["", "Bold: differs from the spec. *Non-finite only*: the values agree in exact arithmetic for "
                  "finite inputs and differ once a gradient is infinite or NaN.", ""]
    else:
        lines += ["No semantic axis: every profile computes the same equations.", ""]
    hyper = [r for r in entry["hyperparameters"] if r["defaults_differ"] or r["names_differ"]]
    if hyper:
        lines += [f"{h}# Hyperparameters whose names or defaults differ", "",
                  "| canonical | " + " | ".join(profiles) + " |", "|" + "---|" * (1 + len(profiles))]
        for r in hyper:
            cells = []
            for p in profiles:
                c = r["profiles"][p]
                cells.append(hyper_cell(c, p == "spec"))
            lines.append(f"| `{r['name']}` | " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if any(d["axes"] or d["defaults"] for d in entry["differences"]):
        lines += [f"{h}# Measured differences from the spec", ""]
        if kind == "optimizer":
            also = entry.get("evaluated") or []
            weights = (" and of the weights a user evaluates (" + ", ".join(f"`{e}`" for e in also) + ")") if also else ""
            lines.append(f"Largest relative difference of the parameters{weights} from the spec profile's after t = "
                         + ", ".join(str(t) for t in STEPS) + " steps (reference, exact arithmetic).")
            head = [REGIME_LABEL.get(r, r) for r in regimes]
        else:
            lines.append("Largest relative difference of the learning rate from the spec profile's, up to the "
                         "horizon T and past it (2.5 T), and the first update index k that differs.")
            head = ["k ≤ T", "k > T", "first differs"]
        lines += ["", "| profile | difference | " + " | ".join(head) + " |", "|" + "---|" * (2 + len(head))]
        for d in entry["differences"]:
            label = d["profile"]
            for a in d["axes"]:
                what = f"`{a['axis']}` {a['spec']} → {a['value']}"
                if a["finite_only"]:
                    lines.append(f"| {label} | {what} | " + " | ".join(
                        ["0 for finite gradients (differs after an infinite or NaN one)"] + [""] * (len(head) - 1)) + " |")
                    continue
                if a.get("at_probe") is not None:
                    what += " at the probe values (" + ", ".join(f"{k} = {_value(v)}" for k, v in a["at_probe"].items()) + ")"
                elif a.get("hyper"):
                    what += " at " + ", ".join(f"{k} = {v}" for k, v in a["hyper"].items())
                lines.append(f"| {label} | {what} | " + " | ".join(sizes_cells(kind, a.get("effect"), regimes)) + " |")
            if d["semantics"] is not None and len([a for a in d["axes"] if not a["finite_only"]]) > 1:
                lines.append(f"| {label} | all its axes, the spec's hyperparameters | "
                             + " | ".join(sizes_cells(kind, d["semantics"], regimes)) + " |")
            if d["as_shipped"] is not None:
                changed = ", ".join(f"{x['name']} = {_value(x[d['profile']])}" for x in d["defaults"])
                what = "as shipped (its own defaults" + (f": {changed}" if changed else "") + ")"
                lines.append(f"| {label} | {what} | " + " | ".join(sizes_cells(kind, d["as_shipped"], regimes)) + " |")
        lines.append("")
    if entry["equivalences"]:
        lines += [f"{h}# Equivalences", ""]
        for e in entry["equivalences"]:
            a, b = e["profiles"]
            worst = max([v for row in e["float64"].values() for v in row.values() if isinstance(v, float)], default=0.0)
            if e["verdict"] == "up_to_rounding":
                claim = (f"- **{_api(entry, a)} ≡ {_api(entry, b)}** ({a}, {b}) up to rounding: equal in exact "
                         f"arithmetic, and within {size(worst)} relative in float64")
            else:
                why = ", ".join(f"{n} in {fa} / {fb}" for n, (fa, fb) in e["precision_differs"].items())
                claim = (f"- **{_api(entry, a)} ≟ {_api(entry, b)}** ({a}, {b}): equal in exact arithmetic only — "
                         f"in float64 they differ by up to {size(worst)} relative"
                         + (f" (declared precision: {why})" if why else ""))
            notes = []
            if e["axes_equal_here"]:
                notes.append("axes that differ yet compute the same here: " + ", ".join(f"`{x}`" for x in e["axes_equal_here"]))
            if e["differ_nonfinite"]:
                notes.append("they differ after a non-finite gradient (" + ", ".join(f"`{x}`" for x in e["differ_nonfinite"]) + ")")
            if e["defaults_differ"]:
                notes.append("defaults differ: " + ", ".join(f"{x['name']} {_value(x[a])} vs {_value(x[b])}"
                                                             for x in e["defaults_differ"]))
            if e.get("hyper"):
                notes.append("checked with " + ", ".join(f"{k} = {v}" for k, v in e["hyper"].items()))
            lines.append(claim + ("; " + "; ".join(notes) if notes else "") + ".")
        lines.append("")
    return "\n".join(lines)


INTRO = """# Divergence catalog

<!-- Generated by `python -m optconform.reference.catalog_page` from reference/profiles/*.toml and the
reference; do not edit. `optconform divergences [ALGORITHM ...]` prints the same, `--json` the data. -->

For every algorithm: what each framework's declared profile chooses on every semantic axis (against the
canonical `spec` profile and against each other), the hyperparameters whose names or defaults differ, the
measured size of each difference, and the profiles that compute the same thing.

How the sizes are measured (reference/catalog.py): the exact reference runs both profiles on a 2×2
parameter tensor for {steps} steps and compares the parameters after t = {ts}: {regimes}. A difference on one
axis is measured with only that axis changed, at the spec's defaults (a feature such as weight decay switched
on at its probe value); "as shipped" compares each profile with its own defaults. Schedules are compared
over their learning rates at the `probe` hyperparameters, up to the horizon and past it.

An equivalence is claimed only when the exact trajectories agree (to 40 digits) on every measurement, and
"up to rounding" only when they still agree in float64: both runs emulated with every operation rounded to
53 bits and each profile's declared precision effects applied, within {limit}. Otherwise the pair is
"equal in exact arithmetic only", with the float64 difference.

`optconform divergences ALGORITHM --from A --to B` is the porting guide for one pair of frameworks.
"""


def render(doc: dict, intro: bool = True) -> str:
    regimes = list(doc["regimes"])
    parts = []
    if intro:
        parts.append(INTRO.format(steps=doc["steps"][-1], ts=", ".join(str(t) for t in doc["steps"]),
                                  regimes="; ".join(f"*{REGIME_LABEL.get(k, k)}*: {v}" for k, v in doc["regimes"].items()),
                                  limit=doc["rounding_limit"]))
        rows = ["| algorithm | frameworks | axes on which profiles differ | equivalences |", "|---|---|---|---|"]
        for e in doc["algorithms"]:
            fw = sorted({p["framework"] for p in e["profiles"]} - {"spec"})
            axes = [r["axis"] for r in e["axes"] if len(set(r["values"].values())) > 1]
            rows.append(f"| [{e['title']}](#{_anchor(e)}) | {', '.join(fw) or '—'} | "
                        f"{', '.join(f'`{a}`' for a in axes) or '—'} | {len(e['equivalences'])} |")
        parts.append("## Index\n\n" + "\n".join(rows) + "\n")
    for e in doc["algorithms"]:
        parts.append(algorithm_section(e, regimes))
    return "\n".join(parts).rstrip() + "\n"


def _anchor(entry: dict) -> str:
    text = f"{entry['title']} ({entry['name']})".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optconform.reference.catalog_page",
                                     description="Regenerate spec/divergences.md from the divergence catalog.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    parser.add_argument("--output", default=str(SPEC_PAGE), help="the page (default: the checkout's)")
    parser.add_argument("--seed", default=str(SEED), help="the shipped catalog (default: the checkout's)")
    args = parser.parse_args(argv)
    path, seed = Path(args.output), Path(args.seed)
    document = catalog(cache=Cache())
    text, data = render(document), seed_text(document)
    if args.check:
        stale_files = [p for p, want in ((path, text), (seed, data))
                       if not p.exists() or p.read_text(encoding="utf-8") != want]
        for p in stale_files:
            print(f"{p}: stale; run python -m optconform.reference.catalog_page", file=sys.stderr)
        return 1 if stale_files else 0
    path.write_text(text, encoding="utf-8")
    seed.write_text(data, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
