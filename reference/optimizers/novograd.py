"""NovoGrad (Ginsburg et al., 2019, Algorithm 1): SGD with momentum on gradients normalized by a
per-layer second moment, with the axes on which implementations differ.

A layer is one tensor. For each tensor θ, with g_t the gradient (negated first when
``maximize``), η_t the learning rate of this step, β₁, β₂, ε, λ the hyperparameters and m₀ = 0:

    (θ, g_t) ← decay(θ, g_t)          axis ``novograd_decay`` = l2: g_t ← g_t + λθ;
                                      decoupled_lr: θ ← θ(1 − η_t λ) (common.weight_decay)
    n_t = ‖g_t‖² = Σ g_t²             one number per tensor
    v_t = n_t                         t = 1, ``novograd_init`` = first_step (the paper)
    v_t = β₂ v_{t−1} + (1 − β₂) n_t   otherwise (v₀ = 0)            ``second_moment`` = mix
        = v_{t−1} + (1 − β₂)(n_t − v_{t−1})                         ``second_moment`` = delta
    d_t = √v_t + ε                    ``eps_root`` = outside
        = √(v_t + ε)                  ``eps_root`` = inside
    u_t = g_t / d_t + λθ              λθ here only for ``novograd_decay`` = in_moment (the paper)
    m_t = β₁ m_{t−1} + w u_t          w = 1; with ``grad_averaging`` w = 1 − β₁, except at t = 1
                                      for ``novograd_averaging`` = after_first (w = 1: m₁ = u₁)
    θ_t = θ − η_t m_t

The first step of the paper, v₁ = ‖g₁‖² and m₁ = g₁/√v₁ + λθ, is the recursion with v₁ = n₁
(first_step) and m₀ = 0 (with ε as at every other step); ``novograd_init`` = zero starts the moving
average from v₀ = 0 instead (v₁ = (1 − β₂)n₁). The norm of a tensor holding NaN is NaN (and +∞ for
an infinite element): the whole tensor's step follows, as in every implementation.

State: ``exp_avg`` = m_t (a tensor), ``exp_avg_sq`` = v_t (a scalar per tensor).

Precision emulation (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``): ``step_held_moment`` (effects ``norm_moment``, ``norm_denominator``; NVIDIA's
implementation in torch-optimizer and timm, whose v is a 0-d tensor of torch's default dtype,
float32, whatever the parameters'): with fl the rounding to the declared format,
v₁ = fl(n₁), v_t = fl(fl(v_{t−1}·fl(β₂)) + (1 − β₂)n_t) (``mul_(β₂)`` in the format, then ``add_`` of
the float64 n_t), and d_t = fl(fl(√v_t) + fl(ε)); the gradient is divided by that d_t in its own
dtype. torch's float32 square root of a 0-d tensor is faithful, not correctly rounded
(common.TORCH_FLOAT32_ULPS: √8.6146564483642578125 gives 2.9350733757 where the nearest float32 is
2.9350736141), so the variant is bracketed: its reruns take the root one ulp up or down.
"""
from __future__ import annotations


from ..algorithm import Variant
from ..common import TORCH_FLOAT32_ULPS, fl_within, root_scaled, weight_decay
from ..effects import cast
from ..model import Namespace
from ..numeric import div, fsum, num, sqrt
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"exp_avg": zeros_like(p), "exp_avg_sq": num(0)}


def squared_norm(g):
    """n = Σ g² over the tensor (NaN if an element is NaN, +∞ if one is infinite)."""
    return fsum(x * x for x in g.data)


