"""ADOPT (Taniguchi et al., 2024, "ADOPT: Modified Adam Can Converge with Any β₂ with the Optimal
Rate", Algorithm 2 with the clip of the authors' code), with the axes on which implementations differ.

For each tensor, with g_k the gradient of the k-th call of the optimizer (k = 1, 2, …), η the
learning rate of that call, β₁, β₂, ε, λ, e (``clip_exp``: 1/4 in ADOPT) the hyperparameters, m₀ = 0
and Clip(x, c) = min(max(x, −c), c) element-wise (the identity when ``unclipped``):

    (θ, g_k) ← weight_decay(θ, g_k)                 axis ``weight_decay`` (common.py): l2
                                                    g ← g + λθ (the authors' default), decoupled_lr
                                                    θ ← θ(1 − ηλ); applied at every call
    first call (k = 1), axis ``first_step``:
      skip:   v₀ = g₁²; θ and m are left as they are     (the paper's v₀ = g₀², every implementation)
              and the calls k ≥ 2 are the updates n = k − 1 = 1, 2, …
      update: v₀ = g₁², then the update below with n = k = 1 in the same call
      zero:   v₀ = 0 (Adam's initialization) and every call is an update, n = k
    the update n (v = v_{n−1}, the second moment *before* this gradient):
      d  = max(√v, ε)                               ``eps_floor`` = max (paper, every implementation)
         = √v + ε                                   ``eps_floor`` = add
      c  = n^e                                      ``clip_index`` = updates (paper, optax, authors,
                                                    timm; e = 1/4, timm's default e = 0.333)
         = k^e                                      ``clip_index`` = calls (pytorch-optimizer)
      ``normalize_order`` = before (the paper's order):
        ĝ  = Clip(g/d, c)
        m_n = β₁ m_{n−1} + (1 − β₁) ĝ
        u  = β₁ m_n + (1 − β₁) ĝ   when ``nesterov`` (optax),  else u = m_n
      ``normalize_order`` = after (Adam's order, with v_{n−1}):
        m_n = β₁ m_{n−1} + (1 − β₁) g
        u  = Clip((β₁ m_n + (1 − β₁) g)/d, c)   when ``nesterov``,  else u = Clip(m_n/d, c)
      u ← u/(1 − β₁ⁿ)                                ``momentum_correction`` = on (off: ADOPT has none)
      θ ← θ − η u
      v_n = β₂ v_{n−1} + (1 − β₂) g²                 updated after the step: v never sees g before g
                                                    is normalized by it

Under ``first_step`` = skip the clip of update n is c = n^e = (k − 1)^e; pytorch-optimizer
counts the first call too and clips with k^e (``clip_index`` = calls); under update and zero
the two counts are the same. max(NaN, ε) is NaN and Clip(NaN) is NaN (numeric.fmax, fmin), as in
every framework; Clip(±∞) = ±c, and once v = +∞, g/d = 0.

State: ``exp_avg`` = m_n, ``exp_avg_sq`` = v_n (v₀ = g₁² after the first call under skip).
"""
from __future__ import annotations

from ..common import weight_decay
from ..numeric import div, fmax, fmin, num, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def update_index(k: int, sem) -> int:
    """n, the number of the update the k-th call makes (0: the first call only sets v₀)."""
    return k - 1 if sem.first_step == "skip" else k


def clip_value(k: int, h, sem):
    """c = n^e of Clip(·, c) at call k (axis ``clip_index``; e = ``clip_exp``), None when ``unclipped``."""
    if h.unclipped:
        return None
    if sem.clip_index == "updates":
        index = update_index(k, sem)
    elif sem.clip_index == "calls":
        index = k
    else:
        raise ValueError(f"unknown clip_index {sem.clip_index!r}")
    return num(index) ** h.clip_exp


def clip(x, c):
    """Clip(x, c) = min(max(x, −c), c), NaN-propagating; x itself for c None."""
    return x if c is None else fmin(fmax(x, -c), c)


def denominator(v, h, sem):
    """d = max(√v, ε) (``eps_floor`` = max) or √v + ε (add)."""
    if sem.eps_floor == "max":
        return fmax(sqrt(v), h.eps)
    if sem.eps_floor == "add":
        return sqrt(v) + h.eps
    raise ValueError(f"unknown eps_floor {sem.eps_floor!r}")


def step(p, g, state, h, sem, ctx):
    b1, b2, k = h.beta1, h.beta2, ctx.t
    p, g = weight_decay(p, g, h, sem, ctx)
    v = state["exp_avg_sq"]
    if k == 1 and sem.first_step in ("skip", "update"):
        v = tmap(lambda gi: gi * gi, g)
        if sem.first_step == "skip":
            state["exp_avg_sq"] = v
            return p
    elif sem.first_step not in ("skip", "update", "zero"):
        raise ValueError(f"unknown first_step {sem.first_step!r}")
    n, c = update_index(k, sem), clip_value(k, h, sem)
    m = state["exp_avg"]
    if sem.normalize_order == "before":
        ghat = tmap(lambda gi, vi: clip(div(gi, denominator(vi, h, sem)), c), g, v)
        m = tmap(lambda mi, xi: b1 * mi + (1 - b1) * xi, m, ghat)
        u = tmap(lambda mi, xi: b1 * mi + (1 - b1) * xi, m, ghat) if h.nesterov else m
    elif sem.normalize_order == "after":
        m = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        w = tmap(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g) if h.nesterov else m
        u = tmap(lambda wi, vi: clip(div(wi, denominator(vi, h, sem)), c), w, v)
    else:
        raise ValueError(f"unknown normalize_order {sem.normalize_order!r}")
    if sem.momentum_correction == "on":
        correction = 1 - b1 ** n
        u = tmap(lambda ui: div(ui, correction), u)
    elif sem.momentum_correction != "off":
        raise ValueError(f"unknown momentum_correction {sem.momentum_correction!r}")
    state["exp_avg"] = m
    state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
