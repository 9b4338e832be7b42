"""The report card of ``optconform audit`` (adapters/audit.py), computed from the cases' verdicts.

* **profiles** — for each profile of the algorithm (spec, the frameworks'), how many of the cases
  of its vectors pass, fail or are not applicable, and the largest error; the target *conforms* to
  a profile when every applicable case of it passes (at least one ran). The best match is the
  profile with the largest share of passing cases (then the fewest failures, the smallest error).
* **groups** — the best match's verdict per scenario group (audit.SCENARIO_GROUPS).
* **fingerprint** — for each axis, the values no passing float64 case rules out: every vector lists
  the axis values it separates under the float64 bound (``separates``, reference/flags.py), so a
  target that passes it in float64 cannot have made those choices. One value left: the target's; none: ``unexplained``; several: the
  vectors that pass cannot tell.
* **defaults** — the target's signature defaults against the spec's and every profile's.
* **state round trip** — the ``resume`` cases (state saved, loaded into a fresh instance).
* **gradient** — whether ``step()`` changed the gradient it was given (frameworks' audit notes).
* **code paths** — whether the target's code paths give the same verdict and error on every vector.
* **diagnoses** — the distinct diagnoses of the failing cases, with their counts.
"""
from __future__ import annotations

import collections
import math

from optconform.reference.model import get

from .audit import GRADIENT_NOTE, NOT_APPLICABLE, AuditConfig, profile_order, scenario_group
from .diagnosis import line


def _applicable(result) -> bool:
    return not (result.verdict == "skip" and result.message.startswith(NOT_APPLICABLE))


def _worst(values) -> float | None:
    finite = [v for v in values if v is not None]
    return max(finite) if finite else None


def counts_for(config: AuditConfig, result, docs: dict, coverage: dict | None = None) -> list:
    """The profiles a case's verdict counts for: those audit.audit_work checked its vector for with
    the case's precision effects (a vector the spec shares with torch is checked once exactly, for
    the spec, and once with torch's effects, for torch); default: every profile of its vector."""
    key = (config.registry_name(), result.vector, result.code_path, result.dtype, result.profile)
    return list((coverage or {}).get(key, docs[result.vector]["profiles"]))


def card(config: AuditConfig, results: list, docs: dict, coverage: dict | None = None) -> dict:
    """The report card; ``docs`` maps each vector path to its document, ``coverage`` says which
    profiles each case counts for (audit.audit_work; default: every profile of its vector)."""
    alg = get(config.algorithm)
    chosen = config.profiles or profile_order(config.algorithm)
    by_profile: dict = {p: [] for p in profile_order(config.algorithm) if p in chosen}
    for r in results:
        for p in counts_for(config, r, docs, coverage):
            if p in by_profile:
                by_profile[p].append(r)
    profiles = []
    for name, rs in by_profile.items():
        ran = [r for r in rs if r.verdict in ("pass", "fail", "error")]
        profiles.append({
            "profile": name, "framework": alg.profiles[name].framework or name,
            "pass": sum(r.verdict == "pass" for r in rs), "fail": sum(r.verdict == "fail" for r in rs),
            "error": sum(r.verdict == "error" for r in rs),
            "not_applicable": sum(not _applicable(r) for r in rs),
            "skip": sum(r.verdict == "skip" and _applicable(r) for r in rs),
            "max_ulp": _worst(r.max_ulp if r.max_ulp is None or math.isfinite(r.max_ulp) else math.inf for r in ran),
        })
    conforms = [p["profile"] for p in profiles if p["pass"] and not p["fail"] and not p["error"]]
    best = max(profiles, key=lambda p: (p["pass"] / max(1, p["pass"] + p["fail"] + p["error"]),
                                        -(p["fail"] + p["error"]), -(p["max_ulp"] or 0)))
    return {
        "target": config.target, "algorithm": config.algorithm, "framework": config.framework,
        "mapping": config.mapping, "unmapped": config.unmapped(), "options": config.options,
        "code_paths": list(config.code_paths),
        "conforms_to": conforms,
        "best_profile": best,
        "profiles": profiles,
        "groups": _groups(by_profile[best["profile"]]),
        "fingerprint": _fingerprint(config, results, docs),
        "defaults": _defaults(config),
        "state_round_trip": _verdicts([r for r in results if r.scenario == "resume"]),
        "gradient_modified": sorted({r.vector for r in results if any(GRADIENT_NOTE in n for n in r.notes)}),
        "code_paths_agree": _paths(config, results),
        "diagnoses": _diagnoses(results),
        "not_applicable": sorted({r.message for r in results if not _applicable(r)}),
    }


def _verdicts(rs: list) -> dict:
    counts = collections.Counter(r.verdict if _applicable(r) else NOT_APPLICABLE for r in rs)
    return dict(sorted(counts.items()))


