"""Run adapters over the vectors and check every case: the engine behind ``optconform check``
and the pytest conformance suite.

A *case* is one vector × one implementation (adapter, code path, device, dtype) whose dtype the
vector's inputs are exact in. The adapter's declared profile for the algorithm picks the vectors:
those whose ``profiles`` list contains it. Declared precision effects that apply to the
implementation are applied to the reference (the expected trajectory is recomputed exactly with
them, keeping the vector's rounding spread), never to the tolerance; an effect whose framework
operations are not correctly rounded adds the spread of reruns that bracket them (spec/tolerance.md). An exception inside a case makes that case an ``error``; the run
goes on. ``run_cases`` runs every case in a worker process (workers.py): a hang or a crash costs
that case alone.
"""
from __future__ import annotations

import fnmatch
import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from optconform.reference import vectors as V
from optconform.reference.model import get

from optconform.reference import disk_cache

from .checker import CaseResult, compare
from .protocol import Implementation, Unsupported


MODES = ("trajectory", "one-step")
BATCH_ENV = "OPTCONFORM_BATCH"
DIAGNOSIS_ENV = "OPTCONFORM_DIAGNOSIS"  # off: failing cases are not diagnosed (faster)


@dataclass
class Case:
    rel: str
    algorithm: str
    scenario: str
    profile: str
    impl: Implementation
    mode: str = "trajectory"
    diagnose: bool = True  # False: a failure is not diagnosed (the pytest suite, for a declared finding)

    @property
    def id(self) -> str:
        suffix = "" if self.mode == "trajectory" else f"-{self.mode}"
        return f"{self.algorithm}-{self.profile}-{self.scenario}-{self.impl.id}{suffix}"


@dataclass
class Selection:
    algorithms: tuple = ("*",)
    scenarios: tuple = ("*",)
    code_paths: tuple = ("*",)
    dtypes: tuple = ()
    devices: tuple = ()
    modes: tuple = ("trajectory",)

    def matches(self, algorithm, scenario, impl) -> bool:
        return (any(fnmatch.fnmatchcase(algorithm, g) for g in self.algorithms)
                and any(fnmatch.fnmatchcase(scenario, g) for g in self.scenarios)
                and any(fnmatch.fnmatchcase(impl.code_path, g) for g in self.code_paths)
                and (not self.dtypes or impl.dtype in self.dtypes)
                and (not self.devices or impl.device in self.devices))


def implementations_for(adapter, algorithm: str, profile: str) -> list:
    """The implementations that run ``profile``'s vectors: ``adapter.implementations_for`` where an
    adapter's code paths implement different profiles of one algorithm (jax.example_libraries
    beside optax), else every implementation of the algorithm."""
    if hasattr(adapter, "implementations_for"):
        return adapter.implementations_for(algorithm, profile)
    return adapter.implementations(algorithm)


def plan(adapter, directory: Path, selection: Selection, manifest: dict | None = None) -> list[Case]:
    """Every case of ``adapter`` over the vectors in ``directory`` that the selection keeps: each
    implementation runs a vector once, under the first of the adapter's profiles that claims it."""
    manifest = manifest or V.read_manifest(directory)
    claimed = adapter.profiles()
    out = []
    for rel, entry in manifest["files"].items():
        algorithm, _, rest = rel.partition("/")
        names = claimed.get(algorithm) or ()
        # one profile name, or several: a vector they share (their semantics agree on every axis
        # that matters for it) runs once, under the first claimed
        shared = [p for p in ([names] if isinstance(names, str) else names) if p in entry["profiles"]]
        scenario = rest.split("/", 1)[1][:-len(".json")]
        optimizer = get(algorithm).kind == "optimizer"
        planned = set()
        for profile in shared:
            for impl in implementations_for(adapter, algorithm, profile):
                if impl in planned or not selection.matches(algorithm, scenario, impl):
                    continue
                planned.add(impl)
                for mode in selection.modes:
                    if mode == "one-step" and not (optimizer and getattr(adapter, "can_inject_state", False)):
                        continue
                    out.append(Case(rel, algorithm, scenario, profile, impl, mode))
    return out


