"""Framework hooks for cosine (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64, optional


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "cosine", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.cosine_decay_schedule(init_value=float(h.lr), decay_steps=int(h.total_steps),
                                       **optional(h, profile, {"eta_min": "alpha", "exponent": "exponent"}))


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.CosineDecay(initial_learning_rate=f64(h.lr), decay_steps=int(h.total_steps),
                                                   **optional(h, profile, {"eta_min": "alpha"}))
