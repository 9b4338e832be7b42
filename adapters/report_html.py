"""A single self-contained HTML report for ``optconform check``.

The file has no external resources: inline CSS, no scripts, plots embedded as base64 PNG data URIs.
It shows

* a header: verdict counts, time, adapters with their versions, the environment;
* the matrix algorithm × (code path, dtype): each cell counts pass/fail/error/skip over its
  scenarios (and profiles, adapters, devices) and is coloured green (all pass, skips allowed), red
  (any fail), orange (any error, no fail), grey (all skip); a cell with failures or errors links
  to their details;
* the details of every failing case (id, message, metrics and a plot of the error in ulps against
  the step, with the bound dashed) and of every error case (id, message), each with its notes
  (Python warnings, log records, the output of a worker that died or timed out);
* for every failing case, its divergence context (report_context.py): the profile it was checked
  against and that profile's axis values and defaults that differ from the spec profile, the
  vector's declared divergences, the precision effects applied to the reference, the declared
  finding that covers it, and the divergence catalog's measured size of the profile's difference;
* the machine it ran on (``summary.machine``: machine.py).

Plots are drawn only for failing cases, at most :data:`MAX_PLOTS` of them. matplotlib is imported
only when a plot is drawn, never at import time. The file is written atomically.
"""
from __future__ import annotations

import base64
import io
import math
import re
from html import escape

from .report_junit import atomic_write

