"""Framework hooks for linear_warmup (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules

from ._schedule_common import f64


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "linear_warmup", h, profile)


def optax_schedule(h, profile):
    import optax

    return optax.linear_schedule(init_value=float(h.warmup_start), end_value=float(h.lr),
                                 transition_steps=int(h.warmup_steps))


def keras_schedule(module, h, profile):
    return module.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=f64(h.warmup_start), decay_steps=int(h.warmup_steps), end_learning_rate=float(h.lr),
        power=1.0)


def skip(framework, case):
    h = case.groups[0][1]
    if framework == "torch" and h.warmup_start == 0:
        return "torch LinearLR/ConstantLR require a start factor > 0"
    if framework in ("keras", "tf_keras") and h.warmup_steps == 0:
        return "Keras PolynomialDecay requires decay_steps > 0"
    return None
