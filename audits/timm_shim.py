"""timm's optimizers, importable without torchvision.

``import timm`` imports ``timm.layers`` and ``timm.models``, which import
``torchvision.ops.misc.FrozenBatchNorm2d`` at module level. No torchvision wheel loads beside the
CPU torch wheel of this environment (the registry's wheels are CUDA builds: ``libc10_cuda.so``
missing), and timm's optimizers never call torchvision. So this module registers a stub
``torchvision`` package in ``sys.modules`` holding only the names timm imports at module level
(:data:`STUB_NAMES`: placeholder classes that raise if ever constructed, and the
``InterpolationMode`` enum), then imports ``timm.optim`` and re-exports its optimizers. The
optimizer code audited is timm's own, unchanged; audit targets are ``audits/timm_shim.py:Lamb`` and so on.

When a real torchvision imports, the stub is not installed.
"""
from __future__ import annotations

import enum
import importlib.machinery
import importlib.util
import sys
import types


#: The torchvision names timm imports at module level when ``timm.optim`` is imported (timm 1.0.31:
#: timm/layers/create_norm.py, layers/norm_act.py, utils/model.py, data/transforms.py,
#: data/transforms_factory.py, data/naflex_transforms.py, data/dataset_factory.py). Imports timm
#: guards with ``except ImportError`` (torchvision.models.feature_extraction, the optional datasets)
#: are left missing, so timm takes its own without-torchvision branch there.
STUB_NAMES = {
    "torchvision.ops.misc": ["FrozenBatchNorm2d"],
    "torchvision.datasets": ["CIFAR10", "CIFAR100", "MNIST", "KMNIST", "FashionMNIST", "ImageFolder"],
    "torchvision.transforms": ["ToTensor"],
}
INTERPOLATION_MODES = ("NEAREST", "BILINEAR", "BICUBIC", "BOX", "HAMMING", "LANCZOS")


def _placeholder(qualname: str) -> type:
    """A class standing for a torchvision one: it can be named and subclassed, never constructed."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"audits/timm_shim.py: torchvision is stubbed; {qualname} is unavailable")

    return type(qualname.rsplit(".", 1)[1], (), {"__init__": __init__, "__module__": qualname.rsplit(".", 1)[0]})


def _install_stub() -> None:
    """Register the stub ``torchvision`` in ``sys.modules`` unless a working torchvision imports."""
    try:
        if importlib.util.find_spec("torchvision") is not None:
            import torchvision  # noqa: F401  (a working torchvision: use it)
            return
    except Exception:  # a broken torchvision (a CUDA wheel beside CPU torch): stub it
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]

    def module(name: str) -> types.ModuleType:
        if name in sys.modules:
            return sys.modules[name]
        mod = types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=True)
        mod.__path__ = []
        sys.modules[name] = mod
        parent, _, leaf = name.rpartition(".")
        if parent:
            setattr(module(parent), leaf, mod)
        return mod

    module("torchvision").__version__ = "0.0.0+optconform-stub"
    for name, attrs in STUB_NAMES.items():
        for attr in attrs:
            setattr(module(name), attr, _placeholder(f"{name}.{attr}"))
    module("torchvision.transforms.functional").InterpolationMode = enum.Enum(
        "InterpolationMode", {m: m.lower() for m in INTERPOLATION_MODES})


_install_stub()

from timm.optim import (  # noqa: E402
    SGDP,
    SGDW,
    AdaBelief,
    Adafactor,
    AdafactorBigVision,
    AdamP,
    AdamWLegacy,
    Adan,
    Adopt,
    Lamb,
    Lars,
    Lion,
    NAdamLegacy,
    NAdamW,
    NvNovoGrad,
    RAdamLegacy,
    RMSpropTF,
)

__all__ = ["AdaBelief", "Adafactor", "AdafactorBigVision", "AdamP", "AdamWLegacy", "Adan", "Adopt", "Lamb", "Lars",
           "Lion", "NAdamLegacy", "NAdamW", "NvNovoGrad", "RAdamLegacy", "RMSpropTF", "SGDP", "SGDW"]
