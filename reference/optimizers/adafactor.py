"""Adafactor (Shazeer & Stern, 2018, Algorithms 4 and 5), with the axes on which implementations differ.

For each tensor X with gradient G_t at step t = 1, 2, …, learning rate η_t (a cap on the relative
step), decay exponent c (``beta2_decay`` = −0.8), ε₁, ε₂, clipping threshold d and weight decay λ:

    β̂_t = 1 − t^c                            β̂₁ = 0, so the first step uses G₁² alone
    ρ_t = min(η_t, 1/√t)                      ``adafactor_step`` = relative (the paper: η = 10⁻²)
        = η_t                                 ``adafactor_step`` = param_scaled (optax)
    X' = weight_decay(X)                      axis ``weight_decay`` (common.py): decoupled_lr
                                              X(1 − η_tλ) or decoupled X(1 − λ)
    α_t = max(ε₂, RMS(X)) ρ_t                 ``decay_rms_order`` = pre_decay: RMS of X_{t−1}
        = max(ε₂, RMS(X')) ρ_t                ``decay_rms_order`` = post_decay: RMS of the decayed X'
    S_t = G_t² + ε₁                           ``adafactor_eps1`` = add (the paper)
        = G_t²                                ``adafactor_eps1`` = clamp (torch; ε₁ clamps below)
  factored (ndim ≥ 2 and both of the last two dims ≥ ``min_dim_size_to_factor``), over the last two dims:
    R_t = β̂_t R_{t−1} + (1 − β̂_t) mean_cols(S_t)      per row
    C_t = β̂_t C_{t−1} + (1 − β̂_t) mean_rows(S_t)      per column
    V̂_t = R_t C_tᵀ / mean(R_t)                         (clamp: / max(mean(R_t), ε₁))
  otherwise:
    V̂_t = v_t = β̂_t v_{t−1} + (1 − β̂_t) S_t
    U_t = G_t / √V̂_t                                  (clamp: / √max(V̂_t, ε₁²))
    Û_t = U_t / max(1, RMS(U_t)/d)
    X_t = X' − α_t Û_t

The paper's row and column *sums* give the same V̂ as these means (the factors cancel).
``nonfinite_form`` says how the float-level operations treat NaN and ∞ (finite values agree up
to rounding):
  ieee  — max(1, NaN) = NaN (jnp.maximum, ops.maximum), so one NaN element makes the whole
          tensor NaN; moving averages β̂v + (1 − β̂)S keep an infinite v infinite;
  torch — the two max(·) with a tensor statistic are Python's builtin max on .item() floats,
          which keeps its first argument unless the second is larger: max(1, NaN) = 1 and
          max(ε₂, NaN) = ε₂; the moving averages are torch.lerp(v, S, w), w = 1 − β̂:
          v + w(S − v) when w < 1/2, else S − (S − v)(1 − w), so an infinite v becomes NaN.

Precision emulations (``VARIANTS``, selected by a profile's declared effects through
``ctx.effects``), each a step with this signature:

* ``step_rounded_decay`` (``power_beta2_decay``; optax, whose step count is a jnp.float32): the
  decay schedule is evaluated in that format fl, β̂_t = fl(1 − fl(t^fl(c))) and 1 − β̂_t = fl(1 − β̂_t);
* ``step_cast_clamp_bounds`` (``clamp_bounds``; torch, whose clamp_(min=python_float) casts the
  bound to the parameters' dtype): the clamp bounds ε₁ and ε₁² rounded to that format (ε₁² = 2⁻¹⁶⁰
  becomes 0 in float32 and bfloat16).

State: ``exp_avg_sq_row`` = R_t and ``exp_avg_sq_col`` = C_t (factored tensors),
``exp_avg_sq`` = v_t (the others).
"""
from __future__ import annotations


from ..algorithm import Variant
from ..common import weight_decay
from ..numeric import div, fmax, num, round_to, sqrt
from ..tensor import Tensor, col_mean, mean_sq, row_mean, tmap, zeros_like


def factored(p, h) -> bool:
    return p.ndim >= 2 and min(p.shape[-2], p.shape[-1]) >= h.min_dim_size_to_factor


def init(p, h, sem):
    if factored(p, h):
        return {"exp_avg_sq_row": zeros_like(row_mean(p)), "exp_avg_sq_col": zeros_like(col_mean(p))}
    return {"exp_avg_sq": zeros_like(p)}


def decay(t, h):
    """(β̂_t, 1 − β̂_t)."""
    b = 1 - num(t) ** h.beta2_decay
    return b, 1 - b


def rms(x: Tensor):
    return sqrt(mean_sq(x))


def maximum(a, b, sem):
    """max(a, b) where b is a tensor statistic that may be NaN (axis nonfinite_form)."""
    if sem.nonfinite_form == "ieee":
        return fmax(a, b)
    if sem.nonfinite_form == "torch":
        return b if b > a else a
    raise ValueError(f"unknown nonfinite_form {sem.nonfinite_form!r}")


