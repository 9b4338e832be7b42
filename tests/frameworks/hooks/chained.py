"""Framework hooks for chained (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "chained", h, profile)
