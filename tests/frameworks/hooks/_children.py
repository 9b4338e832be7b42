"""Building registry child schedules (lambda_lr, multiplicative) in torch and optax, for sequential/chained."""
from __future__ import annotations

import math

from tests.frameworks.hooks.lambda_lr import lr_lambda


def torch_child(optimizer, table):
    import torch

    S = torch.optim.lr_scheduler
    h = table.get("hyper", {})
    f = lr_lambda(h["fn"], h["c"])
    if table["algorithm"] == "lambda_lr":
        return S.LambdaLR(optimizer, lr_lambda=f)
    if table["algorithm"] == "multiplicative":
        return S.MultiplicativeLR(optimizer, lr_lambda=f)
    raise NotImplementedError(f"no torch child for {table['algorithm']}")


def optax_child(lr, table):
    h = table.get("hyper", {})
    f = lr_lambda(h["fn"], h["c"])
    lr = float(lr)
    if table["algorithm"] == "lambda_lr":
        return lambda count: lr * f(int(count))
    if table["algorithm"] == "multiplicative":
        return lambda count: lr * math.prod(f(i) for i in range(1, int(count) + 1))
    raise NotImplementedError(f"no optax child for {table['algorithm']}")