def _groups(rs: list) -> list:
    groups: dict = {}
    for r in rs:
        groups.setdefault(scenario_group(r.scenario), []).append(r)
    out = []
    for name, members in groups.items():
        counts = _verdicts(members)
        verdict = ("fail" if counts.get("fail") or counts.get("error") else
                   "pass" if counts.get("pass") else NOT_APPLICABLE if counts.get(NOT_APPLICABLE) else "skip")
        out.append({"group": name, "verdict": verdict, "counts": counts,
                    "scenarios": sorted({r.scenario for r in members})})
    return out


def _fingerprint(config: AuditConfig, results: list, docs: dict) -> dict:
    """Per axis, from the float64 cases (vectors separate axis values under the float64 bound):

    * a failing case whose diagnosis explains it by a change of the axis is direct evidence: the
      value most such diagnoses found is the target's (``matched``);
    * otherwise the passes decide (those whose state was compared, where the vector has state:
      a vector may separate an axis by the state alone): every pass rules out the values its vector separates
      (``separates``, computed from the exact reference's alternatives) and supports its own value
      of those axes; one value left, or one value supported most, is the target's; none left:
      ``unexplained``; several: ``undetermined``.

    A diagnosis outranks the exclusions because the alternatives are exact while implementations
    round: a threshold test on a float64 ρ_t can pass a vector that separates its exact form.
    The ``defaults`` scenario is left out: it tests default values, not semantics."""
    alg = get(config.algorithm)
    possible = {axis: list(values) for axis, values in alg.axes.items()}
    passes = {axis: collections.Counter() for axis in alg.axes}
    found = {axis: collections.Counter() for axis in alg.axes}
    for r in results:
        if r.dtype != "float64" or r.scenario == "defaults":  # defaults tests default values, not semantics
            continue
        semantics = docs[r.vector]["semantics"]
        separates = docs[r.vector].get("separates", {})
        has_state = any(docs[r.vector]["steps"][0].get("state", {}).values()) if docs[r.vector]["kind"] == "optimizer" \
            else False
        if r.verdict == "pass" and has_state and not r.compared.get("state"):
            continue  # the target's state was not read: a vector may separate its axes by the state alone
        if r.verdict == "pass":
            for axis, ruled in separates.items():
                if axis in possible:
                    possible[axis] = [v for v in possible[axis] if v not in ruled]
                    passes[axis][semantics.get(axis)] += 1
        elif r.verdict == "fail" and r.diagnosis and r.diagnosis.get("explained"):
            for axis, (_declared, value) in (r.diagnosis.get("axes") or {}).items():
                if axis in found:
                    found[axis][value] += 1
    out = {}
    for axis, values in possible.items():
        top = found[axis].most_common(2)
        if top and (len(top) == 1 or top[0][1] > top[1][1]):
            status, chosen = "matched", [top[0][0]]
        else:
            ranked = [(v, n) for v, n in passes[axis].most_common() if v in values]
            if not values:
                status, chosen = "unexplained", []
            elif len(values) == 1:
                status, chosen = "matched", values
            elif ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
                status, chosen = "matched", [ranked[0][0]]
            else:
                status, chosen = "undetermined", values
        support = dict(passes[axis])
        for v, n in found[axis].items():
            support[f"{v} (diagnosed)"] = n
        out[axis] = {"status": status, "values": chosen, "support": support}
    return out


def _defaults(config: AuditConfig) -> list:
    import re

    from optconform.reference.model import encode_hyper

    alg = get(config.algorithm)
    rows = []
    for canonical, kw in config.mapping.items():
        m = re.match(r"^(\w+)\[(\d+)\]$", kw)
        base = m.group(1) if m else kw
        raw = config.target_defaults.get(base, "required" if base in config.required else None)
        if m and isinstance(raw, list):
            raw = raw[int(m.group(2))] if int(m.group(2)) < len(raw) else None
        row = {"hyper": canonical, "keyword": kw, "target": raw, "profiles": {}}
        for name, prof in alg.profiles.items():
            if canonical in prof.unsupported:
                continue
            row["profiles"][name] = "required" if canonical in prof.required else encode_hyper(alg.defaults(name)[canonical])
        rows.append(row)
    return rows


def _paths(config: AuditConfig, results: list) -> dict:
    """Whether the code paths give the same verdict on every vector and dtype (``differences``),
    and on how many their errors are not identical (rounding differs with the order of operations)."""
    if len(config.code_paths) < 2:
        return {"paths": list(config.code_paths), "agree": None, "differences": [], "errors_differ": 0}
    by_key: dict = {}
    for r in results:
        by_key.setdefault((r.vector, r.dtype), {})[r.code_path] = r
    differences = []
    errors_differ = 0
    for (vector, dtype), paths in sorted(by_key.items()):
        verdicts = {p: r.verdict for p, r in paths.items()}
        errors = {p: r.max_ulp for p, r in paths.items()}
        errors_differ += len({repr(e) for e in errors.values()}) > 1
        if len(set(verdicts.values())) > 1:
            differences.append({"vector": vector, "dtype": dtype, "verdicts": verdicts,
                                "max_ulp": {p: (e if e is None or math.isfinite(e) else str(e)) for p, e in errors.items()}})
    return {"paths": list(config.code_paths), "agree": not differences, "differences": differences,
            "errors_differ": errors_differ}


