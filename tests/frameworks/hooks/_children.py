"""Building registry child schedules (lambda_lr, multiplicative) in optax, for sequential.

(torch children are built by optconform.adapters.frameworks.torch_schedules.child.)
"""
from __future__ import annotations

import math

from optconform.adapters.frameworks.torch_schedules import lr_lambda


def optax_child(lr, table):
    h = table.get("hyper", {})
    f = lr_lambda(h["fn"], h["c"])
    lr = float(lr)
    if table["algorithm"] == "lambda_lr":
        return lambda count: lr * f(int(count))
    if table["algorithm"] == "multiplicative":
        return lambda count: lr * math.prod(f(i) for i in range(1, int(count) + 1))
    raise NotImplementedError(f"no optax child for {table['algorithm']}")
