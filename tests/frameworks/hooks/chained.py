"""Framework hooks for chained (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from tests.frameworks.hooks._children import torch_child


def torch_schedule(optimizer, h, profile):
    import torch

    return torch.optim.lr_scheduler.ChainedScheduler([torch_child(optimizer, t) for t in h.children])
