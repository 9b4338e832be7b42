"""Framework hooks for constant (see tests/frameworks/drivers.py)."""
from __future__ import annotations


def torch_schedule(optimizer, h, profile):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda k: 1.0)


def keras_schedule(module, h, profile):
    import numpy as np

    opt = module.optimizers.SGD(learning_rate=float(h.lr))
    return lambda k: np.asarray(opt.learning_rate)
