"""Framework hooks for polynomial (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64, optional


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "polynomial", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.polynomial_schedule(init_value=float(h.lr), end_value=float(h.end_lr), power=float(h.power),
                                     transition_steps=int(h.total_steps))


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=f64(h.lr), decay_steps=int(h.total_steps),
        **optional(h, profile, {"end_lr": "end_learning_rate", "power": "power", "cycle": "cycle"}))
