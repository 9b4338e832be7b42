"""Run adapters over the vectors and check every case: the engine behind ``optconform check``
and the pytest conformance suite.

A *case* is one vector × one implementation (adapter, code path, device, dtype) whose dtype the
vector's inputs are exact in. The adapter's declared profile for the algorithm picks the vectors:
those whose ``profiles`` list contains it. Declared precision effects that apply to the
implementation are applied to the reference (the expected trajectory is recomputed exactly with
them, keeping the vector's rounding spread), never to the tolerance; an effect whose framework
operations are not correctly rounded adds the spread of reruns that bracket them (spec/tolerance.md). An exception inside a case makes that case an ``error``; the run
goes on.
"""
from __future__ import annotations

import fnmatch
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from optconform.reference import vectors as V
from optconform.reference.model import get

from .checker import CaseResult, compare
from .protocol import Implementation, Unsupported


@dataclass
class Case:
    rel: str
    algorithm: str
    scenario: str
    profile: str
    impl: Implementation

    @property
    def id(self) -> str:
        return f"{self.algorithm}-{self.profile}-{self.scenario}-{self.impl.id}"


@dataclass
class Selection:
    algorithms: tuple = ("*",)
    scenarios: tuple = ("*",)
    code_paths: tuple = ("*",)
    dtypes: tuple = ()
    devices: tuple = ()

    def matches(self, algorithm, scenario, impl) -> bool:
        return (any(fnmatch.fnmatchcase(algorithm, g) for g in self.algorithms)
                and any(fnmatch.fnmatchcase(scenario, g) for g in self.scenarios)
                and any(fnmatch.fnmatchcase(impl.code_path, g) for g in self.code_paths)
                and (not self.dtypes or impl.dtype in self.dtypes)
                and (not self.devices or impl.device in self.devices))


def plan(adapter, directory: Path, selection: Selection, manifest: dict | None = None) -> list[Case]:
    """Every case of ``adapter`` over the vectors in ``directory`` that the selection keeps."""
    manifest = manifest or V.read_manifest(directory)
    claimed = adapter.profiles()
    out = []
    for rel, entry in manifest["files"].items():
        algorithm, _, rest = rel.partition("/")
        profile = claimed.get(algorithm)
        if profile is None or profile not in entry["profiles"]:
            continue
        scenario = rest.split("/", 1)[1][:-len(".json")]
        for impl in adapter.implementations(algorithm):
            if selection.matches(algorithm, scenario, impl):
                out.append(Case(rel, algorithm, scenario, profile, impl))
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

    def expected_doc(self, rel: str, profile: str, effects: dict) -> tuple[dict, str]:
        """The vector, or the reference recomputed with declared precision effects."""
        doc, text = self.doc(rel)
        if not effects:
            return doc, text
        key = (rel, profile, tuple(sorted(effects.items())))
        if key not in self.expected:
            from optconform.reference.replay import case_from_vector

            case = case_from_vector(doc, profile)
            fresh = V.vector_document([case], round_hypers=effects, base_spread=doc.get("spread"))
            fresh = json.loads(V.dumps(fresh))
            self.expected[key] = (fresh, json.dumps(fresh))
        return self.expected[key]


def run_case(adapter, case: Case, vectors: VectorCache) -> CaseResult:
    start = time.perf_counter()
    alg = get(case.algorithm)
    base = CaseResult(case.algorithm, case.profile, case.scenario, case.impl.adapter, case.impl.code_path,
                      case.impl.device, case.impl.dtype, vector=case.rel)
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
        effects = adapter.precision_effects(case.algorithm, case.impl) if hasattr(adapter, "precision_effects") else {}
        expected, text = vectors.expected_doc(case.rel, case.profile, effects)
        result = adapter.run(doc, case.impl)
        out = compare(expected, result, case.impl, case.profile, key=case.rel + repr(sorted(effects.items())),
                      doc_json=text)
    except Unsupported as exc:
        base.verdict = "skip"
        base.message = str(exc)
        out = base
    except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the run
        base.verdict = "error"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        base.message = f"{type(exc).__name__}: {exc}{where}".strip()
        out = base
    out.declared_divergences = declared
    out.vector = case.rel
    out.seconds = time.perf_counter() - start
    return out