def _diagnoses(results: list) -> list:
    counts = collections.Counter(line(r.diagnosis).split("; residual")[0] for r in results if r.diagnosis)
    return [{"diagnosis": text, "cases": n} for text, n in counts.most_common()]


def exit_status(report: dict) -> int:
    """0 if the target conforms to the spec or a declared framework profile, else 1."""
    return 0 if report["conforms_to"] else 1


def print_card(report: dict, out) -> None:
    """The report card for the terminal."""
    w = out.write
    w(f"audit {report['target']} as {report['algorithm']} ({report['framework']})\n")
    mapped = ", ".join(f"{c}→{k}" for c, k in report["mapping"].items())
    w(f"keyword mapping: {mapped or 'none'}\n")
    if report["unmapped"]:
        w(f"  not taken by the target: {', '.join(report['unmapped'])} (vectors that need them are not applicable)\n")
    if report["options"]:
        w(f"  fixed options: {report['options']}\n")
    w(f"code paths: {', '.join(report['code_paths'])}\n\n")
    w(f"{'profile':<20} {'pass':>5} {'fail':>5} {'error':>5} {'n/a':>5}  max ulp\n")
    for p in report["profiles"]:
        worst = "-" if p["max_ulp"] is None else f"{p['max_ulp']:.3g}"
        w(f"{p['profile']:<20} {p['pass']:>5} {p['fail']:>5} {p['error']:>5} {p['not_applicable']:>5}  {worst}\n")
    best = report["best_profile"]["profile"]
    w(f"\nscenario groups (against {best}):\n")
    for g in report["groups"]:
        counts = ", ".join(f"{k} {v}" for k, v in g["counts"].items())
        w(f"  {g['group']:<22} {g['verdict']:<15} ({counts})\n")
    w("\nsemantic fingerprint:\n")
    for axis, f in report["fingerprint"].items():
        text = f["values"][0] if f["status"] == "matched" else (
            "unexplained (every value ruled out)" if f["status"] == "unexplained"
            else f"undetermined: {' or '.join(f['values'])}")
        if f["support"]:
            text += "   (" + ", ".join(f"{v}: {n}" for v, n in f["support"].items()) + " float64 cases)"
        w(f"  {axis:<22} {text}\n")
    w("\ndefaults (target vs profiles):\n")
    for row in report["defaults"]:
        same = [n for n, v in row["profiles"].items() if _same(row["target"], v)]
        w(f"  {row['hyper']:<14} {row['keyword']:<14} {row['target']!s:<12} "
          f"same as: {', '.join(same) if same else 'none'}\n")
    w(f"\nstate round trip (resume): {report['state_round_trip'] or 'no resume vector'}\n")
    grad = report["gradient_modified"]
    w(f"step() modifies the gradient in place: {'yes (' + str(len(grad)) + ' vectors)' if grad else 'no'}\n")
    agree = report["code_paths_agree"]
    if agree["agree"] is not None:
        w(f"code paths {' / '.join(agree['paths'])} give the same verdicts: "
          f"{'yes' if agree['agree'] else 'no (' + str(len(agree['differences'])) + ' cases differ)'}"
          f" (errors not identical on {agree['errors_differ']} cases)\n")
    if report["diagnoses"]:
        w("\ndiagnoses of the failing cases:\n")
        for d in report["diagnoses"][:10]:
            w(f"  {d['cases']:>4} × {d['diagnosis']}\n")
    if report["conforms_to"]:
        ran = {p["profile"]: p for p in report["profiles"]}
        parts = [f"{n} ({ran[n]['pass']} cases passed, {ran[n]['not_applicable']} not applicable)"
                 for n in report["conforms_to"]]
        w(f"\nverdict: conforms to {', '.join(parts)}\n")
    else:
        p = report["best_profile"]
        w(f"\nverdict: diverges from every profile; closest: {p['profile']} ({p['pass']} pass, "
          f"{p['fail'] + p['error']} fail)\n")


def _same(target, profile_value) -> bool:
    if target is None or profile_value == "required" or target == "required":
        return target == profile_value
    try:
        return float(target) == float(profile_value)
    except (TypeError, ValueError):
        return str(target) == str(profile_value)


__all__ = ["card", "exit_status", "print_card"]
