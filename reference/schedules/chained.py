"""Schedules applied together, their multipliers compounding (torch ChainedScheduler).

Base η (hyper ``lr``); children c_1, ..., c_n (hyper ``children``: {algorithm, hyper[, profile]}
tables of this registry, each evaluated with base rate η).  For update k = 0, 1, ... (k = 0 is the
first update):

    product (axis ``compose``):   η_k = η · ∏_j s_j(k),   s_j = c_j evaluated with base rate 1

    in_order (torch):             r ← η_{k−1} (η for k = 0); then for j = 1..n in order
                                      r ← c_j(k)                      c_j absolute
                                      r ← r · c_j(k)/c_j(k − 1)       c_j recursive (k ≥ 1; unchanged at k = 0)
                                  η_k = r

Recursive children are the torch schedulers whose get_lr multiplies the current rate (here
``multiplicative``); every other child is absolute and overwrites what the children before it
did.  With only recursive children the two agree.  ``total_steps`` is the length of the scenarios.
"""
from __future__ import annotations

from ..errors import UserError
from ..numeric import div
from .sequential import RECURSIVE, _child, child_lrs


def validate(h, where):
    if len(h.children) < 1:
        raise UserError(f"{where}: chained needs at least one child")
    for table in h.children:
        _child(table, h.lr, where)


def horizon(h):
    return int(h.total_steps)


def run(h, sem, steps, metrics=None):
    tables = list(h.children)
    seqs = [child_lrs(t, h.lr, steps) for t in tables]
    multipliers = [child_lrs(t, 1, steps) for t in tables] if sem.compose == "product" else []
    out = []
    prev = h.lr
    for k in range(steps):
        if sem.compose == "product":
            r = h.lr
            for s in multipliers:
                r = r * s[k]
        else:
            r = prev
            for t, c in zip(tables, seqs):
                if t["algorithm"] not in RECURSIVE:
                    r = c[k]
                elif k > 0:
                    r = r * div(c[k], c[k - 1])
        out.append({"lr": r})
        prev = r
    return out
