"""``optconform divergences ALGORITHM --from A --to B --confirm``: the porting guide's statements,
run on the real frameworks.

The guide (reference/porting.py) says, from the exact reference alone, that a setting of the target
reproduces the source exactly or approximately, and how far apart the two are when nothing is
changed. Its ``checks`` give each such statement as two runs on the guide's own scenario
(reference/catalog.py's measurement cases: a 2×2 tensor, 100 steps of each regime; a schedule to
2.5 horizons) with the hyperparameters each side is given. :func:`confirm` runs each side through
its framework's adapter — ``registry.load(framework)``, ``adapter.run`` on the adapter's
``default_code_path`` for that profile, float64, cpu, as tests/test_framework_profiles.py does —
and reports, per statement and regime:

* ``predicted``: the relative difference |a − b|/|b| of the two sides' exact trajectories (the
  reference's prediction; b the source), after t = 1, 10, 100 steps (optimizers) or over every
  learning rate (schedules);
* ``predicted_effects`` (where a side declares precision effects on its code path: Keras holds the
  learning rate in float32): the same with those effects applied, what the frameworks should show;
* ``measured``: the same difference between the two frameworks' float64 trajectories;
* ``verdict``: ``agree`` when each framework's trajectory agrees with its own exact trajectory
  (adapters.checker.compare, the bound of spec/tolerance.md, with the declared precision effects of
  that code path applied), so that the measured difference is the predicted one up to float64
  rounding; ``disagree`` (which side departs, the checker's message) otherwise;
  ``not_installed`` when a side's framework is not installed here (its adapter says why), never an
  error; ``not_run`` when an adapter cannot run the case (``Unsupported``) or raises.

A side whose profile is the spec is the reference itself. A code path that needs a process
environment this one lacks (Keras fixes its backend at import) runs in a worker process started
with ``harness.worker_environment`` (workers.call_in). Imports no framework.
"""
from __future__ import annotations

import json
import time

from optconform.reference.model import get

from .workers import call_in

DTYPE = "float64"
DEVICE = "cpu"


