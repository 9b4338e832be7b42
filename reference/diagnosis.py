"""Diagnosis: the neighbouring semantics under which the reference is rerun for a failing case.

A case fails when an implementation's trajectory leaves the bound around the vector of the
profile it claims. Diagnosis asks which *nearby* semantics the implementation computes instead.
Each neighbour is the vector's own inputs (parameters, gradients or objective, groups, schedule,
checkpoint) rerun exactly under one change from the declared profile:

1. ``axis``     — one axis set to another value: every value of the algorithm's axis, and for
                  ``weight_decay`` every form of reference/axes.toml (decay × η_t, × the schedule
                  multiplier s_t, × nothing, coupled L2, none), since one shared equation computes
                  them all (reference/common.py);
2. ``profile``  — another profile of the algorithm, whole (its semantics on every axis);
3. ``defaults`` — in the ``defaults`` scenario, another profile's default hyperparameters (with
                  the declared semantics, and with that profile's semantics too);
4. ``ignored``  — a feature hyperparameter (weight decay, maximize, ...) at its neutral value,
                  as an implementation that ignores the keyword computes;
5. ``step_index``, ``schedule_index`` — the step count t or the schedule index k moved by one
                  either way (bias corrections from t ± 1; a schedule stepped before the update);
6. ``axes``     — two axes changed at once (tried only when no single change explains the case).

Precision is diagnosed without a rerun: an implementation that computes in a narrower format
than the parameters' (float32 arithmetic on float64 tensors) is within that format's bound of
the same vector (the adapters' side: adapters/diagnosis.py). The comparison of each neighbour
with the implementation is the checker's (adapters/checker.py), never a second one.

A candidate is first rerun on the vector's first steps only (:func:`prefix`: past the first
failing step, where an explanation must already agree), and in full only if it matches there.
Neighbour trajectories do not depend on the implementation: they are kept on disk per vector,
declared effects and candidate (reference/disk_cache.py), so a vector's second diagnosis (another
code path, dtype or target) reads them back.
"""
from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field

from . import disk_cache
from .model import Profile, axes as all_axes, encode_hyper, get

DEFAULTS_SCENARIO = "defaults"
KINDS = ("axis", "profile", "defaults", "ignored", "step_index", "schedule_index", "axes", "precision")


@dataclass(frozen=True)
class Candidate:
    """One neighbouring semantics: what changes from the declared profile."""

    kind: str
    axes: tuple = ()  # ((axis, value), ...): the semantics that replace the declared ones
    profile: str | None = None  # another profile's semantics (and, with ``hyper``, its defaults)
    hyper: tuple = ()  # ((name, encoded value), ...) replacing the vector's hyperparameters
    t_shift: int = 0
    schedule_shift: int = 0
    label: str = ""

    def key(self) -> str:
        return json.dumps([self.kind, self.axes, self.profile, self.hyper, self.t_shift, self.schedule_shift])


@dataclass
class Neighbourhood:
    """The declared profile's view of a vector: its semantics and the candidates around it."""

    algorithm: str
    profile: str
    semantics: dict  # the declared profile's full semantics, with the vector's active axes
    active: list  # the axes that matter for this vector
    single: list = field(default_factory=list)
    pairs: list = field(default_factory=list)


def _axis_values(alg, axis: str) -> list:
    """The values an axis can take in a rerun: the algorithm's own, and for ``weight_decay`` every
    form the shared equation computes."""
    values = list(alg.axes[axis])
    if axis == "weight_decay":
        values += [v for v in all_axes()["weight_decay"].values if v not in values]
    return values


def _semantics_text(changes) -> str:
    return ", ".join(f"{a} = {v}" for a, v in changes)


