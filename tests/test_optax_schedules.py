"""Every shipped optax schedule vector, run through optax_schedules and judged by the checker.

For each vector of the shipped set whose ``profiles`` list contains ``optax`` and whose algorithm is
a schedule, :func:`optax_schedules.run_schedule` evaluates the real optax schedule (CPU, float64
with x64 on) and :func:`checker.compare` must give ``pass`` on the ``jit`` code path (and on
``eager`` for one vector per schedule: op-by-op dispatch is slow). On the ``scale_by_schedule``
path (optax's int32 count) the verdict must be exactly what the profile declares: ``fail`` where a
finding covers the scenario, ``pass`` elsewhere. A vector optax has no form for is a skip
(``Unsupported``). A schedule evaluated one update late, or a plateau rule fed its metrics one
update late, must fail. Skips cleanly when optax is not installed.
"""
from __future__ import annotations

import pytest

from optconform.reference.model import algorithms, get
from optconform.reference.vectors import default_vector_dir, load_vector, read_manifest

optax = pytest.importorskip("optax")

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.frameworks import optax_schedules  # noqa: E402
from optconform.adapters.protocol import AdapterRun, Implementation, Unsupported  # noqa: E402

pytestmark = pytest.mark.framework("optax")


def impl(code_path: str) -> Implementation:
    return Implementation("optax", code_path, "cpu", "float64")


def _vectors() -> list[str]:
    manifest = read_manifest(default_vector_dir())
    return sorted(rel for rel, entry in manifest["files"].items()
                  if "optax" in entry["profiles"] and get(rel.split("/", 1)[0]).kind == "schedule")


VECTORS = _vectors()
# one vector per schedule for the slow eager path
EAGER = sorted({rel.split("/", 1)[0]: rel for rel in VECTORS if rel.endswith("/probe.json")}.values())
# vectors whose hyperparameters optax has no form for (the optax profiles' notes say so)
NOT_DRIVEN = {"one_cycle/optax/variant_linear.json", "one_cycle/optax/variant_three_phase_cos.json",
              "wsd/spec/variant_one_minus_sqrt.json"}


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(default_vector_dir())


def _doc(rel, manifest) -> dict:
    return dict(load_vector(default_vector_dir(), rel, manifest), profile="optax")


def test_every_optax_schedule_profile_is_built_and_has_vectors():
    declared = {name for name, alg in algorithms().items() if alg.kind == "schedule" and "optax" in alg.profiles}
    assert declared == {rel.split("/", 1)[0] for rel in VECTORS}
    assert declared - {"reduce_on_plateau"} <= set(optax_schedules.BUILDERS)


@pytest.mark.parametrize("rel", VECTORS)
def test_optax_schedule_vector_jit(rel, manifest):
    doc = _doc(rel, manifest)
    if rel in NOT_DRIVEN:
        with pytest.raises(Unsupported):
            optax_schedules.run_schedule(doc, impl("jit"))
        return
    steps = optax_schedules.run_schedule(doc, impl("jit"))
    assert [s["k"] for s in steps] == [s["k"] for s in doc["steps"]]
    result = compare(doc, AdapterRun(steps), impl("jit"), "optax")
    assert result.verdict == "pass", f"{rel}: {result.message}"


@pytest.mark.parametrize("rel", EAGER)
def test_optax_schedule_vector_eager(rel, manifest):
    doc = _doc(rel, manifest)
    result = compare(doc, AdapterRun(optax_schedules.run_schedule(doc, impl("eager"))), impl("eager"), "optax")
    assert result.verdict == "pass", f"{rel}: {result.message}"


@pytest.mark.parametrize("rel", [r for r in VECTORS if not r.startswith("reduce_on_plateau/") and r not in NOT_DRIVEN])
def test_scale_by_schedule_fails_exactly_where_a_finding_is_declared(rel, manifest):
    """optax's own int32 count: the declared findings (float32 division) and nothing else."""
    doc = _doc(rel, manifest)
    path = impl("scale_by_schedule")
    result = compare(doc, AdapterRun(optax_schedules.run_schedule(doc, path)), path, "optax")
    finding = get(doc["algorithm"]).profiles["optax"].finding_for(doc["scenario"], path.code_path, path.device,
                                                                   path.dtype, "fail")
    expected = "fail" if finding is not None else "pass"
    assert result.verdict == expected, f"{rel}: {result.verdict} ({result.message}), declared {expected}"
    if finding is not None:
        assert result.max_rel > 1e-9, "a float32 schedule differs by more than float64 rounding"


@pytest.mark.parametrize("rel", ["cosine/optax/probe.json", "step/spec/defaults.json", "sequential/spec/probe.json",
                                 "one_cycle/optax/probe.json"])
def test_a_schedule_one_update_late_is_caught(rel, manifest, monkeypatch):
    name = rel.split("/", 1)[0]
    real = optax_schedules.BUILDERS[name]
    monkeypatch.setitem(optax_schedules.BUILDERS, name, lambda h, p: (lambda k, f=real(h, p): f(k + 1)))
    doc = _doc(rel, manifest)
    result = compare(doc, AdapterRun(optax_schedules.run_schedule(doc, impl("jit"))), impl("jit"), "optax")
    assert result.verdict == "fail" and result.diverged_first == "lr"


def test_plateau_metrics_one_update_late_are_caught(manifest):
    """The metric passed with update k decides update k (decision_timing = same): replaying the
    stream one update late (metric k deciding update k + 1) must fail."""
    doc = _doc("reduce_on_plateau/optax/probe.json", manifest)
    metrics = doc["inputs"]["metrics"]
    late = dict(doc, inputs=dict(doc["inputs"], metrics=[metrics[0]] + metrics[:-1]))
    steps = optax_schedules.run_schedule(late, impl("jit"))
    assert compare(doc, AdapterRun(steps), impl("jit"), "optax").verdict == "fail"
    right = optax_schedules.run_schedule(doc, impl("jit"))
    assert compare(doc, AdapterRun(right), impl("jit"), "optax").verdict == "pass"


def test_code_paths_and_unsupported_cases(manifest):
    assert optax_schedules.code_paths("reduce_on_plateau") == ["jit", "eager"]
    assert optax_schedules.code_paths("cosine") == ["jit", "eager", "scale_by_schedule"]
    doc = _doc("reduce_on_plateau/optax/probe.json", manifest)
    with pytest.raises(Unsupported, match="no code path 'scale_by_schedule'"):
        optax_schedules.run_schedule(doc, impl("scale_by_schedule"))
    with pytest.raises(Unsupported, match="float64"):
        optax_schedules.run_schedule(_doc("cosine/optax/probe.json", manifest),
                                     Implementation("optax", "jit", "cpu", "float32"))
    with pytest.raises(Unsupported, match="code path example_libraries"):
        optax_schedules.run_schedule(dict(_doc("constant/spec/probe.json", manifest), profile="jax_example"),
                                     impl("jit"))
    with pytest.raises(Unsupported, match="two phases"):
        optax_schedules.run_schedule(_doc("one_cycle/optax/variant_linear.json", manifest), impl("jit"))
