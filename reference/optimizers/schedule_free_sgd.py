"""Schedule-free SGD (Defazio et al., 2024, "The Road Less Scheduled", arXiv:2405.15682, §2; the
authors' package schedulefree, SGDScheduleFreeReference and SGDScheduleFree), and the interpolation
and averaging that schedule_free_adamw shares (it imports :func:`schedule_free_step`).

Three sequences per tensor: z (the base sequence the optimizer's step moves), x (the average of the
z's, the evaluation parameters) and y = (1 − β)z + βx, where the gradient is evaluated: y is what
the framework holds as the parameters during training, so it is the tensor ``step`` receives and
returns (z₀ = x₀ = y₀). With η_t the learning rate of step t (a schedule's value where one drives
it), W the warmup steps, β = ``beta1``, λ the weight decay, p = ``weight_lr_power``, r the
polynomial power and d_t the base optimizer's direction (SGD: the gradient g_t; AdamW: the
normalized gradient):

    s(k) = min(1, k/W)   (1 when W = 0)        the linear warmup factor at index k
    γ_t  = η_t s(t)                            ``warmup_index`` = t (the authors' package, Keras)
         = η_t s(t − 1)                        ``warmup_index`` = t_minus_1 (optax: the base step
                                               uses its count t − 1, so step 1 has γ₁ = 0)
    γ'_t = η_t s(t) · a_t                      the rate the averaging weight takes (a_t = 1, or
                                               √(1 − β₂ᵗ) where AdamW's ``weight_lr`` = corrected)
    M_t  = max(M_{t−1}, γ'_t),  w_t = tʳ M_tᵖ,  S_t = S_{t−1} + w_t
    c_t  = w_t / S_t                           ``averaging_weight`` = lr_max (0 when S_t = 0)
         = 1/t                                 ``averaging_weight`` = uniform
    y ← y(1 − η_t λ), d_t = d                  ``decay_at`` = params (Keras: the parameters decayed
                                               before the step, with η_t without the warmup)
    d_t ← d + λy                               ``decay_at`` = y (the package, optax; SGD always)
    d_t ← d + λz                               ``decay_at`` = z (the package's decay_at_z=True)
    z_t = z − γ_t d_t                          (AdamW: γ_t√(1 − β₂ᵗ) where its correction is in
                                               the rate)
    x_t = (1 − c_t)x̄ + c_t z_t                 x̄: the x the step averages from (below)
    y_t = (1 − β)z_t + βx_t

x̄ and the evaluation parameters (SGD's ``average_form``): ``held`` — x is a sequence of its own,
x̄ = x_{t−1} (the paper's equations, the package's *Reference classes); ``recovered`` — only y and z
are held, x̄ = (y − (1 − β)z_{t−1})/β is recovered before the update and the evaluation parameters
x_t = (y_t − (1 − β)z_t)/β after it (optax: schedule_free, schedule_free_eval_params; Keras). The
package's SGDScheduleFree and AdamWScheduleFree update y in place instead,
y_t = lerp(y, z, c_t) + γ_t(β(1 − c_t) − 1)d_t with the old z, and eval() gives lerp(y, z, 1 − 1/β)
(torch.lerp): the same values as ``recovered`` on every input (once y and z are infinite both give
∞ − ∞ = NaN, and neither can be infinite alone), so it is that form. ``held`` and ``recovered``
are equal in exact arithmetic for finite values and part once an element is infinite: held keeps
±∞ where the recovered x is NaN. (AdamW's z never becomes infinite without becoming NaN, since
g/(√v̂ + ε) is bounded for finite g and NaN for infinite g, so there the forms agree everywhere.)
AdamW's ``x_recovery`` = after_step (Keras on TensorFlow and torch, whose "momentum_old" is the
variable itself, not a copy) averages from x̄ = (y − (1 − β)z_t)/β, recovered with the z already
stepped. With ``decay_at`` = params the held x̄ is x − η_tλy/β, the x recovered from the decayed y.

State (per tensor): ``z``, ``x`` (the evaluation parameters after the step, as the form gives
them), and the group's running ``weight_sum`` S_t and ``lr_max`` M_t (scalars, the same for every
tensor of a group; kept for ``averaging_weight`` = uniform too, whose c_t reads neither, with the
uncorrected rate η_t s(t)).

Precision emulation (``VARIANTS`` ``reciprocal`` here and in schedule_free_adamw, effect
``recover_reciprocal``):
x is recovered (x̄ and the evaluation parameters) with the division by β a product with 1/β
rounded to the effect's format (:func:`held_reciprocal`).
"""
from __future__ import annotations

from ..algorithm import Variant
from ..numeric import div, fmax, num
from ..tensor import tmap


def initial_state(p) -> dict:
    """z₀ = x₀ = y₀ = the initial parameters; S₀ = 0 and M₀ = 0."""
    return {"z": p.copy(), "x": p.copy(), "weight_sum": num(0), "lr_max": num(0)}


def warmup_factor(k, h):
    """s(k) = min(1, k/W), 1 without warmup (W = 0)."""
    w = h.warmup_steps
    return num(1) if w == 0 else min(num(1), num(k) / w)


def step_rates(h, sem, ctx) -> tuple:
    """(γ_t, η_t s(t)): the rate of the z step (axis ``warmup_index``) and the warmed-up rate the
    averaging weight takes (before AdamW's correction)."""
    t = ctx.t
    if sem.warmup_index == "t":
        k = t
    elif sem.warmup_index == "t_minus_1":
        k = t - 1
    else:
        raise ValueError(f"unknown warmup_index {sem.warmup_index!r}")
    return h.lr * warmup_factor(k, h), h.lr * warmup_factor(t, h)


