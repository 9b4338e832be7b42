"""Framework hooks for multistep (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from collections import Counter


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "multistep", h, profile)


def optax_schedule(h, profile):
    import optax

    counts = Counter(int(m) for m in h.milestones)  # a dict: a duplicated milestone decays by γⁿ
    return optax.piecewise_constant_schedule(
        init_value=float(h.lr), boundaries_and_scales={m: float(h.gamma) ** n for m, n in counts.items()})
