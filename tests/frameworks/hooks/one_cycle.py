"""Framework hooks for one_cycle (see tests/frameworks/drivers.py)."""
from __future__ import annotations

import math

from tests.frameworks.drivers import renamed_kwargs


class _StopsAtRaise:
    """Wraps torch's OneCycleLR: once ``step()`` raises (update index > total_steps), the learning
    rate reads +inf, which no continuing reference can match (the reference stops there)."""

    def __init__(self, sched, optimizer):
        self.sched, self.optimizer, self.raised = sched, optimizer, False

    def step(self):
        if self.raised:
            return
        try:
            self.sched.step()
        except ValueError as exc:
            if "Tried to step" not in str(exc):
                raise
            self.raised = True
            for group in self.optimizer.param_groups:
                group["lr"] = math.inf


def torch_schedule(optimizer, h, profile):
    import torch

    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, **renamed_kwargs(h, profile))
    return _StopsAtRaise(sched, optimizer)


def optax_schedule(h, profile):
    import optax

    common = dict(transition_steps=int(h.total_steps), peak_value=float(h.lr), pct_start=float(h.pct_start),
                  div_factor=float(h.div_factor), final_div_factor=float(h.final_div_factor))
    if h.anneal == "cos" and not h.three_phase:
        return optax.cosine_onecycle_schedule(**common)
    if h.anneal == "linear" and h.three_phase:
        return optax.linear_onecycle_schedule(pct_final=float(h.pct_final), **common)
    raise NotImplementedError("optax has no constructor for this anneal/phase combination")