def averaging_coefficient(state, h, sem, t, warmed, correction=1):
    """c_t (axis ``averaging_weight``), updating the running S_t and M_t of ``state`` with the rate
    γ'_t = η_t s(t)·a_t (uniform: no rate enters c_t, and S_t, M_t are kept with a_t = 1)."""
    uniform = sem.averaging_weight == "uniform"
    if not uniform and sem.averaging_weight != "lr_max":
        raise ValueError(f"unknown averaging_weight {sem.averaging_weight!r}")
    m = state["lr_max"] = fmax(state["lr_max"], warmed if uniform else warmed * correction)
    w = num(t) ** h.r * m ** h.weight_lr_power
    s = state["weight_sum"] = state["weight_sum"] + w
    if uniform:
        return num(1) / t
    return div(w, s) if s != 0 else num(0)


def recover(y, z, beta, reciprocal=None):
    """x = (y − (1 − β)z)/β (optax's schedule_free_eval_params, Keras's x_old); with
    ``reciprocal`` = r, (y − (1 − β)z)·r (a variant's rounded 1/β)."""
    if reciprocal is not None:
        return tmap(lambda yi, zi: (yi - (1 - beta) * zi) * reciprocal, y, z)
    return tmap(lambda yi, zi: (yi - (1 - beta) * zi) / beta, y, z)


def schedule_free_step(y, state, d, h, sem, ctx, weight_correction=1, rate_scale=1, reciprocal=None):
    """One schedule-free step of y (module docstring) for the base optimizer's direction ``d``
    (before the ``decay_at`` term); ``weight_correction``: AdamW's a_t; ``rate_scale``: a factor of
    γ_t (AdamW's √(1 − β₂ᵗ) where the bias correction is in the rate); ``reciprocal``: 1/β as a
    variant holds it, x then recovered (:func:`recover`). Returns y_t and updates ``state``."""
    beta, lam = h.beta1, h.weight_decay
    form = sem.get("average_form", "held")
    if form not in ("held", "recovered"):
        raise ValueError(f"unknown average_form {form!r}")
    recovered = form == "recovered" or reciprocal is not None
    gamma, warmed = step_rates(h, sem, ctx)
    gamma = gamma * rate_scale
    decay_at = sem.get("decay_at", "y")
    x = state["x"]
    if lam != 0 and decay_at == "params":
        if not recovered:
            x = tmap(lambda xi, yi: xi - ctx.lr * lam * yi / beta, x, y)
        y = tmap(lambda yi: yi * (1 - ctx.lr * lam), y)
    if lam != 0 and decay_at in ("y", "z"):
        at = y if decay_at == "y" else state["z"]
        d = tmap(lambda di, ai: di + lam * ai, d, at)
    elif lam != 0 and decay_at != "params":
        raise ValueError(f"unknown decay_at {decay_at!r}")
    c = averaging_coefficient(state, h, sem, ctx.t, warmed, weight_correction)
    z_old = state["z"]
    z = state["z"] = tmap(lambda zi, di: zi - gamma * di, z_old, d)
    recovery = sem.get("x_recovery", "before_step")
    if recovery == "after_step":
        x = recover(y, z, beta, reciprocal)
    elif recovery != "before_step":
        raise ValueError(f"unknown x_recovery {recovery!r}")
    elif recovered:
        x = recover(y, z_old, beta, reciprocal)
    x = tmap(lambda xi, zi: (1 - c) * xi + c * zi, x, z)
    y = tmap(lambda zi, xi: (1 - beta) * zi + beta * xi, z, x)
    state["x"] = recover(y, z, beta, reciprocal) if recovered else x
    return y


# --- schedule-free SGD --------------------------------------------------------------------------------


def init(p, h, sem):
    return initial_state(p)


def step(p, g, state, h, sem, ctx):
    return schedule_free_step(p, state, g, h, sem, ctx)


# --- precision emulations ---------------------------------------------------------------------------


def held_reciprocal(h, ctx):
    """fl(1/β) in the format of the effect ``recover_reciprocal``: XLA on the CPU divides an array by
    a scalar as a product with the scalar's rounded reciprocal (jax 0.10.2: every float64, float32
    and float16 division x/β that is not fused into a larger kernel, and float16 divisions in a
    fused one; bfloat16 divides), so a recovered x is (y − (1 − β)z)·fl(1/β), off by the relative
    rounding of 1/β in the same direction every step. β itself is the framework's: a Python float
    held in the format."""
    from ..effects import cast

    fmt = ctx.effects.format("recover_reciprocal")
    return cast(1 / cast(h.beta1, fmt), fmt)


RECIPROCAL_DOC = "jax on the CPU: x = (y − (1 − β)z)·fl(1/β), the division by β a product with its rounded reciprocal"


def step_reciprocal(p, g, state, h, sem, ctx):
    """``step`` with x recovered through fl(1/β) (:func:`held_reciprocal`)."""
    return schedule_free_step(p, state, g, h, sem, ctx, reciprocal=held_reciprocal(h, ctx))


VARIANTS = {"reciprocal": Variant(step_reciprocal, ("recover_reciprocal",), doc=RECIPROCAL_DOC)}
