"""The conformance suite: every shipped vector × every implementation of every installed adapter.

One test per case, with the id the checker gives it (``adam-torch-tiny_grad-torch-fused-cpu-float32``:
algorithm, profile, scenario, adapter, code path, device, dtype), in trajectory mode and, for
adapters that inject optimizer state, in one-step mode (ids ending ``-one-step``). A case passes when the checker's
verdict is ``pass``; a ``skip`` verdict (a dtype the inputs are not exact in, a combination the
framework rejects) skips with its reason. A case that a profile declares as a finding (a framework
bug no axis or precision effect explains) is an expected failure, strictly: it must still fail
the way the finding says, so a fixed framework shows up here.

Adapters that are not installed are skipped with their reason; the CUDA device is skipped when no
GPU is present. Run one adapter or algorithm with ``-k``: ``pytest tests/test_conformance.py -k
'adam and fused'``.
"""
from __future__ import annotations

import pytest

from optconform.adapters.harness import Selection, VectorCache, plan
from optconform.adapters.pytest_plugin import ConformanceCase
from optconform.adapters.registry import known_names, load
from optconform.reference.vectors import default_vector_dir

VECTORS = default_vector_dir()
_CACHE: dict = {}


def _params() -> list:
    out = []
    for name in known_names():
        adapter = load(name)
        ok, reason = adapter.available()
        if not ok:
            out.append(pytest.param(name, None, id=f"{name}-unavailable", marks=pytest.mark.skip(reason=reason)))
            continue
        if getattr(adapter, "supports_cuda", False) and "cuda" not in adapter.devices():
            out.append(pytest.param(name, None, id=f"{name}-cuda",
                                    marks=pytest.mark.skip(reason="no CUDA device: the cuda cases run on a GPU machine")))
        selection = Selection(modes=("trajectory", "one-step"))
        out += [pytest.param(name, case, id=case.id) for case in plan(adapter, VECTORS, selection)]
    return out


def _adapter(name: str):
    if name not in _CACHE:
        _CACHE[name] = load(name)
    return _CACHE[name]


def _vectors() -> VectorCache:
    if "vectors" not in _CACHE:
        _CACHE["vectors"] = VectorCache(VECTORS)
    return _CACHE["vectors"]


@pytest.mark.parametrize("adapter_name, case", _params())
def test_conformance(adapter_name, case):
    ConformanceCase(_adapter(adapter_name), case, _vectors(), target=adapter_name).check()