def second_moment(v, n, t, h, sem, beta2=None, store=lambda x: x):
    """v_t from v_{t−1} and n_t (axes ``novograd_init``, ``second_moment``); ``beta2(v)`` gives
    β₂v_{t−1} and ``store(x)`` the stored v_t as a variant computes them (exactly in ``step``)."""
    if t == 1 and sem.novograd_init == "first_step":
        return store(n)
    if sem.novograd_init not in ("first_step", "zero"):
        raise ValueError(f"unknown novograd_init {sem.novograd_init!r}")
    b2 = h.beta2
    if sem.second_moment == "mix":
        return store((b2 * v if beta2 is None else beta2(v)) + (1 - b2) * n)
    if sem.second_moment == "delta":
        return store(v + (1 - b2) * (n - v))
    raise ValueError(f"unknown second_moment {sem.second_moment!r}")


def gradient_weight(t, h, sem):
    """w of m_t = β₁m_{t−1} + w u_t (hyperparameter ``grad_averaging``, axis ``novograd_averaging``)."""
    if not h.grad_averaging:
        return 1
    if sem.novograd_averaging == "after_first":
        return 1 if t == 1 else 1 - h.beta1
    if sem.novograd_averaging == "every_step":
        return 1 - h.beta1
    raise ValueError(f"unknown novograd_averaging {sem.novograd_averaging!r}")


def novograd(p, g, state, h, sem, ctx, moment=second_moment, normalize=None):
    """The step, line by line the module docstring's equations; ``moment`` computes v_t and
    ``normalize(g, v)`` g/d_t where a variant holds them in a narrower format."""
    decay = sem.novograd_decay
    if decay in ("l2", "decoupled_lr"):
        p, g = weight_decay(p, g, h, Namespace(weight_decay=decay), ctx)
    elif decay != "in_moment":
        raise ValueError(f"unknown novograd_decay {decay!r}")
    v = state["exp_avg_sq"] = moment(state["exp_avg_sq"], squared_norm(g), ctx.t, h, sem)
    if normalize is None:
        u = root_scaled(g, v, h.eps, sem.eps_root)  # g/(√v + ε) or g/√(v + ε), v broadcast
    else:
        u = normalize(g, v)
    if decay == "in_moment" and h.weight_decay != 0:
        u = tmap(lambda ui, pi: ui + h.weight_decay * pi, u, p)
    w = gradient_weight(ctx.t, h, sem)
    m = state["exp_avg"] = tmap(lambda mi, ui: h.beta1 * mi + w * ui, state["exp_avg"], u)
    return tmap(lambda pi, mi: pi - h.lr * mi, p, m)


def step(p, g, state, h, sem, ctx):
    return novograd(p, g, state, h, sem, ctx)


# --- precision emulation --------------------------------------------------------------------------


def step_held_moment(p, g, state, h, sem, ctx):
    """``step`` with v_t in the format of ``norm_moment`` and d_t = fl(fl(√v_t) + fl(ε)) in that of
    ``norm_denominator``, fl(√v_t) the nearest root or, in the bracketing reruns (``ctx.effects.nudge``),
    its neighbour within torch's accuracy (torch-optimizer's and timm's float32 0-d exp_avg_sq,
    module docstring)."""
    fx = ctx.effects
    held, den = fx.format("norm_moment"), fx.format("norm_denominator")

    def store(x):
        return cast(x, held) if held else x

    def moment(v, n, t, h, sem):
        return second_moment(v, n, t, h, sem, beta2=lambda x: store(x * store(h.beta2)), store=store)

    def normalize(g, v):
        if sem.eps_root != "outside" or not den:
            return root_scaled(g, v, h.eps, sem.eps_root)
        root = fl_within(sqrt(v), den, TORCH_FLOAT32_ULPS["sqrt"], fx.nudge[1])
        d = cast(root + cast(h.eps, den), den)
        return tmap(lambda gi: div(gi, d), g)

    return novograd(p, g, state, h, sem, ctx, moment=moment, normalize=normalize)


VARIANTS = {
    "held_moment": Variant(step_held_moment, ("norm_moment", "norm_denominator"), bracketed=True,
                           doc="torch-optimizer, timm: the per-tensor v and √v + ε in a 0-d tensor of the default dtype (float32)"),
}
