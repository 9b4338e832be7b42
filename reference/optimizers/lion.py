"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms", Program 1 / Algorithm 2).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂ the two interpolation factors, λ the weight decay and m₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                 axis ``weight_decay`` (common.py):
                                                    decoupled_lr: θ ← θ(1 − η_t λ) (the paper);
                                                    l2: g_t ← g_t + λθ (enters c_t and m_t)
    c_t = β₁ m_{t−1} + (1 − β₁) g_t                 interpolation with the *old* momentum
    θ_t = θ − η_t sign(c_t)                         sign(0) = 0, sign(NaN) = NaN
    m_t = β₂ m_{t−1} + (1 − β₂) g_t                 updated after c_t

The paper writes the step as θ_t = θ_{t−1} − η_t (sign(c_t) + λθ_{t−1}), which is the
decoupled_lr decay followed by the sign step.

State: ``exp_avg`` = m_t.
"""
from __future__ import annotations

from ..common import weight_decay
from ..numeric import sign
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p)}


def step(p, g, state, h, sem, ctx):
    b1, b2 = h.beta1, h.beta2
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"]
    c = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
    state["exp_avg"] = tmap(lambda mi, gi: b2 * mi + (1 - b2) * gi, m, g)
    return tmap(lambda pi, ci: pi - h.lr * sign(ci), p, c)