class VectorCache:
    """Vectors loaded (and checksum-verified) once per run."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.manifest = V.read_manifest(self.directory)
        self.docs: dict = {}
        self.expected: dict = {}

    def doc(self, rel: str) -> tuple[dict, str]:
        if rel not in self.docs:
            doc = V.load_vector(self.directory, rel, self.manifest)
            self.docs[rel] = (doc, json.dumps(doc))
        return self.docs[rel]

    def _checksum(self, rel: str) -> str:
        """The vector's SHA-256 as its manifest records it (load_vector verified it)."""
        return self.manifest["files"][rel]["sha256"]

    def one_step_doc(self, rel: str, profile: str, effects: dict, dtype: str) -> tuple[dict, str]:
        """The one-step expectations of a vector in ``dtype`` (reference/onestep.py)."""
        key = ("one-step", rel, profile, tuple(sorted(effects.items())), dtype)
        if key not in self.expected:
            from optconform.reference.onestep import one_step_document

            doc, _ = self.doc(rel)

            def compute():
                return json.dumps(one_step_document(doc, profile, dtype, effects))

            text = disk_cache.cached("one-step", disk_cache.key(self._checksum(rel), *key), compute)
            self.expected[key] = (json.loads(text), text)
        return self.expected[key]

    def expected_doc(self, rel: str, profile: str, effects: dict) -> tuple[dict, str]:
        """The vector, or the reference recomputed with declared precision effects (kept on disk:
        disk_cache)."""
        doc, text = self.doc(rel)
        if not effects:
            return doc, text
        key = (rel, profile, tuple(sorted(effects.items())))
        if key not in self.expected:
            from optconform.reference.replay import case_from_vector

            def compute():
                case = case_from_vector(doc, profile)
                fresh = V.vector_document([case], round_hypers=effects, base_spread=doc.get("spread"))
                return json.dumps(json.loads(V.dumps(fresh)))

            fresh_text = disk_cache.cached("effects", disk_cache.key(self._checksum(rel), *key), compute)
            self.expected[key] = (json.loads(fresh_text), fresh_text)
        return self.expected[key]


def diagnosed(expected: dict, text: str, run, case: Case, effects: dict, failed: CaseResult,
              source: dict | None = None) -> dict | None:
    """The diagnosis of a failing case (adapters/diagnosis.py), or None with
    ``OPTCONFORM_DIAGNOSIS=off``; a diagnosis that raises says so, and never changes the verdict."""
    if not case.diagnose or os.environ.get(DIAGNOSIS_ENV, "").strip().lower() in ("0", "off", "no"):
        return None
    from .diagnosis import diagnose

    try:
        return diagnose(expected, run, case.impl, case.profile, failed, effects, text, source)
    except Exception as exc:  # noqa: BLE001 - the verdict stands without it
        return {"explained": False, "summary": f"diagnosis failed: {type(exc).__name__}: {exc}"[:300]}


def _run_one_step(adapter, case: Case, vectors: VectorCache, effects: dict) -> CaseResult:
    doc, _ = vectors.doc(case.rel)
    expected, text = vectors.one_step_doc(case.rel, case.profile, effects, case.impl.dtype)
    result = adapter.run_one_step(dict(expected, profile=case.profile), case.impl)
    out = compare(expected, result, case.impl, case.profile, doc_json=text)
    out.notes = [str(n) for n in getattr(result, "notes", None) or ()]
    if out.verdict == "fail":
        out.diagnosis = diagnosed(expected, text, result, case, effects, out, source=doc)
    return out


def blank_result(case: Case) -> CaseResult:
    """The verdict ``pass`` with no metrics, for ``case``: filled in by whoever decides the verdict."""
    return CaseResult(case.algorithm, case.profile, case.scenario, case.impl.adapter, case.impl.code_path,
                      case.impl.device, case.impl.dtype, mode=case.mode, vector=case.rel)


