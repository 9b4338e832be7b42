"""Framework hooks for multiplicative (see tests/frameworks/drivers.py): f(k) as a Python float function."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

lr_lambda = torch_schedules.lr_lambda  # f(k) as a Python float function (shared with optax)


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "multiplicative", h, profile)
