"""Framework hooks for sequential (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from tests.frameworks.hooks._children import optax_child


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "sequential", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.join_schedules([optax_child(h.lr, t) for t in h.children], boundaries=[int(m) for m in h.milestones])
