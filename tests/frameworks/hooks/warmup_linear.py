"""Framework hooks for warmup_linear (see tests/frameworks/drivers.py)."""
from __future__ import annotations


def torch_schedule(optimizer, h, profile):
    import torch

    S = torch.optim.lr_scheduler
    W, T = int(h.warmup_steps), int(h.total_steps)
    warm = S.LambdaLR(optimizer, lambda k: k / W)
    decay = S.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=T - W)
    return S.SequentialLR(optimizer, [warm, decay], milestones=[W])


def optax_schedule(h, profile):
    import optax

    W, T, lr = int(h.warmup_steps), int(h.total_steps), float(h.lr)
    return optax.join_schedules([optax.linear_schedule(0.0, lr, W), optax.linear_schedule(lr, 0.0, T - W)],
                                boundaries=[W])