def run_documents(framework: str, docs: list, impl) -> list:
    """``adapter.run`` of every document: its AdapterRun, or the exception it raised (Unsupported as
    is, any other as a RuntimeError naming it, so that it crosses processes)."""
    from .protocol import Unsupported
    from .registry import load

    adapter = load(framework)
    out = []
    for doc in docs:
        try:
            out.append(adapter.run(doc, impl))
        except Unsupported as exc:
            out.append(Unsupported(str(exc)))
        except Exception as exc:  # noqa: BLE001 - the statement's verdict says it
            out.append(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return out


# --- the measurement ------------------------------------------------------------------------------


def _values(alg, steps: list, exact: bool) -> list:
    """Per step, the compared values (optimizer: every parameter, names sorted; schedule: the
    learning rate) as mpf, from a vector's steps (``exact``: decimal strings) or a run's (floats)."""
    from optconform.reference.numeric import to_mpf

    def num(v):
        return to_mpf(v) if exact else to_mpf(repr(float(v)))

    if alg.kind == "optimizer":
        return [[num(x) for n in sorted(s["params"]) for x in s["params"][n]] for s in steps]
    return [[num(s["lr"])] for s in steps]


def _difference(alg, a: list, b: list) -> dict:
    """The size of the difference of two trajectories (reference.catalog's measure: t = 1, 10, 100
    for an optimizer, every learning rate for a schedule)."""
    from optconform.reference.catalog import STEPS, _size
    from optconform.reference.numeric import precision

    with precision():
        if alg.kind == "optimizer":
            return {str(t): _size(a[t - 1], b[t - 1]) for t in STEPS if t <= min(len(a), len(b))}
        return {"all": _size([x for row in a for x in row], [y for row in b for y in row])}


class _Side:
    """One profile's framework: its adapter, implementation and availability."""

    def __init__(self, alg, profile, load):
        from .harness import worker_environment
        from .protocol import Implementation
        from .registry import Unavailable, availability

        self.profile, self.framework = profile, profile.framework or "spec"
        self.adapter = self.impl = None
        self.reason, self.env, self.effects = "", {}, {}
        if self.framework == "spec":
            return
        try:
            adapter = load(self.framework)
        except Unavailable as exc:
            self.reason = exc.reason
            return
        ok, reason = availability(adapter)
        if not ok:
            self.reason = reason or "unavailable"
            return
        self.adapter = adapter
        self.impl = Implementation(adapter.name, adapter.default_code_path(alg.name, profile.name), DEVICE, DTYPE)
        self.env = worker_environment(adapter, self.impl)
        if hasattr(adapter, "precision_effects"):
            self.effects = dict(adapter.precision_effects(alg.name, self.impl, profile.name))

    @property
    def available(self) -> bool:
        return self.framework == "spec" or self.adapter is not None

    def describe(self) -> dict:
        out = {"framework": self.framework, "profile": self.profile.name, "available": self.available}
        if self.impl is not None:
            out.update(code_path=self.impl.code_path, effects=self.effects)
        if self.reason:
            out["reason"] = self.reason
        return out


def _prepare(alg, run: dict, regime) -> dict | None:
    """The exact vector of one side's run on one regime ({"doc", "case"}), None where the profile
    cannot take the hyperparameters."""
    from optconform.reference.catalog import run_case
    from optconform.reference.numeric import precision
    from optconform.reference.vectors import vector_document

    profile = alg.profiles[run["profile"]]
    with precision():
        case = run_case(alg, profile, run["use_defaults"], run["hyper"], regime)
        if case is None:
            return None
        doc = json.loads(json.dumps(vector_document([case])))
    return {"case": case, "doc": doc}


def _expected(prepared: dict, effects: dict) -> dict:
    """The checker's expectation for a framework with declared precision effects (the vector's own
    rounding spread kept, as harness.VectorCache.expected_doc does)."""
    from optconform.reference.numeric import precision
    from optconform.reference.vectors import vector_document

    if not effects:
        return prepared["doc"]
    with precision():
        return json.loads(json.dumps(vector_document([prepared["case"]], round_hypers=effects,
                                                     base_spread=prepared["doc"]["spread"])))


def _claim_holds(alg, claim: str, predicted: dict):
    """Whether the reference's difference on the runs fits the guide's word: ``exactly`` every
    size 0; ``approximately`` at most porting.APPROXIMATE on ordinary gradients (a schedule: all of
    it); None for a measured difference (no claim)."""
    from optconform.reference.catalog import largest
    from optconform.reference.porting import APPROXIMATE

    if claim == "exactly":
        return largest(predicted) in (0.0, None)
    if claim == "approximately":
        size = largest(predicted, None if alg.kind == "schedule" else "ordinary")
        return isinstance(size, float) and size <= APPROXIMATE
    return None


def confirm(g: dict, load=None) -> dict:
    """Every check of the guide ``g`` (reference.porting.guide) run on the installed frameworks;
    see the module docstring. ``load``: the adapter loader (default registry.load)."""
    from optconform.reference.catalog import REGIMES

    from .checker import compare
    from .protocol import Unsupported
    from .registry import load as registry_load

    start = time.perf_counter()
    alg = get(g["algorithm"])
    regimes = list(REGIMES) if alg.kind == "optimizer" else [None]
    names = lambda r: r.name if r is not None else "lr"  # noqa: E731
    sides: dict = {}
    for check in g["checks"]:
        for side in ("from", "to"):
            name = check[side]["profile"]
            if name not in sides:
                sides[name] = _Side(alg, alg.profiles[name], load or registry_load)
    # every distinct run once, per regime
    prepared: dict = {}
    for check in g["checks"]:
        for side in ("from", "to"):
            for regime in regimes:
                key = (json.dumps(check[side], sort_keys=True), names(regime))
                if key not in prepared:
                    prepared[key] = _prepare(alg, check[side], regime)
    # the framework runs, one call per framework and code path
    results: dict = {}
    batches: dict = {}
    for (run_key, regime_name), prep in prepared.items():
        profile = json.loads(run_key)["profile"]
        s = sides[profile]
        if prep is None or s.adapter is None:
            continue
        batches.setdefault((s.framework, s.impl, tuple(sorted(s.env.items()))), []).append(
            ((run_key, regime_name), dict(prep["doc"], profile=profile)))
    for (framework, impl, env), items in batches.items():
        runs = call_in(dict(env), run_documents, framework, [d for _, d in items], impl)
        for (key, _), r in zip(items, runs):
            results[key] = r
    out_checks = []
    for check in g["checks"]:
        entry = {"id": check["id"], "statement": check["statement"], "claim": check["claim"],
                 "from": sides[check["from"]["profile"]].describe(), "to": sides[check["to"]["profile"]].describe(),
                 "predicted": {}, "measured": {}, "sides": {}}
        problems, missing, unrun = [], [], []
        for side in ("from", "to"):
            s = sides[check[side]["profile"]]
            if not s.available:
                missing.append(f"{s.framework} is not installed here ({s.reason})")
        for regime in regimes:
            rn = names(regime)
            keys = {side: (json.dumps(check[side], sort_keys=True), rn) for side in ("from", "to")}
            preps = {side: prepared[keys[side]] for side in keys}
            if any(p is None for p in preps.values()):
                unrun.append(f"{rn}: a side's profile cannot take these hyperparameters")
                continue
            exact = {side: _values(alg, preps[side]["doc"]["steps"], True) for side in keys}
            entry["predicted"][rn] = _difference(alg, exact["to"], exact["from"])
            if missing:
                continue
            observed = {}
            for side in keys:
                s = sides[check[side]["profile"]]
                if s.framework == "spec":
                    observed[side] = exact[side]
                    continue
                r = results.get(keys[side])
                if isinstance(r, Unsupported):
                    unrun.append(f"{rn}: {s.framework} cannot run it: {r}")
                    continue
                if isinstance(r, Exception) or r is None:
                    unrun.append(f"{rn}: {s.framework} raised {r}")
                    continue
                verdict = compare(_expected(preps[side], s.effects), r, s.impl, s.profile.name)
                entry["sides"].setdefault(side, {})[rn] = {"verdict": verdict.verdict, "max_ulp": verdict.max_ulp}
                if verdict.verdict != "pass":
                    problems.append(f"{rn}: {s.framework} departs from its own profile: {verdict.message}")
                observed[side] = _values(alg, r.steps, False)
            if len(observed) == 2:
                entry["measured"][rn] = _difference(alg, observed["to"], observed["from"])
            effects = {side: sides[check[side]["profile"]].effects for side in keys}
            if any(effects.values()):
                held = {side: _values(alg, _expected(preps[side], effects[side])["steps"], True) for side in keys}
                entry.setdefault("predicted_effects", {})[rn] = _difference(alg, held["to"], held["from"])
        held = _claim_holds(alg, check["claim"], entry["predicted"])
        if held is False:
            problems.insert(0, f"the reference's own difference on these runs does not fit the claim "
                               f"'{check['claim']}'")
        if missing:
            entry["verdict"], entry["note"] = "not_installed", "; ".join(missing)
        elif problems:
            entry["verdict"], entry["note"] = "disagree", "; ".join(problems)
        elif unrun:
            entry["verdict"], entry["note"] = "not_run", "; ".join(unrun)
        else:
            entry["verdict"], entry["note"] = "agree", ""
        out_checks.append(entry)
    return {"dtype": DTYPE, "device": DEVICE, "frameworks": {n: s.describe() for n, s in sides.items()},
            "checks": out_checks, "seconds": round(time.perf_counter() - start, 1)}
