"""Lookahead (Zhang, Lucas, Hinton & Ba, 2019, "Lookahead Optimizer: k steps forward, 1 step back",
NeurIPS 2019, arXiv:1907.08610, Algorithm 1) around SGD with heavy-ball momentum.

Per tensor: the fast weights θ (the parameters: the gradient is taken there, and every framework
holds them as the model's weights), the slow weights φ (state ``slow``, φ₀ = θ₀) and the inner
optimizer's buffer b (state ``momentum_buffer``, b₀ = 0). With g_t the gradient at θ, η_t the
learning rate of this step, μ the momentum, k = ``sync_period`` and α = ``slow_step_size``:

    b_t = μ b_{t−1} + g_t                   the inner (fast) optimizer: SGD with heavy-ball
    θ' = θ − η_t b_t                        momentum (torch.optim.SGD, optax.sgd; dampening 0);
                                            μ = 0 is plain SGD θ' = θ − η_t g_t with no buffer
                                            (torch and optax.sgd(momentum=None) hold none), so
                                            then the axis inner_state has nothing to act on
    s_t = 1 if t ≡ 0 (mod k), else 0        ``sync_phase`` = after_k: k inner steps, then the
                                            outer update (the paper, optax, pytorch-optimizer)
        = 1 if t ≡ 1 (mod k), else 0        ``sync_phase`` = after_1 (torch-optimizer): the first
                                            step synchronizes, and there φ ← θ' first (the slow
                                            copy is made then), so that sync moves nothing
    ``sync_form`` = branch (the paper's two loops):
        θ_t = θ'                                              when s_t = 0
        φ_t = φ + α(θ' − φ),  θ_t = φ_t                       when s_t = 1
    ``sync_form`` = blend (optax: one jittable update for every step):
        d = θ + (−η_t b_t) − φ
        φ_t = φ + α s_t d
        θ_t = θ + ((−η_t b_t) − s_t(1 − α) d)
    and the inner state at a sync (axis ``inner_state``):
        keep:      b_t unchanged (the paper's Algorithm 1 leaves the inner optimizer alone)
        reset:     b_t ← 0 (branch);  b_t ← (1 − s_t) b_t + s_t·0 on every step (blend)
        pullback:  b_t ← β + α(b_t − β), β ← b_t  (β = state ``slow_momentum``, β₀ = 0;
                   pytorch-optimizer's pullback_momentum='pullback')

The two forms are equal in exact arithmetic for finite values; blend multiplies the difference d
by s_t = 0 on the steps that do not synchronize, so once θ' is NaN or infinite both θ and φ are NaN
on that very step (0·∞ = NaN), where branch keeps θ at ±∞ and φ untouched until the next sync.

State: ``slow`` = φ_t; ``momentum_buffer`` = b_t and, for pullback, ``slow_momentum`` = β when μ ≠ 0.
"""
from __future__ import annotations

from ..numeric import mul
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    state = {"slow": p.copy()}
    if h.momentum != 0:
        state["momentum_buffer"] = zeros_like(p)
        if sem.inner_state == "pullback":
            state["slow_momentum"] = zeros_like(p)
    return state


def synchronizes(t: int, h, sem) -> bool:
    """s_t: whether step t ends with the outer update (axis ``sync_phase``)."""
    k = h.sync_period
    if sem.sync_phase == "after_k":
        return t % k == 0
    if sem.sync_phase == "after_1":
        return t % k == 1 % k
    raise ValueError(f"unknown sync_phase {sem.sync_phase!r}")


def step(p, g, state, h, sem, ctx):
    mu, alpha = h.momentum, h.slow_step_size
    if mu == 0:  # plain SGD: no buffer, so no inner state to keep, reset or pull back
        u = tmap(lambda gi: -h.lr * gi, g)
    else:
        b = state["momentum_buffer"] = tmap(lambda bi, gi: mu * bi + gi, state["momentum_buffer"], g)
        u = tmap(lambda bi: -h.lr * bi, b)
    sync = synchronizes(ctx.t, h, sem)
    if sem.sync_phase == "after_1" and ctx.t == 1:
        state["slow"] = tmap(lambda pi, ui: pi + ui, p, u)  # torch-optimizer's slow copy of θ₁
    phi = state["slow"]
    if sem.sync_form == "branch":
        fast = tmap(lambda pi, ui: pi + ui, p, u)
        if sync:
            phi = state["slow"] = tmap(lambda fi, si: si + alpha * (fi - si), fast, phi)
            fast = phi.copy()
    elif sem.sync_form == "blend":
        s = 1 if sync else 0
        d = tmap(lambda pi, ui, si: pi + ui - si, p, u, phi)
        state["slow"] = tmap(lambda si, di: si + mul(alpha * s, di), phi, d)
        fast = tmap(lambda pi, ui, di: pi + (ui - mul(s * (1 - alpha), di)), p, u, d)
    else:
        raise ValueError(f"unknown sync_form {sem.sync_form!r}")
    inner = sem.inner_state
    if mu == 0:
        pass
    elif inner == "reset":
        if sem.sync_form == "blend":
            state["momentum_buffer"] = tmap(lambda bi: mul(1 - s, bi) + s * 0, b)
        elif sync:
            state["momentum_buffer"] = zeros_like(b)
    elif inner == "pullback":
        if sync:
            beta = state["slow_momentum"]
            b = state["momentum_buffer"] = tmap(lambda bi, qi: qi + alpha * (bi - qi), b, beta)
            state["slow_momentum"] = b.copy()
    elif inner != "keep":
        raise ValueError(f"unknown inner_state {inner!r}")
    return fast
