"""Framework hooks for wsd (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules


def _lengths(h):
    W, D, T = int(h.warmup_steps), int(h.decay_steps), int(h.total_steps)
    return W, T - W - D, D


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "wsd", h, profile)


def optax_schedule(h, profile):
    import optax

    W, S, D = _lengths(h)
    lr, r = float(h.lr), float(h.min_lr_ratio)
    if h.decay_shape == "cosine":
        decay = optax.cosine_decay_schedule(lr, D, alpha=r)
    elif h.decay_shape == "linear":
        decay = optax.linear_schedule(lr, r * lr, D)
    else:
        raise NotImplementedError("optax has no 1-sqrt schedule")
    return optax.join_schedules([optax.linear_schedule(0.0, lr, W), optax.constant_schedule(lr), decay],
                                boundaries=[W, W + S])