def neighbourhood(doc: dict, profile: str) -> Neighbourhood:
    """Every candidate of a vector under the declared ``profile`` (module docstring)."""
    alg = get(doc["algorithm"])
    declared: Profile = alg.profile(profile)
    semantics = dict(declared.semantics, **doc["semantics"])
    active = list(doc["semantics"])
    out = Neighbourhood(alg.name, profile, semantics, active)
    singles = []
    for axis in active:
        for value in _axis_values(alg, axis):
            if value != semantics[axis]:
                singles.append(Candidate("axis", axes=((axis, value),),
                                         label=f"{axis} = {value} (declared: {semantics[axis]})"))
    for name, other in alg.profiles.items():
        if name == profile:
            continue
        differ = tuple((a, other.semantics[a]) for a in active if other.semantics.get(a) != semantics[a])
        if differ:
            singles.append(Candidate("profile", axes=differ, profile=name,
                                     label=f"profile {name} ({_semantics_text(differ)})"))
    if doc["scenario"] == DEFAULTS_SCENARIO:
        singles += _default_candidates(alg, declared, doc, active, semantics)
    singles += _ignored_candidates(alg, doc)
    if alg.kind == "optimizer":
        singles += [Candidate("step_index", t_shift=s, label=f"step count t {s:+d} (bias corrections, schedules of t)")
                    for s in (1, -1)]
    if alg.kind == "schedule" or "schedule" in doc["inputs"]:
        singles += [Candidate("schedule_index", schedule_shift=s,
                              label=f"schedule index k {s:+d} (the schedule stepped "
                                    f"{'before' if s > 0 else 'after'} the update it sets)")
                    for s in (1, -1)]
    order = kinds_order(doc["scenario"])
    out.single = sorted(singles, key=lambda c: order.index(c.kind))  # stable: the order above within a kind
    axis_changes = [c for c in singles if c.kind == "axis"]
    for a, b in itertools.combinations(axis_changes, 2):
        if a.axes[0][0] != b.axes[0][0]:
            both = a.axes + b.axes
            out.pairs.append(Candidate("axes", axes=both, label=f"{_semantics_text(both)} (declared: "
                                       f"{_semantics_text((x, semantics[x]) for x, _ in both)})"))
    return out


def kinds_order(scenario: str) -> tuple:
    """The order in which kinds of explanation are tried and preferred: simplest first, and in the
    ``defaults`` scenario (which tests default values, run on the implementation's own) another
    profile's defaults or an ignored feature before any change of semantics."""
    if scenario == DEFAULTS_SCENARIO:
        return ("defaults", "ignored") + tuple(k for k in KINDS if k not in ("defaults", "ignored"))
    return KINDS


def _default_candidates(alg, declared: Profile, doc: dict, active: list, semantics: dict) -> list:
    """Another profile's default hyperparameters in place of the declared ones (``defaults``
    scenario), with the declared semantics and with that profile's."""
    mine = alg.defaults(declared.name)
    out = []
    for name, other in alg.profiles.items():
        if name == declared.name:
            continue
        theirs = alg.defaults(name)
        changed = tuple((h, encode_hyper(theirs[h])) for h in sorted(theirs)
                        if theirs[h] != mine.get(h) and h not in other.unsupported and h not in other.required)
        if not changed:
            continue
        text = ", ".join(f"{h} = {v}" for h, v in changed)
        out.append(Candidate("defaults", hyper=changed, label=f"the defaults of {name} ({text})"))
        differ = tuple((a, other.semantics[a]) for a in active if other.semantics.get(a) != semantics[a])
        if differ:
            out.append(Candidate("defaults", axes=differ, profile=name, hyper=changed,
                                 label=f"profile {name} with its defaults ({_semantics_text(differ)}; {text})"))
    return out


def _ignored_candidates(alg, doc: dict) -> list:
    """Each feature hyperparameter the vector sets away from its neutral value, neutral instead."""
    out = []
    for name, h in alg.hypers.items():
        if not h.feature or h.neutral is None:
            continue
        neutral = h.parse(h.neutral)
        if any(g["hyper"].get(name) is not None and h.parse(g["hyper"][name]) != neutral
               for g in doc["inputs"]["groups"]):
            out.append(Candidate("ignored", hyper=((name, encode_hyper(neutral)),),
                                 label=f"{name} ignored (computed as {name} = {encode_hyper(neutral)})"))
    return out


