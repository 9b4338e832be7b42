"""Diagnose a failing case: which neighbouring semantics the implementation computes instead.

For a case that fails its vector, the reference is rerun under every neighbour of the declared
profile (reference/diagnosis.py: one axis changed, another profile, another profile's defaults,
a feature ignored, the step or schedule index moved by one; two axes changed where no single change
explains it), and the implementation's trajectory is compared with each by the checker's own
comparison (checker.compare: the same bound, the vector's rounding spread). A neighbour
*explains* the case when the implementation passes it. The best explanation (the first passing
neighbour in the order above, ties to the smallest error) is reported with its residual error; if
none passes, the case is ``unexplained``, with its first failing step, element and state entry and
the closest neighbour.

Precision is the one diagnosis without a rerun: an implementation that passes the same vector
under the bound of a narrower format (float32, bfloat16, float16: the vector carries their
rounding spread), by an error that looks like that format's rounding (at least a quarter of its
ulp somewhere), and whose parameters or state entries are all values of that format, computes in
that format whatever its parameters' dtype: a precision effect, not a semantic difference.

The result is the ``diagnosis`` object of DESIGN.md's case JSON: ``explained``, ``summary`` (one
line), ``kind``, ``profile`` (the declared profile whose semantics the match equals, if any),
``profiles`` (every such profile), ``axes`` (the axes that differ from the declared profile: {axis: [declared, found]}), ``hyper``,
``t_shift``, ``schedule_shift``, ``dtype``, ``residual_ulp``, ``declared_ulp``, ``tried``,
``seconds``; unexplained: ``first_failing_step``, ``first_failing_element``, ``first_state_entry``
and ``closest``.

Imports no framework.
"""
from __future__ import annotations

import json
import math
import struct
import time
from dataclasses import replace

from optconform.reference import diagnosis as D
from optconform.reference.model import get

from .checker import CaseResult, compare
from .protocol import AdapterRun, Implementation

PREFIX_STEPS = 12  # a candidate is screened on at least this many first steps (and past the first failure)
ROUNDING_FLOOR = 0.25  # ulps of a narrower format: below it, the error is not that format's rounding
NARROWER = {"float64": ("float32", "bfloat16", "float16"), "float32": ("bfloat16", "float16"),
            "float16": (), "bfloat16": ()}


def _score(cand_doc: dict, text: str, run: AdapterRun, impl: Implementation, profile: str) -> CaseResult:
    return compare(cand_doc, run, impl, profile, doc_json=text)


def _finite(x):
    return x if x is None or math.isfinite(x) else str(x)


def _entry(candidate: D.Candidate, result: CaseResult, hood: D.Neighbourhood, declared: CaseResult) -> dict:
    """The JSON of one neighbour's comparison."""
    found = dict(hood.semantics)
    if candidate.profile is not None:
        found.update(get(hood.algorithm).profile(candidate.profile).semantics)
    found.update(dict(candidate.axes))
    differ = {a: [hood.semantics[a], found[a]] for a in hood.active if found.get(a) != hood.semantics[a]}
    matching = D.matching_profiles(hood.algorithm, found, hood.active) if differ else []
    if candidate.profile is not None:
        matching = [candidate.profile] + [p for p in matching if p != candidate.profile]
    return {
        "kind": candidate.kind,
        "summary": candidate.label,
        "profile": matching[0] if matching else None,
        "profiles": matching,
        "axes": differ,
        "hyper": dict(candidate.hyper),
        "t_shift": candidate.t_shift,
        "schedule_shift": candidate.schedule_shift,
        "dtype": None,
        "residual_ulp": _finite(result.max_ulp),
        "declared_ulp": _finite(declared.max_ulp),
        "verdict": result.verdict,
    }


def _precision(doc: dict, text: str, run: AdapterRun, impl: Implementation, profile: str,
               declared: CaseResult) -> dict | None:
    """The widest narrower format in whose bound the implementation passes the vector, if any."""
    for fmt in NARROWER.get(impl.dtype, ()):
        if fmt not in doc.get("spread", {}):
            continue
        result = compare(doc, run, replace(impl, dtype=fmt), profile, doc_json=text)
        # rounding to fmt moves some value of a trajectory by a sizeable part of an ulp of fmt;
        # an error far below that is a small semantic difference, not that format's arithmetic
        if result.verdict == "pass" and (result.max_ulp or 0) >= ROUNDING_FLOOR and held_in(run, fmt):
            return {"kind": "precision", "summary": f"computes in {fmt} (within {fmt}'s bound of the vector; "
                                                    f"{result.max_ulp:.3g} {fmt} ulps): a precision effect",
                    "profile": None, "profiles": [], "axes": {}, "hyper": {}, "t_shift": 0, "schedule_shift": 0, "dtype": fmt,
                    "residual_ulp": _finite(result.max_ulp), "declared_ulp": _finite(declared.max_ulp),
                    "verdict": "pass"}
    return None


def framework_profiles(algorithm: str, framework: str) -> set:
    """The profiles of ``algorithm`` that ``framework`` declares (preferred among equal explanations)."""
    return {name for name, prof in get(algorithm).profiles.items() if (prof.framework or name) == framework}


def representable(x: float, fmt: str) -> bool:
    """Whether the float ``x`` is a value of ``fmt`` (NaN and infinities are values of every format)."""
    if not math.isfinite(x):
        return True
    try:
        if fmt == "float16":
            return struct.unpack("<e", struct.pack("<e", x))[0] == x
        single = struct.unpack("<f", struct.pack("<f", x))[0]
    except (OverflowError, struct.error):
        return False
    if single != x:
        return False
    return fmt == "float32" or struct.unpack("<I", struct.pack("<f", x))[0] & 0xFFFF == 0


