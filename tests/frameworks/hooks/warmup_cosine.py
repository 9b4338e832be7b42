"""Framework hooks for warmup_cosine (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "warmup_cosine", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.warmup_cosine_decay_schedule(init_value=float(h.warmup_start), peak_value=float(h.lr),
                                              warmup_steps=int(h.warmup_steps), decay_steps=int(h.total_steps),
                                              end_value=float(h.eta_min))


def keras_schedule(module, h, profile):
    # Keras's decay_steps excludes the warmup; alpha is the relative floor (axis floor = relative).
    return module.optimizers.schedules.CosineDecay(
        initial_learning_rate=f64(h.warmup_start), decay_steps=int(h.total_steps) - int(h.warmup_steps),
        alpha=float(h.eta_min), warmup_target=float(h.lr), warmup_steps=int(h.warmup_steps))
