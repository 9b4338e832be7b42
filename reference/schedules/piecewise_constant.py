"""Piecewise-constant learning rate given by absolute values between boundaries.

For update index k = 0, 1, ... (k = 0 is the first update), initial learning rate η = v_0,
strictly increasing boundaries b_1 < ... < b_n and values v_1, ..., v_n (absolute learning
rates, not factors), i_k is the number of boundaries already passed (axis ``boundary``):

    i_k = #{j : b_j ≤ k}     boundary = at     (v_j applies from k = b_j)
    i_k = #{j : b_j < k}     boundary = after  (v_j applies from k = b_j + 1)
    η_k = v_(i_k)
"""
from __future__ import annotations

from ..errors import UserError


def validate(h, where):
    b, v = h.boundaries, h["values"]
    if len(b) != len(v):
        raise UserError(f"{where}: boundaries and values must have the same length "
                        f"(one value after each boundary), got {len(b)} and {len(v)}")
    for x in b:
        if x != int(x):
            raise UserError(f"{where}: boundaries must be integers (update indices), got {x}")
    if any(b[i] >= b[i + 1] for i in range(len(b) - 1)):
        raise UserError(f"{where}: boundaries must be strictly increasing")


def horizon(h):
    return (int(h.boundaries[-1]) if h.boundaries else 0) + 2


def index(k, h, sem):
    if sem.boundary == "at":
        return sum(1 for b in h.boundaries if int(b) <= k)
    return sum(1 for b in h.boundaries if int(b) < k)


def value(k, h, sem):
    i = index(k, h, sem)
    return +h.lr if i == 0 else +h["values"][i - 1]
