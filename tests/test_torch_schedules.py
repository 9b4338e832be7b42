"""Every shipped torch schedule vector, run through the torch adapter and judged by the checker.

For each vector of the shipped set whose ``profiles`` list contains ``torch`` and whose algorithm
is a schedule, :class:`TorchAdapter` runs it (``scheduler`` code path, CPU, float64: torch
computes learning rates in Python floats) and :func:`checker.compare` must give ``pass``. A vector
the torch profile declares not driven (no torch form: the adapter raises ``Unsupported``) is a
skip with the adapter's reason. Skips cleanly when torch is not installed.
"""
from __future__ import annotations

import pytest

from optconform.reference.model import get
from optconform.reference.vectors import default_vector_dir, load_vector, read_manifest

torch = pytest.importorskip("torch")

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.protocol import Implementation, Unsupported  # noqa: E402
from optconform.adapters.frameworks.torch_adapter import TorchAdapter  # noqa: E402

pytestmark = pytest.mark.framework("torch")

IMPL = Implementation("torch", "scheduler", "cpu", "float64")


def _vectors() -> list[str]:
    manifest = read_manifest(default_vector_dir())
    return sorted(rel for rel, entry in manifest["files"].items()
                  if "torch" in entry["profiles"] and get(rel.split("/", 1)[0]).kind == "schedule")


VECTORS = _vectors()


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(default_vector_dir())


def test_every_torch_schedule_has_vectors():
    algorithms = {rel.split("/", 1)[0] for rel in VECTORS}
    expected = {name for name in TorchAdapter().profiles() if get(name).kind == "schedule"}
    assert algorithms == expected, f"torch schedules without vectors: {sorted(expected - algorithms)}"


# Vectors whose hyperparameters torch has no form for (documented in the torch profiles' notes):
# ReduceLROnPlateau takes one threshold mode, not rtol and atol together; torch has no 1-sqrt decay.
NOT_DRIVEN = {"reduce_on_plateau/spec/variant_combined.json", "wsd/torch/variant_one_minus_sqrt.json"}


@pytest.mark.parametrize("rel", VECTORS)
def test_torch_schedule_vector(rel, manifest):
    doc = load_vector(default_vector_dir(), rel, manifest)
    assert doc["kind"] == "schedule" and "torch" in doc["profiles"]
    if rel in NOT_DRIVEN:
        with pytest.raises(Unsupported):
            TorchAdapter().run(doc, IMPL)
        return
    run = TorchAdapter().run(doc, IMPL)
    assert len(run.steps) == len(doc["steps"])
    assert [s["k"] for s in run.steps] == [s["k"] for s in doc["steps"]]
    for mine, expected in zip(run.steps, doc["steps"]):
        assert bool(mine.get("raises")) == bool(expected.get("raises")), f"k={expected['k']}: raises differs"
        assert ("momentum" in mine) == ("momentum" in expected), f"k={expected['k']}: momentum entry differs"
    result = compare(doc, run, IMPL, "torch")
    assert result.verdict == "pass", f"{rel}: {result.message}"
