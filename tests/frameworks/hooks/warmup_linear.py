"""Framework hooks for warmup_linear (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "warmup_linear", h, profile)


def optax_schedule(h, profile):
    import optax

    W, T, lr = int(h.warmup_steps), int(h.total_steps), float(h.lr)
    return optax.join_schedules([optax.linear_schedule(0.0, lr, W), optax.linear_schedule(lr, 0.0, T - W)],
                                boundaries=[W])
