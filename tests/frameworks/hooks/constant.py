"""Framework hooks for constant (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "constant", h, profile)


def keras_schedule(module, h, profile):
    import numpy as np

    opt = module.optimizers.SGD(learning_rate=float(h.lr))
    return lambda k: np.asarray(opt.learning_rate)