def prefix(doc: dict, steps: int) -> dict:
    """The vector cut to its first ``steps`` steps (inputs, expected steps and spread): what a
    candidate must match before its whole trajectory is worth computing."""
    if steps >= len(doc["steps"]):
        return doc
    out = dict(doc, steps=doc["steps"][:steps])
    inputs = dict(doc["inputs"])
    if "grads" in inputs:
        inputs["grads"] = inputs["grads"][:steps]
    if doc["kind"] == "schedule":
        inputs["steps"] = steps
        if "metrics" in inputs:
            inputs["metrics"] = inputs["metrics"][:steps]
    out["inputs"] = inputs
    out["spread"] = {d: values[:steps] for d, values in doc.get("spread", {}).items()}
    if "inject" in doc:
        out["inject"] = doc["inject"][:steps]
    return out


def applied(doc: dict, semantics: dict, candidate: Candidate) -> dict:
    """The vector with the candidate's semantics and hyperparameters in place (its steps are those
    of the declared profile until :func:`trajectory_document` recomputes them)."""
    out = copy.deepcopy(doc)
    changed = dict(semantics)
    if candidate.profile is not None:
        changed.update(get(doc["algorithm"]).profile(candidate.profile).semantics)
    changed.update(dict(candidate.axes))
    out["semantics"] = changed
    for name, value in candidate.hyper:
        for group in out["inputs"]["groups"]:
            group["hyper"][name] = value
    return out


def trajectory_document(doc: dict, profile: str, effects: dict, semantics: dict, candidate: Candidate) -> str:
    """The vector's JSON text with the steps the reference computes under ``candidate`` (and the
    declared precision effects, where the candidate's semantics admit them); kept on disk.
    Raises ArithmeticError or ValueError where the reference cannot run the candidate (a bias
    correction from step 0 divides by 0)."""
    key = disk_cache.key(json.dumps(doc, sort_keys=True), profile, json.dumps(sorted(effects.items())),
                         candidate.key())

    def compute():
        from .replay import case_from_vector
        from .trajectory import run
        from .vectors import steps_json

        changed = applied(doc, semantics, candidate)
        case = case_from_vector(changed, profile)
        try:
            records = run(case, effects=effects or None, t_shift=candidate.t_shift,
                          schedule_shift=candidate.schedule_shift)
        except (ArithmeticError, ValueError, KeyError, TypeError):
            if not effects:
                raise
            records = run(case, t_shift=candidate.t_shift, schedule_shift=candidate.schedule_shift)
        changed["steps"] = steps_json(case.algorithm.kind, records)
        return json.dumps(changed)

    try:
        return disk_cache.cached("diagnosis", key, compute)
    except (ArithmeticError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the reference cannot run {candidate.label}: {exc}") from None


def one_step_document(source: dict, profile: str, dtype: str, effects: dict, semantics: dict,
                      candidate: Candidate) -> str:
    """One-step mode: the expected result of each step under ``candidate`` from the inputs the
    implementation was given (the declared vector's exact state rounded to ``dtype``: ``source``
    is the vector itself), as JSON text; the spread is left to the caller. Kept on disk."""
    if candidate.t_shift or candidate.schedule_shift:
        raise ValueError("one-step mode injects the step count: index shifts are diagnosed in trajectory mode")
    key = disk_cache.key(json.dumps(source, sort_keys=True), profile, dtype, json.dumps(sorted(effects.items())),
                         candidate.key(), "one-step")

    def compute():
        from .onestep import one_step_document as expected

        changed = applied(source, semantics, candidate)
        try:
            out = expected(changed, profile, dtype, effects=effects or None, measure_spread=False)
        except (ArithmeticError, ValueError, KeyError, TypeError):
            if not effects:
                raise
            out = expected(changed, profile, dtype, measure_spread=False)
        return json.dumps(out)

    try:
        return disk_cache.cached("diagnosis", key, compute)
    except (ArithmeticError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the reference cannot run {candidate.label}: {exc}") from None


def matching_profiles(alg_name: str, semantics: dict, active: list) -> list:
    """The declared profiles whose semantics equal ``semantics`` on the ``active`` axes."""
    return [name for name, prof in get(alg_name).profiles.items()
            if all(prof.semantics.get(a) == semantics.get(a) for a in active)]


__all__ = ["Candidate", "KINDS", "kinds_order", "Neighbourhood", "applied", "one_step_document", "prefix", "matching_profiles", "neighbourhood",
           "trajectory_document"]