def held_in(run: AdapterRun, fmt: str) -> bool:
    """Whether every parameter, or every state entry, the implementation returned is a value of
    ``fmt``: what an implementation that computes in ``fmt`` and writes its results back leaves,
    and what a small semantic difference computed in the wider format never does."""
    params, state = [], []
    for step in run.steps:
        for values in step.get("params", {}).values():
            params += [float(v) for v in values]
        for entries in step.get("state", {}).values():
            for value in entries.values():
                state += [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if "params" not in (run.steps[0] if run.steps else {}):
        params = [float(s["lr"]) for s in run.steps if isinstance(s.get("lr"), (int, float))]
    return any(values and all(representable(v, fmt) for v in values) for values in (params, state))


def _rank(entry: dict) -> float:
    r = entry["residual_ulp"]
    return math.inf if r is None or isinstance(r, str) else r


def diagnose(doc: dict, run: AdapterRun, impl: Implementation, profile: str, declared: CaseResult,
             effects: dict | None = None, doc_json: str | None = None, source: dict | None = None) -> dict:
    """The diagnosis of a case that failed ``doc`` (the expected vector: the declared effects
    applied; in one-step mode the one-step document, and ``source`` the vector it was made from)
    with the adapter's ``run``; ``declared`` is that failing comparison."""
    start = time.perf_counter()
    effects = dict(effects or {})
    text = doc_json if doc_json is not None else json.dumps(doc)
    one_step = run.mode == "one-step"
    vector = source if one_step and source is not None else doc
    hood = D.neighbourhood(vector, profile)
    tried = []

    def candidate_doc(cand, steps: int) -> tuple[dict, str]:
        if not one_step:
            cand_text = D.trajectory_document(D.prefix(doc, steps), profile, effects, hood.semantics, cand)
            return json.loads(cand_text), cand_text
        cand_doc = json.loads(D.one_step_document(D.prefix(vector, steps), profile, impl.dtype, effects,
                                                  hood.semantics, cand))
        cand_doc["spread"] = D.prefix(doc, steps).get("spread", {})  # the declared one-step spread
        return cand_doc, json.dumps(cand_doc)

    total = len(doc["steps"])
    cut = min(total, max(PREFIX_STEPS, 2 * (declared.first_failing_step or 0) + 4))
    head = AdapterRun(run.steps[:cut], mode=run.mode)

    def attempt(candidates) -> list:
        """The passing candidates of the first kind (in D.KINDS order) that has any."""
        passing = []
        for cand in candidates:
            if passing and cand.kind != passing[-1]["kind"]:
                break  # a simpler kind of explanation already matches
            try:
                if cut < total:  # screen on the first steps: most neighbours differ there already
                    short_doc, short_text = candidate_doc(cand, cut)
                    screened = _score(short_doc, short_text, head, impl, profile)
                    if screened.verdict != "pass":
                        tried.append(_entry(cand, screened, hood, declared))
                        continue
                cand_doc, cand_text = candidate_doc(cand, total)
            except ValueError:
                continue
            result = _score(cand_doc, cand_text, run, impl, profile)
            entry = _entry(cand, result, hood, declared)
            tried.append(entry)
            if result.verdict == "pass":
                passing.append(entry)
        return passing

    best = None
    if not one_step or source is not None:
        passing = attempt(hood.single)
        if not passing:
            passing = attempt(hood.pairs)
        if passing:
            own = framework_profiles(doc["algorithm"], impl.adapter)
            order = D.kinds_order(vector["scenario"])
            best = min(passing, key=lambda e: (order.index(e["kind"]), e["profile"] not in own, _rank(e)))
    if best is None:
        best = _precision(doc, text, run, impl, profile, declared)
    out = {"explained": best is not None}
    if best is not None:
        out.update(best)
    else:
        closest = min(tried, key=_rank) if tried else None
        where = declared.message.split(":", 1)[0] if declared.message else ""
        out.update({
            "summary": "unexplained: no neighbouring semantics matches" + (f" (first divergence: {where})"
                                                                        if where else ""),
            "kind": None, "profile": None, "profiles": [], "axes": {}, "residual_ulp": None,
            "declared_ulp": _finite(declared.max_ulp),
            "first_failing_step": declared.first_failing_step,
            "first_failing_element": declared.first_failing_element,
            "diverged_first": declared.diverged_first,
            "first_state_entry": declared.first_failures.get("state", {}).get("element"),
            "closest": closest,
        })
    out["tried"] = len(tried) + (1 if best is not None and best["kind"] == "precision" else 0)
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


__all__ = ["diagnose", "line"]


def line(diagnosis: dict | None) -> str:
    """One line for the terminal, JUnit and HTML: the explanation and its residual error, the
    profiles it matches, or where an unexplained divergence starts and the closest neighbour."""
    if not diagnosis:
        return ""
    text = diagnosis.get("summary", "")
    if diagnosis.get("explained"):
        profiles = diagnosis.get("profiles") or []
        if profiles and diagnosis.get("kind") != "profile":
            text += f"; matches profile {', '.join(profiles)}"
        residual = diagnosis.get("residual_ulp")
        if residual is not None and diagnosis.get("kind") != "precision":
            text += f"; residual {_num(residual)} ulps against {_num(diagnosis.get('declared_ulp'))} declared"
    else:
        if diagnosis.get("first_state_entry"):
            text += f"; first state entry: {diagnosis['first_state_entry']}"
        closest = diagnosis.get("closest")
        if closest:
            text += f"; closest: {closest['summary']} ({_num(closest['residual_ulp'])} ulps)"
    return text


def _num(x) -> str:
    if isinstance(x, (int, float)):
        return f"{x:.3g}"
    return str(x)
