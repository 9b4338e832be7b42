"""Framework hooks for multistep (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from collections import Counter

from ._schedule_common import optional


def torch_schedule(optimizer, h, profile):
    import torch

    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[int(m) for m in h.milestones],
                                                **optional(h, profile, {"gamma": "gamma"}))


def optax_schedule(h, profile):
    import optax

    counts = Counter(int(m) for m in h.milestones)  # a dict: a duplicated milestone decays by γⁿ
    return optax.piecewise_constant_schedule(
        init_value=float(h.lr), boundaries_and_scales={m: float(h.gamma) ** n for m, n in counts.items()})
