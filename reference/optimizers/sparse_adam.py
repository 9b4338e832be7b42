"""Lazy (sparse) Adam: Adam applied only to the rows present in a sparse gradient.

A *row* of a tensor is a slice along its first axis (each element of a 1-d tensor is a row); a
row is *present* at step t when its gradient is not all zero (a NaN counts as non-zero).  With
g_t the gradient (negated first when ``maximize``), η_t the learning rate of this step, t the
optimizer's step count (it advances on every step, present rows or not) and m₀ = v₀ = 0:

    P_t = {rows r : g_t[r] ≠ 0}                           ``sparse_update`` = lazy
        = all rows                                        ``sparse_update`` = dense
    for the elements i of the rows in P_t (every other element keeps θ, m, v unchanged):
        m_t = β₁ m_{t−1} + (1 − β₁) g_t                   ``first_moment`` = mix (common.py)
            = torch.lerp(m_{t−1}, g_t, 1 − β₁)            ``first_moment`` = lerp
        v_t = β₂ v_{t−1} + (1 − β₂) g_t²                  ``second_moment`` = mix (common.py)
            = v_{t−1} + (1 − β₂)(g_t² − v_{t−1})          ``second_moment`` = delta
        c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ
        u_t = (m_t/c₁) / (√(v_t/c₂) + ε)                  ``eps_placement`` = std
            = (√c₂/c₁) · m_t / (√v_t + ε)                 ``eps_placement`` = hat
        θ_t = θ − η_t u_t

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite; the delta
form of v likewise once v is infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.
"""
from __future__ import annotations

import math

from ..common import first_moment_value, second_moment_value
from ..numeric import div, sqrt
from ..tensor import Tensor, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def present(g: Tensor, sem) -> list:
    """One flag per element: whether its row is updated this step."""
    width = math.prod(g.shape[1:]) if len(g.shape) > 1 else 1
    flags = []
    for start in range(0, len(g.data), width):
        row = g.data[start:start + width]
        keep = sem.sparse_update == "dense" or any(x != 0 for x in row)  # NaN != 0
        flags += [keep] * width
    return flags


def step(p, g, state, h, sem, ctx):
    b1, b2, t, eps = h.beta1, h.beta2, ctx.t, h.eps
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    m, v, theta = list(state["exp_avg"].data), list(state["exp_avg_sq"].data), list(p.data)
    for i, keep in enumerate(present(g, sem)):
        if not keep:
            continue
        gi = g.data[i]
        m[i] = first_moment_value(m[i], gi, b1, sem.first_moment)
        v[i] = second_moment_value(v[i], gi, b2, sem.second_moment)
        if sem.eps_placement == "std":
            u = div(m[i] / c1, sqrt(v[i] / c2) + eps)
        elif sem.eps_placement == "hat":
            u = sqrt(c2) / c1 * div(m[i], sqrt(v[i]) + eps)
        else:
            raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")
        theta[i] = theta[i] - h.lr * u
    state["exp_avg"], state["exp_avg_sq"] = Tensor(p.shape, m), Tensor(p.shape, v)
    return Tensor(p.shape, theta)
