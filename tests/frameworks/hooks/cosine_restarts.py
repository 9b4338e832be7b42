"""Framework hooks for cosine_restarts (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64, optional


def _int(x):
    if x != int(x):
        raise NotImplementedError("this framework needs integer cycle lengths")
    return int(x)


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "cosine_restarts", h, profile)


def optax_schedule(h, profile):
    import optax

    lo, peak = float(h.eta_min), float(h.lr)
    cycles = []
    for i in range(int(h.cycles)):
        top = lo + (peak - lo) * float(h.m_mult) ** i if h.m_mult != 1 else peak
        cycles.append(dict(init_value=top, peak_value=top, warmup_steps=0,
                           decay_steps=_int(h.first_cycle * h.t_mult ** i), end_value=lo))
    return optax.sgdr_schedule(cycles)


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.CosineDecayRestarts(
        initial_learning_rate=f64(h.lr), first_decay_steps=int(h.first_cycle),
        **optional(h, profile, {"t_mult": "t_mul", "m_mult": "m_mul", "eta_min": "alpha"}))
