"""Every declared framework profile, confirmed against the real framework in float64.

For each (algorithm, framework profile), every scenario of the profile (reference.scenarios.cases:
open and closed loop, ``resume``, ``defaults`` built from the framework's own defaults) runs
through the framework's adapter — ``adapter.run`` on its default code path, float64, cpu, the same
code that ``optconform check`` runs — and the checker's one comparison (adapters.checker.compare,
the bound of spec/tolerance.md) decides:

1. the declared semantics fit: every scenario agrees with the reference under the profile's
   semantics (with the declared precision effects that apply to that code path);
2. every alternative is excluded: for every axis, every other value is contradicted by some
   scenario in which the axis is active, on the parameters, the state or the learning rate. An
   axis the profile declares ``not_applicable`` is active in none of its scenarios (every value
   computes the same trajectory there, which tests/test_model.py checks with the reference), so it
   has no alternative to exclude.

That is what "confirmed numerically" means: the declared value fits and the alternatives do not.
A scenario the adapter cannot run (``Unsupported``: Keras has no parameter groups), or one a
declared finding covers on that code path (a framework bug no axis explains), is left out of both. The tolerance is the vector's own: the floor of the bound and the float64 rounding spread the
shipped vector of that scenario carries (closed-loop scenarios need it).

Runs when the framework is installed, skips cleanly (one reason line) when it is not. A code path
that needs a process environment this one lacks (Keras on its jax or torch backend: Keras fixes its
backend at import) runs in a worker process started with it (harness.worker_environment).
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from optconform.adapters.checker import compare
from optconform.adapters.harness import worker_environment
from optconform.adapters.protocol import Implementation, Unsupported
from optconform.adapters.registry import load
from optconform.reference.model import algorithms
from optconform.reference.scenarios import cases
from optconform.reference.vectors import default_vector_dir, read_manifest, vector_document

from optconform.adapters.porting_confirm import run_documents

from .environments import call_in

DTYPE = "float64"


def _params():
    out = []
    for alg in algorithms().values():
        for pname, profile in alg.profiles.items():
            if profile.framework:
                out.append(pytest.param(alg.name, pname, id=f"{alg.name}-{pname}",
                                        marks=pytest.mark.framework(profile.framework)))
    return out


_ADAPTERS: dict = {}


def _adapter(framework: str):
    """The framework's built-in adapter (the profile's framework is its adapter name)."""
    if framework not in _ADAPTERS:
        _ADAPTERS[framework] = load(framework)
    return _ADAPTERS[framework]


_SPREADS: dict = {}


def _shipped_spread(algorithm: str, profile: str, scenario: str) -> dict:
    """The float64 rounding spread of the shipped vector of this scenario under this profile
    (``{}`` where none is shipped: the floor of the bound alone)."""
    if not _SPREADS:
        directory = default_vector_dir()
        for rel, entry in read_manifest(directory)["files"].items():
            alg, _, rest = rel.partition("/")
            scen = rest.split("/", 1)[1][:-len(".json")]
            for p in entry["profiles"]:
                _SPREADS[(alg, p, scen)] = rel
    rel = _SPREADS.get((algorithm, profile, scenario))
    if rel is None:
        return {}
    with open(default_vector_dir() / rel) as fh:
        spread = json.load(fh).get("spread", {})
    return {DTYPE: spread[DTYPE]} if DTYPE in spread else {}


def _run_all(framework: str, docs: list, impl: Implementation) -> list:
    """``adapter.run`` of every document, or the exception it raised (porting_confirm.run_documents:
    an Unsupported as is, any other as a RuntimeError naming it, so that it crosses processes)."""
    return run_documents(framework, docs, impl)


def _framework_runs(adapter, framework: str, docs: list, impl: Implementation) -> list:
    """:func:`_run_all` here, or in a worker process started with the environment the code path
    needs where this process lacks it (tests/environments.py)."""
    return call_in(worker_environment(adapter, impl), _run_all, framework, docs, impl)


def _expected(case, effects: dict, spread: dict) -> dict:
    return json.loads(json.dumps(vector_document([case], round_hypers=effects or None, base_spread=spread)))


def _with_semantics(case, semantics):
    return dataclasses.replace(case, profile=dataclasses.replace(case.profile, semantics=semantics))


@pytest.mark.parametrize("algorithm,profile", _params())
def test_profile_matches_framework(algorithm, profile):
    alg = algorithms()[algorithm]
    prof = alg.profiles[profile]
    adapter = _adapter(prof.framework)
    ok, reason = adapter.available()
    if not ok:
        pytest.skip(reason)
    impl = Implementation(adapter.name, adapter.default_code_path(algorithm, profile), "cpu", DTYPE)
    effects = adapter.precision_effects(algorithm, impl, profile) if hasattr(adapter, "precision_effects") else {}
    runs = []  # (case, spread, the framework's run)
    failures = []
    prepared = []
    for case in cases(alg, prof):
        spread = _shipped_spread(algorithm, profile, case.scenario)
        vector = _expected(case, {}, spread)
        prepared.append((case, spread, vector, _expected(case, effects, spread) if effects else vector))
    results = _framework_runs(adapter, prof.framework, [dict(v, profile=profile) for _, _, v, _ in prepared], impl)
    for (case, spread, vector, expected), result in zip(prepared, results):
        if isinstance(result, Unsupported):
            continue
        if isinstance(result, Exception):
            if prof.finding_for(case.scenario, impl.code_path, impl.device, impl.dtype, "error"):
                continue
            raise result
        verdict = compare(expected, result, impl, profile)
        if verdict.verdict != "pass":
            if prof.finding_for(case.scenario, impl.code_path, impl.device, impl.dtype, verdict.verdict):
                continue  # a declared finding: known not to fit, so it confirms nothing either way
            failures.append(f"{case.scenario}: {verdict.message}")
        runs.append((case, spread, result))
    assert runs, f"no scenario of {algorithm} could run through the {adapter.name} adapter ({impl.id})"
    assert not failures, (f"{algorithm} [{profile}] on {impl.id} does not match its declared semantics:\n"
                          + "\n".join(failures))
    unexcluded = []
    for axis, values in alg.axes.items():
        for alt in values:
            if alt == prof.semantics[axis]:
                continue
            semantics = dict(prof.semantics, **{axis: alt})
            relevant = excluded = False
            for case, spread, result in runs:
                if not alg.axis_active(axis, [h for _, h in case.groups], case.has_nonfinite_inputs(), prof):
                    continue
                relevant = True
                expected = _expected(_with_semantics(case, semantics), effects, spread)
                if compare(expected, result, impl, profile).verdict == "fail":
                    excluded = True
                    break
            if relevant and not excluded:
                unexcluded.append(f"{axis}={alt}")
    assert not unexcluded, (f"{algorithm} [{profile}]: no scenario tells the declared semantics from "
                            + ", ".join(unexcluded) + " — add a scenario or variant that separates them")
