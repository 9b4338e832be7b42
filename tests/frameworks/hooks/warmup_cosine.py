"""Framework hooks for warmup_cosine (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from ._schedule_common import f64


def torch_schedule(optimizer, h, profile):
    import torch

    W, T = int(h.warmup_steps), int(h.total_steps)
    lr, start = float(h.lr), float(h.warmup_start)
    if start > 0:
        warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start / lr, total_iters=W)
    else:  # LinearLR requires start_factor > 0: a warmup from 0 is LambdaLR (as transformers builds it)
        warm = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda k: k / W if k < W else 1.0)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T - W, eta_min=float(h.eta_min))
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, cos], milestones=[W])


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
