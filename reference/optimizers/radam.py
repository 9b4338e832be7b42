"""RAdam (Liu et al., ICLR 2020, Algorithm 2), with the axes on which implementations differ.

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, β₁, β₂, ε the hyperparameters, m₀ = v₀ = 0 and ρ_∞ = 2/(1 − β₂) − 1:

    (θ, g_t) ← weight_decay(θ, g_t)                       axis ``weight_decay`` (common.py)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = m_{t−1} + w (g_t − m_{t−1})  if w < ½,  g_t − (g_t − m_{t−1})(1 − w)  otherwise,
          w = 1 − β₁                                     ``first_moment`` = lerp (torch.lerp)
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ,  m̂_t = m_t / c₁
    ρ_t = ρ_∞ − 2 t β₂ᵗ / c₂
    tractable = ρ_t > 4                 ``rectify_threshold`` = rho_gt_4 (the paper)
              = ρ_t > 5                 ``rectify_threshold`` = rho_gt_5 (torch)
              = ρ_t ≥ 5                 ``rectify_threshold`` = rho_ge_5 (optax, the authors' code)
    if tractable:
        r_t = √[(ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t)]
        u_t = r_t · (√c₂/c₁) · m_t / (√v_t + ε)          ``eps_placement`` = hat
            = r_t · m̂_t / (√(v_t/c₂) + ε)                ``eps_placement`` = std
        θ_t = θ − η_t u_t
    else:
        θ_t = θ − η_t m̂_t                   ``below_threshold`` = sgd_momentum
        θ_t = θ  (no step, no decoupled decay)  ``below_threshold`` = skip

The two ``first_moment`` forms are equal in exact arithmetic; they differ only once m is
infinite (lerp gives ∞ − ∞ = NaN where the mix gives ±∞).
The exact ρ_t is never 4 or 5 for a binary floating-point β₂ (see the spec page), so on the
exact equations "> 5" and "≥ 5" switch at the same step. Frameworks compare a *rounded* ρ_t,
which can land exactly on 5.0: there torch (> 5) takes the SGD step and optax (≥ 5) the
rectified one. That is the precision emulation below, declared per framework.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t.

Precision emulation (``VARIANTS``, selected by a profile's declared effect ``rho`` through
``ctx.effects``, which gives the format fl it is held in):

* ``step_rounded_rho`` (effect ``rho``: torch's for-loop, foreach and differentiable paths, in
  Python floats, and optax under jax.jit with jax_enable_x64; effect ``rho_integer_pow``: optax
  run eagerly, where β₂ᵗ is jax's integer_pow): ρ_∞ and ρ_t are computed as the framework writes
  them, each operation rounded to the declared format (:func:`framework_rho`), and both the
  tractability test and r_t use those values; everything else is exact.
"""
from __future__ import annotations

from ..algorithm import Variant
from ..common import first_moment, weight_decay
from ..numeric import div, round_to, sqrt
from ..tensor import tmap, zeros_like

THRESHOLDS = {"rho_gt_4": lambda rho: rho > 4, "rho_gt_5": lambda rho: rho > 5, "rho_ge_5": lambda rho: rho >= 5}


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def rho(t, beta2):
    """ρ_∞ and ρ_t, the length of the approximated simple moving average."""
    rho_inf = 2 / (1 - beta2) - 1
    b2t = beta2 ** t
    return rho_inf, rho_inf - 2 * t * b2t / (1 - b2t)


def integer_pow(x, n: int, fl):
    """xⁿ as jax's ``lax.integer_pow`` computes it (the eager path, where the exponent is a
    concrete integer): binary exponentiation from the lowest bit, every product rounded (fl)."""
    acc = None
    while n > 0:
        if n & 1:
            acc = x if acc is None else fl(acc * x)
        n >>= 1
        if n > 0:
            x = fl(x * x)
    return acc


