"""Framework hooks for sequential (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from tests.frameworks.hooks._children import optax_child, torch_child


def torch_schedule(optimizer, h, profile):
    import torch

    children = [torch_child(optimizer, t) for t in h.children]
    return torch.optim.lr_scheduler.SequentialLR(optimizer, children, milestones=[int(m) for m in h.milestones])


def optax_schedule(h, profile):
    import optax

    return optax.join_schedules([optax_child(h.lr, t) for t in h.children], boundaries=[int(m) for m in h.milestones])
