"""Framework hooks for one_cycle (see tests/frameworks/drivers.py)."""
from __future__ import annotations

from optconform.adapters.frameworks import torch_schedules


def torch_schedule(optimizer, h, profile):
    return torch_schedules.build(optimizer, "one_cycle", h, profile)


def optax_schedule(h, profile):
    import optax

    common = dict(transition_steps=int(h.total_steps), peak_value=float(h.lr), pct_start=float(h.pct_start),
                  div_factor=float(h.div_factor), final_div_factor=float(h.final_div_factor))
    if h.anneal == "cos" and not h.three_phase:
        return optax.cosine_onecycle_schedule(**common)
    if h.anneal == "linear" and h.three_phase:
        return optax.linear_onecycle_schedule(pct_final=float(h.pct_final), **common)
    raise NotImplementedError("optax has no constructor for this anneal/phase combination")