MAX_PLOTS = 200
LOG_FLOOR = 1e-2  # zeros are drawn here on the log axis
VERDICTS = ("pass", "fail", "error", "skip")
METRICS = (("max ulp", "max_ulp"), ("max rel", "max_rel"), ("first failing step", "first_failing_step"),
           ("first failing element", "first_failing_element"), ("diverged first", "diverged_first"),
           ("bound (ulps)", "bound_ulp"))

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em;margin:0 0 .3em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin:1.4em 0 .3em} h4{font-size:1em;margin:.6em 0 .3em} code{font:12px ui-monospace,monospace}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
.counts span{display:inline-block;margin-right:1em;font-weight:600}
.matrix td{text-align:center;white-space:nowrap;font:12px ui-monospace,monospace}
.matrix td a{color:inherit}
.cell-pass{background:#c8f0c8} .cell-fail{background:#f5a8a8} .cell-error{background:#ffc98a}
.cell-skip{background:#ddd;color:#666} .cell-none{background:#fff}
.case{border-left:4px solid #d33;padding:.2em .8em;margin:.8em 0} .case.error{border-color:#f90}
.msg{white-space:pre-wrap;background:#f6f6f6;padding:.4em} .note{color:#a50}
.ctx{background:#f3f6fb;border:1px solid #cdd8ea;padding:.2em .8em;margin:.5em 0} .ctx ul{margin:.2em 0}
"""


def finite_float(value) -> float | None:
    """A finite float, or None for None, non-numbers, infinities and NaN (also as "inf"/"nan" strings)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _anchor(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(str(p) for p in parts))


def cell_class(counts: dict) -> str:
    """The colour class of a matrix cell from its verdict counts."""
    if counts["fail"]:
        return "cell-fail"
    if counts["error"]:
        return "cell-error"
    if counts["pass"]:
        return "cell-pass"
    return "cell-skip" if counts["skip"] else "cell-none"


def _plottable(values: list) -> list:
    """Values for a log axis: zeros clipped to LOG_FLOOR; None/inf/nan become NaN (a gap in the line)."""
    return [math.nan if finite_float(v) is None else max(finite_float(v), LOG_FLOOR) for v in values]


def plot_png(case: dict) -> str:
    """The base64 PNG of ``case``'s error in ulps per step (log y), with the bound dashed.

    Drawn on a bare Agg ``Figure`` (not pyplot): no global backend switch, nothing left open.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    errors = case.get("errors_by_step") or []
    bounds = case.get("bounds_by_step") or []
    fig = Figure(figsize=(6, 2.8), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    try:
        ys = _plottable(errors)
        ax.plot(range(1, len(ys) + 1), ys, "o-", ms=3, lw=1, label="error (ulps)")
        bs = _plottable(bounds)
        ax.plot(range(1, len(bs) + 1), bs, "--", color="k", lw=1, label="bound")
        bad = [t for t, e in enumerate(errors, 1) if e is not None and finite_float(e) is None]
        if bad:  # inf/nan errors: marked on the top edge of the plot
            ax.plot(bad, [1.0] * len(bad), "v", color="#d33", ms=6, clip_on=False,
                    transform=ax.get_xaxis_transform(), label="inf/nan error")
        if any(map(math.isfinite, ys + bs)):
            ax.set_yscale("log")
        step = case.get("first_failing_step")
        if finite_float(step) is not None:
            ax.axvline(float(step), color="#d33", lw=0.8, alpha=0.6)
        ax.set_xlabel("step")
        ax.set_ylabel("error (ulps)")
        ax.legend(loc="lower right", fontsize=7)
        ax.grid(True, which="major", alpha=0.3)
        fig.subplots_adjust(left=0.12, right=0.98, bottom=0.17, top=0.95)  # fixed: tight_layout doubles the time
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        fig.clear()
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _header(summary: dict, cases: list) -> list:
    counts = {v: summary.get(v, sum(c.get("verdict") == v for c in cases)) for v in VERDICTS}
    total = summary.get("total", len(cases))
    out = ["<h1>optconform check</h1>", '<p class="counts">',
           f"<span>{total} cases</span>",
           *(f'<span class="cell-{v}">&nbsp;{counts[v]} {v}&nbsp;</span>' for v in VERDICTS),
           f"<span>{_fmt(finite_float(summary.get('seconds')) or 0.0)} s</span></p>"]
    adapters = summary.get("adapters") or {}
    if adapters:
        out.append("<h2>Adapters</h2><table><tr><th>adapter</th><th>framework</th><th>version</th>"
                   "<th>available</th><th>reason</th></tr>")
        for name, info in sorted(adapters.items()):
            info = info or {}
            out.append("<tr>" + "".join(f"<td>{escape(_fmt(x))}</td>" for x in (
                name, info.get("framework"), info.get("version"), info.get("available"), info.get("reason"))) + "</tr>")
        out.append("</table>")
    machine = summary.get("machine") or {}
    if machine:
        out.append("<h2>Machine</h2><table>")
        for key, value in machine.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = "; ".join(map(str, value)) or "none"
            out.append(f"<tr><th>{escape(str(key))}</th><td>{escape(_fmt(value))}</td></tr>")
        out.append("</table>")
    env = summary.get("environment") or {}
    if env:
        out.append("<h2>Environment</h2><table>")
        out += [f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in sorted(env.items())]
        out.append("</table>")
    return out


def _matrix(cases: list) -> list:
    columns = sorted({(c["code_path"], c["dtype"]) for c in cases})
    rows = sorted({c["algorithm"] for c in cases})
    cells: dict = {}
    for c in cases:
        counts = cells.setdefault((c["algorithm"], c["code_path"], c["dtype"]), dict.fromkeys(VERDICTS, 0))
        if c.get("verdict") in counts:
            counts[c["verdict"]] += 1
    out = ["<h2>Matrix</h2>", "<p>Each cell: pass / fail / error / skip over its scenarios.</p>",
           '<table class="matrix"><tr><th>algorithm</th>'
           + "".join(f"<th>{escape(cp)}<br>{escape(dt)}</th>" for cp, dt in columns) + "</tr>"]
    for alg in rows:
        tds = []
        for cp, dt in columns:
            counts = cells.get((alg, cp, dt))
            if counts is None:
                tds.append('<td class="cell-none"></td>')
                continue
            text = " / ".join(str(counts[v]) for v in VERDICTS)
            if counts["fail"] or counts["error"]:
                text = f'<a href="#{_anchor("group", alg, cp, dt)}">{text}</a>'
            tds.append(f'<td class="{cell_class(counts)}">{text}</td>')
        out.append(f"<tr><th>{escape(alg)}</th>{''.join(tds)}</tr>")
    out.append("</table>")
    return out


def _context_section(case: dict, context: dict | None) -> list:
    """The divergence context of a failing case (report_context.py)."""
    profile = str(case.get("profile", ""))
    items = []
    if context is None or not context.get("known"):
        items.append(f"checked against profile <b>{escape(profile)}</b>, which this version of optconform does "
                     "not know (a report from another version or a third-party profile)")
    elif profile == "spec" or not context["axes"]:
        api = f" (<code>{escape(context['api'])}</code>)" if context.get("api") else ""
        items.append(f"checked against profile <b>{escape(profile)}</b>{api}: the spec's value on every semantic axis")
    else:
        api = f" (<code>{escape(context['api'])}</code>)" if context.get("api") else ""
        axes = "".join(
            f"<li><code>{escape(a['axis'])}</code> = {escape(a['value'])}"
            + (f" ({escape(a['means'])})" if a.get("means") else "")
            + f"; spec: {escape(a['spec'])}" + (f" ({escape(a['spec_means'])})" if a.get("spec_means") else "")
            + (" — differs only after a non-finite input" if a.get("finite_only") else "") + "</li>"
            for a in context["axes"])
        items.append(f"checked against profile <b>{escape(profile)}</b>{api}, which differs from the spec profile on "
                     f"{len(context['axes'])} axis(es):<ul>{axes}</ul>")
    if context and context.get("defaults"):
        items.append("defaults that differ from the spec's: " + escape(", ".join(
            f"{d['name']} = {d['value']} (spec {d['spec']})" for d in context["defaults"])))
    declared = case.get("declared_divergences")
    items.append("axes this vector tests on which the profile differs from the spec: "
                 + (escape(", ".join(map(str, declared))) if declared else "none (here the profile computes the spec's equations)"))
    effects = case.get("precision_effects") or {}
    items.append("precision effects applied to the reference: " + (
        escape(", ".join(f"{k} → {v}" for k, v in effects.items())) if effects else "none declared for this code path"))
    if case.get("known_finding"):
        items.append(f"<b>known finding</b> (declared in the profile): {escape(case['known_finding'])}")
    if context and context.get("measured"):
        items.append(f"divergence catalog, profile {escape(profile)}: {escape(context['measured'])}")
    return ['<div class="ctx"><b>Divergence context</b><ul>' + "".join(f"<li>{i}</li>" for i in items)
            + "</ul></div>"]


def _case_section(case: dict, png: str | None, context: dict | None = None, anchor: str | None = None) -> list:
    """One failing or error case; ``anchor``: its element id (default ``case-<id>``)."""
    verdict = case.get("verdict")
    anchor = anchor or _anchor("case", case.get("id", ""))
    out = [f'<div class="case {escape(verdict or "")}" id="{anchor}">',
           f"<h4>{escape(verdict or '')}: <code>{escape(str(case.get('id', '')))}</code></h4>",
           f'<div class="msg">{escape(case.get("message") or "")}</div>']
    if case.get("notes"):
        out.append(f"<details><summary>notes ({len(case['notes'])}): warnings, log records, worker output"
                   "</summary>" + "".join(f'<div class="msg">{escape(str(n))}</div>' for n in case["notes"])
                   + "</details>")
    if verdict != "fail":
        if case.get("known_finding"):
            out.append(f"<p><b>known finding</b> (declared in the profile): {escape(case['known_finding'])}</p>")
        if case.get("precision_effects"):
            effects = ", ".join(f"{k} → {v}" for k, v in case["precision_effects"].items())
            out.append(f"<p>precision effects applied to the reference: {escape(effects)}</p>")
    if verdict == "fail":
        out.append("<table>" + "".join(f"<tr><th>{label}</th><td>{escape(_fmt(case.get(key)))}</td></tr>"
                                       for label, key in METRICS) + "</table>")
        if case.get("diagnosis"):
            out += _diagnosis_section(case["diagnosis"])
        out += _context_section(case, context)
    if case.get("vector"):
        out.append(f"<p>vector: <code>{escape(str(case['vector']))}</code></p>")
    if png:
        out.append(f'<p><img alt="error in ulps per step" src="data:image/png;base64,{png}"><br>'
                   f'<small>Error in ulps per step, bound dashed; zeros drawn at {LOG_FLOOR:g}, '
                   f'▼ marks infinite or NaN errors.</small></p>')
    out.append("</div>")
    return out


def _diagnosis_section(diagnosis: dict) -> list:
    """The diagnosis of a failing case (adapters/diagnosis.py): its line, and the axes that differ."""
    from .diagnosis import line

    head = "diagnosis" if diagnosis.get("explained") else "diagnosis (unexplained)"
    out = [f"<p><b>{head}</b>: {escape(line(diagnosis))}</p>"]
    axes = diagnosis.get("axes") or {}
    if axes:
        out.append("<table><tr><th>axis</th><th>declared</th><th>found</th></tr>" + "".join(
            f"<tr><td>{escape(a)}</td><td>{escape(str(v[0]))}</td><td>{escape(str(v[1]))}</td></tr>"
            for a, v in axes.items()) + "</table>")
    return out


def _details(cases: list, contexts: dict) -> list:
    bad = [c for c in cases if c.get("verdict") in ("fail", "error")]
    if not bad:
        return []
    out = ["<h2>Failing and error cases</h2>"]
    groups: dict = {}
    for c in bad:
        groups.setdefault((c["algorithm"], c["code_path"], c["dtype"]), []).append(c)
    plots = 0
    n_failing = sum(c["verdict"] == "fail" for c in bad)
    if n_failing > MAX_PLOTS:
        out.append(f'<p class="note">{n_failing} failing cases: plots are shown for the first {MAX_PLOTS} only.</p>')
    for (alg, cp, dt), group in sorted(groups.items()):
        out.append(f'<h3 id="{_anchor("group", alg, cp, dt)}">{escape(alg)} · {escape(cp)} · {escape(dt)}</h3>')
        for c in sorted(group, key=lambda c: str(c.get("id", ""))):
            png = None
            if c["verdict"] == "fail" and plots < MAX_PLOTS and (c.get("errors_by_step") or c.get("bounds_by_step")):
                png = plot_png(c)
                plots += 1
            out += _case_section(c, png, contexts.get((c.get("algorithm"), c.get("profile"))))
    return out


def _audit_section(card: dict) -> list:
    """``optconform audit``'s report card (adapters/audit_card.py) as HTML: the same text the
    terminal shows, and the per-profile table."""
    import io

    from .audit_card import print_card

    text = io.StringIO()
    print_card(card, text)
    return ["<h2>Audit report card</h2>", f"<pre>{escape(text.getvalue())}</pre>"]


def render(cases: list, summary: dict, contexts: dict | None = None) -> str:
    """The report as an HTML string. ``contexts``: the failing cases' divergence contexts,
    {(algorithm, profile): context} (default: computed by report_context.contexts)."""
    if contexts is None:
        from .report_context import contexts as compute

        contexts = compute(cases)
    audit = _audit_section(summary["audit"]) if summary.get("audit") else []
    body = [*_header(summary, cases), *audit, *_matrix(cases), *_details(cases, contexts)]
    title = "optconform audit report" if audit else "optconform check report"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(path, cases: list, summary: dict, contexts: dict | None = None) -> None:
    """Write the self-contained HTML report for ``cases`` (``CaseResult.as_json()`` dicts) to ``path``."""
    atomic_write(path, render(cases, summary, contexts).encode("utf-8"))