def run_case(adapter, case: Case, vectors: VectorCache, run=None) -> CaseResult:
    """One case in this process; any exception is the case's ``error`` (workers.py adds the time
    limit and the isolation from crashes). ``run``: the adapter's run of this case's vector, already
    made as part of a batch (:func:`run_batch`), compared instead of running the vector again."""
    start = time.perf_counter()
    alg = get(case.algorithm)
    base = blank_result(case)
    spec = alg.profiles["spec"].semantics
    declared = []
    try:
        doc, _ = vectors.doc(case.rel)
        # the profile's differences from spec on the axes that matter for this vector
        declared = [a for a, v in doc["semantics"].items() if v != spec.get(a)]
        if case.impl.dtype not in doc["dtypes"]:
            base.verdict = "skip"
            base.message = f"inputs of {case.scenario} are not exact in {case.impl.dtype}"
            return base
        effects = adapter.precision_effects(case.algorithm, case.impl, case.profile) \
            if hasattr(adapter, "precision_effects") else {}
        base.precision_effects = dict(effects)
        if case.mode == "one-step":
            out = _run_one_step(adapter, case, vectors, effects)
        else:
            expected, text = vectors.expected_doc(case.rel, case.profile, effects)
            result = run if run is not None else adapter.run(dict(doc, profile=case.profile), case.impl)
            out = compare(expected, result, case.impl, case.profile, key=case.rel + repr(sorted(effects.items())),
                          doc_json=text)
            out.notes = [str(n) for n in getattr(result, "notes", None) or ()]
            if out.verdict == "fail":
                out.diagnosis = diagnosed(expected, text, result, case, effects, out)
        out.precision_effects = dict(effects)
    except Unsupported as exc:
        base.verdict = "skip"
        base.message = str(exc)
        out = base
    except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the run
        base.verdict = "error"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        base.message = f"{type(exc).__name__}: {first}{where}".strip()
        out = base
    out.declared_divergences = declared
    out.vector = case.rel
    if out.verdict in ("fail", "error"):
        profile = alg.profiles.get(case.profile)
        finding = profile and profile.finding_for(case.scenario, case.impl.code_path, case.impl.device,
                                                  case.impl.dtype, out.verdict, case.mode)
        if finding:
            out.known_finding = finding.note
    out.seconds = time.perf_counter() - start
    return out


def run_batch(adapter, cases: list, vectors: VectorCache) -> list:
    """Cases that the adapter runs together (``adapter.run_batch``: one optimizer over the variables
    of every vector, for cases of equal ``batch_key``), each compared on its own. If the batch
    raises, every case runs alone (:func:`run_case`), so an exception is the error of the case
    that causes it and of no other. A batch's time is shared equally among its cases."""
    start = time.perf_counter()
    try:
        docs = [dict(vectors.doc(c.rel)[0], profile=c.profile) for c in cases]
        runs = adapter.run_batch([(doc, c.impl) for doc, c in zip(docs, cases)])
        if len(runs) != len(cases):
            raise RuntimeError(f"run_batch returned {len(runs)} runs for {len(cases)} cases")
    except Exception as exc:  # noqa: BLE001 - the cases run alone, and say what fails
        why = f"run alone: their batch raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        alone = [run_case(adapter, c, vectors) for c in cases]
        for result in alone:
            result.notes = list(result.notes) + [why[:300]]
        return alone
    share = (time.perf_counter() - start) / len(cases)
    out = []
    for case, run in zip(cases, runs):
        result = run_case(adapter, case, vectors, run=run)
        result.seconds += share
        out.append(result)
    return out


def batch_key(adapter, case: Case, vectors: VectorCache):
    """The adapter's optional ``batch_key(doc, impl, mode)`` for a case (None: the case runs alone):
    cases of one piece with equal keys are sent to the worker together (:func:`_chunks`).
    ``OPTCONFORM_BATCH=off`` runs every case alone."""
    method = getattr(adapter, "batch_key", None)
    if method is None or os.environ.get(BATCH_ENV, "").strip().lower() in ("0", "off", "no"):
        return None
    doc, _ = vectors.doc(case.rel)
    if case.impl.dtype not in doc["dtypes"]:
        return None
    key = method(doc, case.impl, case.mode)
    return None if key is None else (case.profile, key)