def ema(v, x, b, one_minus_b, sem):
    """The moving average of v towards x (axis nonfinite_form)."""
    if sem.nonfinite_form == "ieee":
        return tmap(lambda vi, xi: b * vi + one_minus_b * xi, v, x)
    if sem.nonfinite_form == "torch":
        if one_minus_b < num(1) / 2:
            return tmap(lambda vi, xi: vi + one_minus_b * (xi - vi), v, x)
        return tmap(lambda vi, xi: xi - (xi - vi) * b, v, x)
    raise ValueError(f"unknown nonfinite_form {sem.nonfinite_form!r}")


def step(p, g, state, h, sem, ctx):
    b, one_minus_b = decay(ctx.t, h)
    return update(p, g, state, b, one_minus_b, h.eps1, h.eps1 * h.eps1, h, sem, ctx)


def update(p, g, state, b, one_minus_b, clamp_denominator, clamp_floor, h, sem, ctx):
    """The step's equations with the decay (β̂_t, 1 − β̂_t) and, under ``adafactor_eps1`` = clamp,
    the bounds of mean(R) (ε₁) and of V̂ (ε₁²) given."""
    t = ctx.t
    clamp = sem.adafactor_eps1 == "clamp"
    if sem.adafactor_eps1 not in ("add", "clamp"):
        raise ValueError(f"unknown adafactor_eps1 {sem.adafactor_eps1!r}")
    decayed, _ = weight_decay(p, g, h, sem, ctx)
    if sem.adafactor_step == "relative":
        rho = min(h.lr, 1 / sqrt(t))
    elif sem.adafactor_step == "param_scaled":
        rho = h.lr
    else:
        raise ValueError(f"unknown adafactor_step {sem.adafactor_step!r}")
    source = decayed if sem.decay_rms_order == "post_decay" else p
    alpha = maximum(h.eps2, rms(source), sem) * rho
    s = tmap(lambda gi: gi * gi if clamp else gi * gi + h.eps1, g)
    if factored(p, h):
        r = state["exp_avg_sq_row"] = ema(state["exp_avg_sq_row"], row_mean(s), b, one_minus_b, sem)
        c = state["exp_avg_sq_col"] = ema(state["exp_avg_sq_col"], col_mean(s), b, one_minus_b, sem)
        rows, cols = p.shape[-2], p.shape[-1]
        r_mean = row_mean(Tensor(r.shape[:-1] + (1, rows), r.data))  # mean of R over the rows, per matrix
        v_hat = []
        for k in range(len(p.data)):
            batch, rest = divmod(k, rows * cols)
            i, j = divmod(rest, cols)
            denom = r_mean.data[batch]
            if clamp:
                denom = fmax(denom, clamp_denominator)
            v_hat.append(div(r.data[batch * rows + i] * c.data[batch * cols + j], denom))
        v_hat = Tensor(p.shape, v_hat)
    else:
        v_hat = state["exp_avg_sq"] = ema(state["exp_avg_sq"], s, b, one_minus_b, sem)
    if clamp:
        v_hat = tmap(lambda vi: fmax(vi, clamp_floor), v_hat)
    u = tmap(lambda gi, vi: div(gi, sqrt(vi)), g, v_hat)
    scale = maximum(num(1), div(rms(u), h.clip_threshold), sem)
    return tmap(lambda xi, ui: xi - alpha * div(ui, scale), decayed, u)


# --- precision emulations ----------------------------------------------------------------------


def step_rounded_decay(p, g, state, h, sem, ctx):
    """``step`` with β̂_t = fl(1 − fl(t^fl(c))), 1 − β̂_t = fl(1 − β̂_t) (optax: float32)."""
    fmt = ctx.effects.format("power_beta2_decay")
    c = ctx.effects.rounded("power_beta2_decay", h.beta2_decay)
    b = round_to(1 - round_to(num(ctx.t) ** c, fmt), fmt)
    return update(p, g, state, b, round_to(1 - b, fmt), h.eps1, h.eps1 * h.eps1, h, sem, ctx)


def step_cast_clamp_bounds(p, g, state, h, sem, ctx):
    """``step`` with the clamp bounds fl(ε₁) and fl(ε₁²) (torch: the parameters' dtype)."""
    fmt = ctx.effects.format("clamp_bounds")
    b, one_minus_b = decay(ctx.t, h)
    return update(p, g, state, b, one_minus_b, round_to(h.eps1, fmt), round_to(h.eps1 * h.eps1, fmt),
                  h, sem, ctx)


VARIANTS = {
    "rounded_decay": Variant(step_rounded_decay, ("power_beta2_decay",),
                             doc="optax: the decay schedule β̂_t evaluated in float32"),
    "cast_clamp_bounds": Variant(step_cast_clamp_bounds, ("clamp_bounds",),
                                 doc="torch: clamp_(min=ε₁), clamp_(min=ε₁²) cast the bounds to the parameters' dtype"),
}
