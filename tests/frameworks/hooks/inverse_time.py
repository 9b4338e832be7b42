"""Framework hooks for inverse_time (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from ._schedule_common import f64, optional


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.InverseTimeDecay(
        initial_learning_rate=f64(h.lr), decay_steps=int(h.decay_steps), decay_rate=float(h.decay_rate),
        **optional(h, profile, {"staircase": "staircase"}))
