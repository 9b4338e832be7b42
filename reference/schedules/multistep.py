"""Multi-step decay: multiply the learning rate by γ at each milestone.

For update index k = 0, 1, ... (k = 0 is the first update), base learning rate η, decay factor γ
and milestones m_1, ..., m_n (a multiset of update indices; a milestone listed twice decays twice),
n_k is the number of milestones already passed (axis ``boundary``):

    n_k = #{i : m_i ≤ k}     boundary = at     (the decay applies from k = m_i)
    n_k = #{i : m_i < k}     boundary = after  (the decay applies from k = m_i + 1)
    η_k = η · γ^(n_k)
"""
from __future__ import annotations

from ..errors import UserError


def validate(h, where):
    for m in h.milestones:
        if m != int(m):
            raise UserError(f"{where}: milestones must be integers (update indices), got {m}")


def horizon(h):
    return (max(int(m) for m in h.milestones) if h.milestones else 0) + 1


def passed(k, h, sem):
    if sem.boundary == "at":
        return sum(1 for m in h.milestones if int(m) <= k)
    return sum(1 for m in h.milestones if int(m) < k)


def value(k, h, sem):
    return h.lr * h.gamma ** passed(k, h, sem)
