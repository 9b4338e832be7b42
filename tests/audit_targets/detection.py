"""Detection power: every target of the catalog through ``optconform audit``'s own machinery.

Each target is audited against the vectors of the profile of the implementation it imitates
(catalog ``counterpart``: the profile whose ``api`` it is, e.g. ``torch.optim.Adam`` → ``torch``),
in float64 and float32, all targets' cases in one pool of worker processes (as the command runs
one target's). A target is *flagged* when the audit's exit status would be 1; the fault's axis is
*named* when the report card's fingerprint gives that axis the fault's value. Used by
tests/test_audit_detection.py and printed as a score by benchmarks/detection_power.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import TARGETS, AuditTarget


@dataclass
class Outcome:
    target: AuditTarget
    flagged: bool
    named: bool | None  # None: no axis names the fault
    conforms_to: list
    fingerprint: str
    cases: int
    failing: int


def counterpart_profile(target: AuditTarget) -> str:
    from optconform.reference.model import get

    alg = get(target.algorithm)
    for name, profile in alg.profiles.items():
        if profile.api.replace(" ", "") == target.counterpart.replace(" ", ""):
            return name
    return target.framework


def run(targets=TARGETS, jobs: int = 2, dtypes=("float64", "float32")) -> list[Outcome]:
    from optconform.adapters.audit import audit_work, configure
    from optconform.adapters.audit_card import card, exit_status
    from optconform.adapters.harness import VectorCache, run_cases
    from optconform.reference.vectors import default_vector_dir

    directory = default_vector_dir()
    vectors = VectorCache(directory)
    configs = [configure(t.target, t.algorithm, t.framework, {}, {}, [counterpart_profile(t)]) for t in targets]
    work, coverage = audit_work(configs, directory, vectors.manifest, dtypes)
    results = run_cases(work, directory, jobs=jobs)
    by_name: dict = {}
    for (name, _adapter, _case), result in zip(work, results):
        by_name.setdefault(name, []).append(result)
    out = []
    for target, config in zip(targets, configs):
        rs = by_name[config.registry_name()]
        report = card(config, rs, {r.vector: vectors.doc(r.vector)[0] for r in rs}, coverage)
        named = None
        if target.axis:
            named = report["fingerprint"].get(target.axis, {}).get("values") == [target.value]
        fingerprint = ", ".join(f"{a}={'/'.join(f['values'])}" for a, f in report["fingerprint"].items())
        out.append(Outcome(target, exit_status(report) == 1, named, report["conforms_to"], fingerprint, len(rs),
                           sum(r.verdict in ("fail", "error") for r in rs)))
    return out


def score(outcomes: list[Outcome]) -> dict:
    faulty = [o for o in outcomes if not o.target.faithful]
    with_axis = [o for o in faulty if o.target.axis]
    faithful = [o for o in outcomes if o.target.faithful]
    return {"faulty": len(faulty), "flagged": sum(o.flagged for o in faulty),
            "with_axis": len(with_axis), "axis_named": sum(bool(o.named) for o in with_axis),
            "faithful": len(faithful), "false_positives": sum(o.flagged for o in faithful)}