def framework_rho(t, beta2, fmt: str, squaring: bool = False):
    """(ρ_∞, ρ_t) as torch 2.13 (``_single_tensor_radam``, ``_multi_tensor_radam``) and optax 0.2.8
    (``scale_by_radam``) compute them, every operation rounded to ``fmt`` (fl), in their order::

        ρ_∞ = fl(fl64(fl64(2 / fl64(1 − β)) − 1))     2/(1 − b2) − 1 in Python floats, then held in fmt
        b   = fl(pow(fl(β), t))                       beta2**step (torch) / b2**count (optax)
        ρ_t = fl(ρ_∞ − fl(fl(2t·b) / fl(1 − b)))      rho_inf − 2*step*b/(1 − b), left to right

    with β = fl64(β₂), the Python float the framework is given (2t·b has one rounding: 2t is an
    integer). pow is correctly rounded (Python's ``**`` for torch, XLA's pow under jax.jit: both
    agree with it on every β₂ benchmarks/radam_rho_edges.py tries), or with ``squaring`` jax's
    integer_pow (optax run eagerly: the count is a concrete integer, :func:`integer_pow`)."""
    def fl(x):
        return round_to(x, fmt)

    def fl64(x):
        return round_to(x, "float64")

    b64 = fl64(beta2)  # the Python float the framework is given
    rho_inf = fl(fl64(fl64(2 / fl64(1 - b64)) - 1))
    b = integer_pow(fl(b64), t, fl) if squaring else fl(fl(b64) ** t)
    return rho_inf, fl(rho_inf - fl(fl(2 * t * b) / fl(1 - b)))


def rectification(rho_t, rho_inf):
    """r_t: the variance rectification term."""
    return sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def step(p, g, state, h, sem, ctx):
    return _update(p, g, state, h, sem, ctx, *rho(ctx.t, h.beta2))


def step_rounded_rho(p, g, state, h, sem, ctx):
    """``step`` with ρ_∞ and ρ_t as the framework computes them in the declared format of ``rho``
    (pow correctly rounded) or of ``rho_integer_pow`` (β₂ᵗ by jax's integer_pow)."""
    fx = ctx.effects
    squaring = fx.format("rho_integer_pow") is not None
    fmt = fx.format("rho_integer_pow") if squaring else fx.format("rho")
    return _update(p, g, state, h, sem, ctx, *framework_rho(ctx.t, h.beta2, fmt, squaring))


def _update(p, g, state, h, sem, ctx, rho_inf, rho_t):
    """One step given ρ_∞ and ρ_t (exact, or as a framework computes them)."""
    b1, b2, t = h.beta1, h.beta2, ctx.t
    tractable = THRESHOLDS[sem.rectify_threshold](rho_t)
    p_in = p
    p, g = weight_decay(p, g, h, sem, ctx)
    m = state["exp_avg"] = first_moment(state["exp_avg"], g, b1, sem)
    v = state["exp_avg_sq"] = tmap(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, state["exp_avg_sq"], g)
    if tractable:
        r = rectification(rho_t, rho_inf)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        if sem.eps_placement == "hat":
            scale = sqrt(c2) / c1
            u = tmap(lambda mi, vi: r * scale * div(mi, sqrt(vi) + h.eps), m, v)
        elif sem.eps_placement == "std":
            u = tmap(lambda mi, vi: r * div(mi / c1, sqrt(vi / c2) + h.eps), m, v)
        else:
            raise ValueError(f"unknown eps_placement {sem.eps_placement!r}")
        return tmap(lambda pi, ui: pi - h.lr * ui, p, u)
    if sem.below_threshold == "skip":
        return p_in
    if sem.below_threshold != "sgd_momentum":
        raise ValueError(f"unknown below_threshold {sem.below_threshold!r}")
    c1 = 1 - b1 ** t
    return tmap(lambda pi, mi: pi - h.lr * (mi / c1), p, m)


VARIANTS = {
    "rounded_rho": Variant(step_rounded_rho, ("rho", "rho_integer_pow"),
                           doc="torch, optax: ρ_∞ and ρ_t computed in floating point, the test on the rounded ρ_t"),
}
