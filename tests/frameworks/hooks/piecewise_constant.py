"""Framework hooks for piecewise_constant (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from ._schedule_common import f64


def optax_schedule(h, profile):
    import optax

    values = [float(h.lr)] + [float(v) for v in h["values"]]
    scales = {int(b): values[j + 1] / values[j] for j, b in enumerate(h.boundaries)}
    return optax.piecewise_constant_schedule(init_value=values[0], boundaries_and_scales=scales)


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[int(b) for b in h.boundaries], values=[f64(h.lr)] + [f64(v) for v in h["values"]])
