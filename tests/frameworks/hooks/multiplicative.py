"""Framework hooks for multiplicative (see tests/frameworks/drivers.py): f(k) as a Python float function."""
from __future__ import annotations

import math


def lr_lambda(fn, c):
    c = float(c)
    return {"constant": lambda k: c, "power": lambda k: c ** k, "inverse": lambda k: 1.0 / (1.0 + c * k),
            "inverse_sqrt": lambda k: 1.0 / math.sqrt(1.0 + c * k)}[fn]


def torch_schedule(optimizer, h, profile):
    import torch

    return torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda=lr_lambda(h.fn, h.c))
