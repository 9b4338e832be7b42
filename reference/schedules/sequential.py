"""Schedules run one after another, switching at milestones (torch SequentialLR, optax join_schedules).

Base η (hyper ``lr``); children c_0, ..., c_n (hyper ``children``: a list of {algorithm, hyper[,
profile]} tables, each a schedule of this registry evaluated with base rate η under the named
profile's semantics, spec by default); milestones 0 < m_1 < ... < m_n (m_0 = 0).  For update
k = 0, 1, ... (k = 0 is the first update), child i is the one with m_i ≤ k < m_{i+1}, and

    η_k = c_i(k − m_i)                                        axis ``milestone_restart`` = restart
    η_k = η_{m_i − 1} · e_i · c_i(k − m_i)/c_i(0)   if c_i is recursive (torch: a scheduler
          without a closed form, here ``multiplicative`` with e_i = f(0)), else c_i(k − m_i)
                                                              axis ``milestone_restart`` = continue

The milestone itself belongs to the new child (k = m_i runs c_i(0)).  ``total_steps`` is the
length of the scenarios.
"""
from __future__ import annotations

from ..errors import UserError
from ..numeric import div

RECURSIVE = ("multiplicative",)  # torch schedulers whose get_lr multiplies the current rate


def entry_factor(table, lr):
    """e: the factor a recursive child applies on entry at its milestone (1 if it defines none)."""
    alg, h, _ = _child(table, lr)
    fn = getattr(alg.impl, "entry_factor", None)
    return fn(h) if fn else 1


def _child(table, lr, where="children"):
    from ..model import get

    if not isinstance(table, dict) or "algorithm" not in table:
        raise UserError(f"{where}: every child must be a table with an 'algorithm' (and optional 'hyper', 'profile')")
    alg = get(table["algorithm"])
    if alg.kind != "schedule":
        raise UserError(f"{where}: {alg.name} is not a schedule")
    overrides = dict(table.get("hyper", {}))
    overrides["lr"] = lr
    profile = table.get("profile", "spec")
    return alg, alg.resolve(profile, overrides, f"{where} {alg.name}"), alg.semantics(profile)


def child_lrs(table, lr, steps):
    """The learning rates c(0), ..., c(steps − 1) of one child table with base rate ``lr``."""
    alg, h, sem = _child(table, lr)
    if hasattr(alg.impl, "run"):
        return [r["lr"] for r in alg.impl.run(h, sem, steps, None)]
    return [alg.impl.value(k, h, sem) for k in range(steps)]


def milestones(h):
    return [int(m) for m in h.milestones]


def validate(h, where):
    ms = h.milestones
    if any(m != int(m) for m in ms):
        raise UserError(f"{where}: milestones must be integers")
    ms = [int(m) for m in ms]
    if len(h.children) != len(ms) + 1:
        raise UserError(f"{where}: need one more child than milestones (got {len(h.children)} and {len(ms)})")
    if any(b <= a for a, b in zip([0] + ms, ms)):
        raise UserError(f"{where}: milestones must be positive and strictly increasing")
    for table in h.children:
        _child(table, h.lr, where)


def horizon(h):
    return int(h.total_steps)


def run(h, sem, steps, metrics=None):
    starts = [0] + milestones(h)
    out = []
    for i, table in enumerate(h.children):
        stop = starts[i + 1] if i + 1 < len(starts) else steps
        n = max(0, min(stop, steps) - starts[i])
        if n == 0:
            continue
        c = child_lrs(table, h.lr, n)
        if sem.milestone_restart == "continue" and i > 0 and table["algorithm"] in RECURSIVE:
            carried = out[-1]["lr"]
            e = entry_factor(table, h.lr)
            c = [carried * e * div(x, c[0]) for x in c]
        out.extend({"lr": x} for x in c)
    return out
