"""SGD with heavy-ball or Nesterov momentum (Sutskever, Martens, Dahl & Hinton, 2013, eqs. 1–4).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, μ the momentum, τ the dampening and b₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                          axis ``weight_decay`` (common.py)
    μ = 0:   θ_t = θ − η_t g_t                               (no buffer; τ has no effect)
    μ > 0:   d_t = g_t                     ``lr_placement`` = outside (torch, optax)
             d_t = η_t g_t                 ``lr_placement`` = inside  (Sutskever; Keras)
             b_t = d_t                     if t = 1 and ``first_momentum`` = grad (torch)
             b_t = μ b_{t−1} + (1 − τ) d_t otherwise        (``first_momentum`` = dampened: b₀ = 0)
             u_t = b_t                     heavy ball
             u_t = d_t + μ b_t             ``nesterov``
             θ_t = θ − η_t u_t             ``lr_placement`` = outside
             θ_t = θ − u_t                 ``lr_placement`` = inside

With a constant learning rate the two placements are the same equations (b_inside = η b_outside);
they differ as soon as η_t changes, because the inside buffer keeps the past learning rates.
Sutskever et al. write v = −b: v_{t+1} = μ v_t − ε ∇f, θ_{t+1} = θ_t + v_{t+1}; their Nesterov
form, with the change of variables of Bengio et al. (2013, §3.5), is the ``nesterov`` line.

Nesterov momentum needs μ > 0 and τ = 0 (``validate``).

State: ``momentum_buffer`` = b_t (only when μ ≠ 0), in the torch sign convention.
"""
from __future__ import annotations

from ..common import weight_decay
from ..errors import UserError
from ..tensor import tmap


def validate(h, where):
    if h.nesterov and (h.momentum <= 0 or h.dampening != 0):
        raise UserError(f"{where}: nesterov momentum needs momentum > 0 and dampening = 0 "
                        f"(got momentum={h.momentum}, dampening={h.dampening})")


def init(p, h, sem):
    return {}  # the buffer is created on the first step, and only when μ ≠ 0


def step(p, g, state, h, sem, ctx):
    mu, tau = h.momentum, h.dampening
    p, g = weight_decay(p, g, h, sem, ctx)
    if mu == 0:
        return tmap(lambda pi, gi: pi - h.lr * gi, p, g)
    inside = sem.lr_placement == "inside"
    d = tmap(lambda gi: h.lr * gi, g) if inside else g
    if "momentum_buffer" not in state and sem.first_momentum == "grad":
        b = d.copy()
    else:
        prev = state.get("momentum_buffer")
        b = tmap(lambda di: (1 - tau) * di, d) if prev is None else \
            tmap(lambda bi, di: mu * bi + (1 - tau) * di, prev, d)
    state["momentum_buffer"] = b
    u = tmap(lambda di, bi: di + mu * bi, d, b) if h.nesterov else b
    if inside:
        return tmap(lambda pi, ui: pi - ui, p, u)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