# --- running many cases, each in a worker process -----------------------------------------------


def worker_environment(adapter, impl: Implementation) -> dict:
    """The environment variables a worker must start with to run ``impl`` (an adapter's optional
    ``worker_environment``: Keras's backend, fixed when Keras is imported); {} for most."""
    method = getattr(adapter, "worker_environment", None)
    return dict(method(impl)) if method else {}


def _batched(items: list, adapter, vectors: VectorCache | None) -> list:
    """``items`` ((index, target, case), one piece's group) with the cases of equal batch key
    gathered into one item ((indices), target, [cases]) at the place of the first of them."""
    if vectors is None or getattr(adapter, "batch_key", None) is None:
        return items
    out, open_batches = [], {}
    for index, target, case in items:
        key = batch_key(adapter, case, vectors)
        if key is None:
            out.append((index, target, case))
        elif key in open_batches:
            at = open_batches[key]
            out[at] = (out[at][0] + (index,), target, out[at][2] + [case])
        else:
            open_batches[key] = len(out)
            out.append(((index,), target, [case]))
    return [(i[0], t, c[0]) if isinstance(c, list) and len(c) == 1 else (i, t, c) for i, t, c in out]


def _chunks(work: list, jobs: int, vectors: VectorCache | None = None) -> list:
    """Cases grouped so that a worker reuses what it loads (vectors, compiled graphs): by adapter,
    algorithm, code path, worker environment and the adapter's affinity, split into pieces small
    enough to balance; slow paths first. An adapter whose compiled programs are keyed on more than
    the code path (optax's: eager jax compiles every primitive per shape and dtype) says so with an
    optional ``affinity(impl)``; the pool then hands a worker the pieces of the affinity it already
    compiled for. ``work``: (target, adapter, case)."""
    from .workers import Piece

    groups: dict = {}
    envs: dict = {}
    for index, (target, adapter, case) in enumerate(work):
        env = worker_environment(adapter, case.impl)
        method = getattr(adapter, "affinity", None)
        affinity = (target, *method(case.impl)) if method else None
        key = (target, case.algorithm, case.impl.code_path, tuple(sorted(env.items())), affinity)
        envs[key] = env
        groups.setdefault(key, []).append((index, target, case))
    size = max(4, len(work) // (jobs * 16) or 1)
    adapters = {target: adapter for target, adapter, _ in work}
    pieces = []
    for key, g in groups.items():
        units = _batched(g, adapters[key[0]], vectors)
        pieces += [Piece(units[i:i + size], envs[key], affinity=key[-1]) for i in range(0, len(units), size)]
    slow = {"compiled"}
    pieces.sort(key=lambda p: (_first_case(p[0]).impl.code_path not in slow, -len(p)))
    return pieces


def _first_case(item) -> Case:
    case = item[2]
    return case[0] if isinstance(case, list) else case


def run_cases(work: list, directory: Path, jobs: int = 1, on_result=None, timeout: float | None = None) -> list:
    """Verdicts of ``work``, a list of (adapter target, adapter instance, Case), in that order.

    Every case runs in one of ``jobs`` worker processes (workers.py), never in this one: a case
    still running after ``timeout`` seconds (default :data:`workers.DEFAULT_TIMEOUT`; 0: no limit)
    and a case whose worker dies are ``error`` verdicts, and the other cases go on in a fresh
    worker. Workers are spawned and load each adapter by its target name, so a third-party
    ``module:attr`` adapter must be importable (the current directory is on their path).
    ``on_result(case, result)`` is called as each case finishes (for a progress bar)."""
    from .workers import DEFAULT_TIMEOUT, Pool

    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    pieces = _chunks(work, jobs, VectorCache(directory))

    def done(index, result):
        if on_result:
            on_result(work[index][2], result)

    with Pool(directory, jobs=min(jobs, len(pieces)) or 1, timeout=timeout) as pool:
        return pool.run(pieces, len(work), done)
