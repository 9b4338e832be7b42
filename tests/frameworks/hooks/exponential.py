"""Framework hooks for exponential (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "exponential", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.exponential_decay(init_value=float(h.lr), transition_steps=int(h.decay_steps),
                                   decay_rate=float(h.gamma))


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=f64(h.lr), decay_steps=int(h.decay_steps), decay_rate=float(h.gamma))
