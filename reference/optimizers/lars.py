"""LARS (You, Gitman & Ginsburg, 2017, Algorithm 1 and eq. 6), with the axes on which
implementations differ.

Per tensor ("layer") θ, with g_t the gradient, η_t the (global) learning rate of this step,
tc the trust coefficient, λ the weight decay, μ the momentum, ε the denominator constant and
b₀ = 0:

    d_t = g_t + λθ                                        the decayed gradient direction
    φ_t = tc·‖θ‖ / (‖g_t‖ + λ‖θ‖ + ε)                     ``trust_denominator`` = sum_of_norms (paper)
        = tc·‖θ‖ / (‖g_t + λθ‖ + ε)                       ``trust_denominator`` = norm_of_sum
    φ_t = 1 when ‖θ‖ = 0 or ‖d_t‖ = 0                     (the paper leaves 0/0 undefined)
    b_t = μ b_{t−1} + η_t φ_t d_t;   s_t = b_t            ``lr_placement`` = inside (paper)
    b_t = μ b_{t−1} + φ_t d_t;       s_t = η_t b_t        ``lr_placement`` = outside
    (nesterov: s_t = η_t φ_t d_t + μ b_t, resp. η_t(φ_t d_t + μ b_t))
    θ_t = θ − s_t

Norms are Euclidean over the whole tensor; ‖·‖ of a tensor holding NaN is NaN, so a NaN
gradient element makes the whole tensor NaN; an infinite one makes φ = 0 and 0·∞ = NaN.

State: ``momentum_buffer`` = b_t.
"""
from __future__ import annotations

from ..numeric import div, mul
from ..tensor import norm, tmap, zeros_like


def init(p, h, sem):
    return {"momentum_buffer": zeros_like(p)}


def validate(h, where):
    from ..errors import UserError

    if h.get("nesterov") and h.momentum == 0:
        raise UserError(f"{where}: nesterov needs momentum > 0")


def trust_ratio(p, g, d, h, sem):
    p_norm, d_norm = norm(p), norm(d)
    if sem.trust_denominator == "sum_of_norms":
        denom = norm(g) + h.weight_decay * p_norm + h.eps
    elif sem.trust_denominator == "norm_of_sum":
        denom = d_norm + h.eps
    else:
        raise ValueError(f"unknown trust_denominator {sem.trust_denominator!r}")
    if p_norm == 0 or d_norm == 0:
        return 1
    return div(h.trust_coefficient * p_norm, denom)


def step(p, g, state, h, sem, ctx):
    mu, lam = h.momentum, h.weight_decay
    d = tmap(lambda gi, pi: gi + lam * pi, g, p)
    phi = trust_ratio(p, g, d, h, sem)
    if sem.lr_placement == "inside":
        scaled = tmap(lambda di: mul(h.lr * phi, di), d)
        b = state["momentum_buffer"] = tmap(lambda bi, si: mu * bi + si, state["momentum_buffer"], scaled)
        s = tmap(lambda si, bi: si + mu * bi, scaled, b) if h.nesterov else b
    elif sem.lr_placement == "outside":
        scaled = tmap(lambda di: mul(phi, di), d)
        b = state["momentum_buffer"] = tmap(lambda bi, si: mu * bi + si, state["momentum_buffer"], scaled)
        s = tmap(lambda si, bi: h.lr * (si + mu * bi), scaled, b) if h.nesterov else tmap(lambda bi: h.lr * bi, b)
    else:
        raise ValueError(f"unknown lr_placement {sem.lr_placement!r}")
    return tmap(lambda pi, si: pi - si, p, s)
