"""AdEMAMix (Pagliardini, Ablin & Grangier, 2024, "The AdEMAMix Optimizer: Better, Faster, Older",
Algorithm 1), with the axes on which implementations differ.

For each tensor, with g_t the gradient at step t = 1, 2, …, η_t the learning rate of this step,
β₁, β₂, β₃, α, ε, λ the hyperparameters, T = T_{α,β₃} and m₁ = m₂ = v = 0 at the start:

    α_t  = min(tα/T, α)                                           α warmup (α_t = α when T = 0)
    β₃,t = min(exp(ln β₁ · ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃)
                                                                  β₃ warmup (β₃,t = β₃ when T = 0)
    (θ, g_t) ← weight_decay(θ, g_t)          axis ``weight_decay`` (common.py): decoupled_lr
                                             θ ← θ(1 − η_t λ) (the paper's −η(… + λθ)); l2
    m₁ = β₁ m₁ + (1 − β₁) g_t                 fast EMA   ``first_moment`` = mix (common.py)
    m₂ = β₃,t m₂ + (1 − β₃,t) g_t             slow EMA      (lerp: torch.lerp's form, both EMAs)
    v  = β₂ v + (1 − β₂) g_t²
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ
    s  = 1                                   ``slow_bias_correction`` = off (the paper: the slow
                                             EMA fills itself slowly, on purpose)
       = 1 − β₃,tᵗ                           ``slow_bias_correction`` = on
    u_t = (m₁/c₁ + α_t m₂/s) / (√(v/c₂) + ε)         ``eps_placement`` = std (the paper)
        = (m₁/c₁ + α_t m₂/s) · √c₂ / (√v + ε)       ``eps_placement`` = hat (ε̂ = ε√c₂)
        = (m₁/c₁ + α_t m₂/s) / √(v/c₂ + ε)          ``eps_placement`` = inside
    θ_t = θ − η_t u_t

The β₃ warmup interpolates linearly the half-life of the EMA: with h(β) = ln ½/ln β,
1/ln β₃,t = (1 − t/T)/ln β₁ + (t/T)/ln β₃, so h(β₃,t) = (1 − t/T)h(β₁) + (t/T)h(β₃) (the
authors' linear_hl_warmup_scheduler); it starts from β₁ and reaches β₃ at t = T. T = 0 means no
warmup (the authors' and pytorch-optimizer's None). The formula needs β₁ > 0 and β₃ > 0 when T > 0.

State: ``exp_avg`` = m₁, ``exp_avg_slow`` = m₂, ``exp_avg_sq`` = v.
"""
from __future__ import annotations


from ..common import first_moment, weight_decay
from ..errors import UserError
from ..numeric import div, exp, log, num, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_slow": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def validate(h, where):
    if h.alpha_beta3_warmup and (h.beta1 <= 0 or h.beta3 <= 0):
        raise UserError(f"{where}: the β₃ warmup (alpha_beta3_warmup > 0) takes ln β₁ and ln β₃, so beta1 and beta3 "
                        f"must be > 0")


def alpha_at(t: int, h):
    """α_t = min(tα/T, α), or α without a warmup (T = 0)."""
    T = h.alpha_beta3_warmup
    return h.alpha if not T else min(t * h.alpha / T, h.alpha)


def beta3_at(t: int, h):
    """β₃,t = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃), or β₃ without a warmup."""
    T = h.alpha_beta3_warmup
    if not T:
        return h.beta3
    a = num(t) / T
    l1, l3 = log(h.beta1), log(h.beta3)
    return min(exp(l1 * l3 / ((1 - a) * l3 + a * l1)), h.beta3)


def direction(m1, m2, v, c1, c2, alpha, s, h, sem):
    """u_t from the two EMAs and v (axis ``eps_placement``)."""
    eps = h.eps

    def numerator(a, b):
        return a / c1 + alpha * b / s

    if sem.eps_placement == "std":
        return tmap(lambda a, b, vi: div(numerator(a, b), sqrt(vi / c2) + eps), m1, m2, v)
    if sem.eps_placement == "hat":
        return tmap(lambda a, b, vi: div(numerator(a, b) * sqrt(c2), sqrt(vi) + eps), m1, m2, v)
    if sem.eps_placement == "inside":
        return tmap(lambda a, b, vi: div(numerator(a, b), sqrt(vi / c2 + eps)), m1, m2, v)
    raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")


def step(p, g, state, h, sem, ctx):
    t, b1, b2 = ctx.t, h.beta1, h.beta2
    alpha, b3 = alpha_at(t, h), beta3_at(t, h)
    p, g = weight_decay(p, g, h, sem, ctx)
    m1 = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    m2 = state["exp_avg_slow"] = first_moment(state["exp_avg_slow"], g, b3, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    if sem.slow_bias_correction == "off":
        s = 1
    elif sem.slow_bias_correction == "on":
        s = 1 - b3 ** t
    else:
        raise ValueError(f"unknown slow_bias_correction {sem.slow_bias_correction!r}")
    u = direction(m1, m2, v, c1, c2, alpha, s, h, sem)
    return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
