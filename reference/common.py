"""Pieces shared by several optimizers, each one the equation its spec pages cite.

Weight decay (axis ``weight_decay``), with λ the decay, η_t the learning rate of this step and
s_t = η_t / η the schedule multiplier (1 without a schedule):

* ``none``                — no decay;
* ``l2``                  — coupled L2: g ← g + λ·θ (the decay passes through the moments);
* ``decoupled_lr``        — θ ← θ·(1 − η_t·λ), before the update (torch AdamW, Keras ``weight_decay``);
* ``decoupled_schedule``  — θ ← θ·(1 − s_t·λ) (Loshchilov & Hutter, Algorithm 2: decay scaled by
  the schedule multiplier only, not by the learning rate);
* ``decoupled``           — θ ← θ·(1 − λ), never scaled.

Since the decoupled forms multiply θ_{t−1} and the update does not depend on θ, applying them
"before" or "together with" the update is the same equation.
"""
from __future__ import annotations

from .tensor import Tensor, tmap


def weight_decay(p: Tensor, g: Tensor, h, sem, ctx) -> tuple[Tensor, Tensor]:
    """Apply the ``weight_decay`` axis; returns the (possibly decayed) parameter and gradient."""
    lam = h.weight_decay
    mode = sem.weight_decay
    if lam == 0 or mode == "none":
        return p, g
    if mode == "l2":
        return p, tmap(lambda gi, pi: gi + lam * pi, g, p)
    if mode == "decoupled_lr":
        factor = 1 - ctx.lr * lam
    elif mode == "decoupled_schedule":
        factor = 1 - ctx.lr_factor * lam
    elif mode == "decoupled":
        factor = 1 - lam
    else:
        raise ValueError(f"unknown weight_decay semantics {mode!r}")
    return tmap(lambda pi: pi * factor, p), g


def first_moment_value(m, g, beta1, form: str):
    """One element of the ``first_moment`` axis, with w = 1 − β₁:

    * ``mix``  — β₁·m + (1 − β₁)·g;
    * ``lerp`` — torch.lerp(m, g, w): m + w·(g − m) for w < ½, else g − (g − m)·(1 − w).

    Equal in exact arithmetic; with m = ±∞ and g finite, lerp gives ∞ − ∞ = NaN where mix stays ±∞.
    """
    if form == "mix":
        return beta1 * m + (1 - beta1) * g
    if form == "lerp":
        w = 1 - beta1
        return m + w * (g - m) if w < 0.5 else g - (g - m) * (1 - w)
    raise ValueError(f"unknown first_moment {form!r}")


def second_moment_value(v, g, beta2, form: str):
    """One element of the ``second_moment`` axis:

    * ``mix``   — β₂·v + (1 − β₂)·g²;
    * ``delta`` — v + (1 − β₂)·(g² − v) (Keras, torch SparseAdam).

    Equal in exact arithmetic; with v = +∞ and g finite, delta gives ∞ − ∞ = NaN where mix stays +∞.
    """
    if form == "mix":
        return beta2 * v + (1 - beta2) * g * g
    if form == "delta":
        return v + (1 - beta2) * (g * g - v)
    raise ValueError(f"unknown second_moment {form!r}")


def first_moment(m: Tensor, g: Tensor, beta1, sem) -> Tensor:
    """m_t from m_{t−1} and g_t under the ``first_moment`` axis: first_moment_value element-wise,
    with w = 1 − β₁ computed once for the tensor (the same value every element would compute)."""
    form, w = sem.first_moment, 1 - beta1
    if form == "mix":
        return tmap(lambda mi, gi: beta1 * mi + w * gi, m, g)
    if form == "lerp":
        if w < 0.5:
            return tmap(lambda mi, gi: mi + w * (gi - mi), m, g)
        rest = 1 - w
        return tmap(lambda mi, gi: gi - (gi - mi) * rest, m, g)
    raise ValueError(f"unknown first_moment {form!r}")


def second_moment(v: Tensor, g: Tensor, beta2, sem) -> Tensor:
    """v_t from v_{t−1} and g_t under the ``second_moment`` axis: second_moment_value element-wise,
    with 1 − β₂ computed once for the tensor."""
    form, w = sem.second_moment, 1 - beta2
    if form == "mix":
        return tmap(lambda vi, gi: beta2 * vi + w * gi * gi, v, g)
    if form == "delta":
        return tmap(lambda vi, gi: vi + w * (gi * gi - vi), v, g)
    raise ValueError(f"unknown second_moment {form!r}")


# Largest error, in ulps of the result, of torch's float32 operations on 0-d CPU tensors, as the
# precision effect ``scalars`` assumes them (torch 2.13, AVX-512 build), measured against exact
# values: ``python_float ** tensor`` 0.558 ulp at most over 60000 (β, t) pairs (β random in
# [0.5, 1) and the betas of the scenarios, t < 2000; 0.5% of the results are not the nearest);
# sqrt 0.746 ulp over 20000 random inputs, so it is faithful but not correctly rounded (about 1 in
# 5 results is not the nearest). Reproduce: python benchmarks/torch_scalar_accuracy.py
TORCH_FLOAT32_ULPS = {"pow": 0.56, "sqrt": 1.0}


def fl_within(x, dtype: str, max_ulps: float, direction: int = 0):
    """A result of an operation accurate to ``max_ulps`` ulps whose exact value is ``x``: the
    nearest value of ``dtype`` when ``direction`` is 0, else the largest (+1) or smallest (−1) of
    the two neighbours of ``x`` within ``max_ulps`` ulps. Reruns with ±1 bracket any such
    implementation: a neighbour further than ``max_ulps`` can never be returned, so an operation
    accurate to 0.56 ulp only differs from the nearest value when x is within 0.06 ulp of a
    midpoint."""
    from .numeric import round_to
    from .tolerance import ulp

    nearest = round_to(x, dtype)
    if not direction or nearest == x:
        return nearest
    lo, hi = round_to(x, dtype, "f"), round_to(x, dtype, "c")
    unit = ulp(lo, dtype) if direction < 0 else ulp(hi, dtype)
    pick = hi if direction > 0 else lo
    return pick if abs(pick - x) <= max_ulps * unit else nearest


def tensor_step_adam_scalars(lr, beta1, beta2, eps, t, dtype: str, directions=(0, 0)):
    """torch Adam's scalars when the step count is a 0-d tensor of ``dtype`` (code paths
    capturable and differentiable; torch 2.13 ``_single_tensor_adam``/``_multi_tensor_adam``),
    every operation rounded to ``dtype`` (fl):

        c₁ = fl(1 − pow(fl(β₁), t)),  c₂ = fl(1 − pow(fl(β₂), t))
        s  = fl(fl(1/c₁)·fl(η))        η / tensor is Tensor.__rtruediv__: a reciprocal, then a product
        r  = sqrt(c₂)
        D  = fl(r·s),  E = fl(fl(1/s)·fl(ε))

    and the update is θ ← θ − m/(√v/D + E), which is θ − η(m/c₁)/(√(v/c₂) + ε) in exact
    arithmetic. torch's float32 pow and sqrt are not always correctly rounded
    (``TORCH_FLOAT32_ULPS``): ``directions`` = (pow, sqrt) picks their nearest results (0) or the
    largest (+1) or smallest (−1) result within their accuracy, for the reruns that bracket them.
    Returns (D, E).
    """
    from .numeric import div, num, round_to, sqrt

    def fl(x):
        return round_to(x, dtype)

    def pow_(b):
        return fl_within(fl(b) ** t, dtype, TORCH_FLOAT32_ULPS["pow"], directions[0])

    t = num(t)
    c1, c2 = fl(1 - pow_(beta1)), fl(1 - pow_(beta2))
    s = fl(fl(1 / c1) * fl(lr))
    r = fl_within(sqrt(c2), dtype, TORCH_FLOAT32_ULPS["sqrt"], directions[1])
    # η = 0 (a schedule's zero): 1/s = ∞, so E = ∞ and the update m/(√v/D + E) is 0, as in torch
    return fl(r * s), fl(div(1, s) * fl(eps))


def compiled_adam_scalars(lr, beta1, beta2, t, dtype: str, lr_dtype: str = "float64", directions=(0, 0)):
    """torch Adam's scalars in a torch.compile'd step (torch 2.13 ``_single_tensor_adam`` traced by
    dynamo: the step count stays a 0-d ``dtype`` tensor and the learning rate is a 0-d
    ``lr_dtype`` tensor, as the adapter passes it to avoid a recompilation per value):

        c₁ = fl(1 − pow(fl(β₁), t)),  c₂ = fl(1 − pow(fl(β₂), t))      in ``dtype``
        s  = fl'(η/c₁)                                                 in ``lr_dtype`` (promotion)
        r  = sqrt(c₂)                                                  in ``dtype``

    and the update is θ ← θ − s·m/(√v/r + ε), ε a Python float. ``directions`` as in
    :func:`tensor_step_adam_scalars`. Returns (s, r)."""
    from .numeric import num, round_to, sqrt

    def pow_(b):
        return fl_within(round_to(b, dtype) ** num(t), dtype, TORCH_FLOAT32_ULPS["pow"], directions[0])

    c1, c2 = round_to(1 - pow_(beta1), dtype), round_to(1 - pow_(beta2), dtype)
    s = round_to(round_to(lr, lr_dtype) / c1, lr_dtype)
    return s, fl_within(sqrt(c2), dtype, TORCH_FLOAT32_ULPS["sqrt"], directions[1])


def tensor_scalar_quotient(numerator, denominator, dtype: str):
    """``python_float / tensor`` for a 0-d tensor of ``dtype``: fl(fl(1/d)·fl(n)) (torch's
    Tensor.__rtruediv__ takes the reciprocal, then multiplies by the scalar cast to ``dtype``)."""
    from .numeric import round_to

    return round_to(round_to(1 / denominator, dtype) * round_to(numerator, dtype), dtype)


def root_scaled(g, s, eps, form: str):
    """g_t over the root of an accumulator s_t, one element per pair (Adagrad, RMSprop), under the
    ``eps_root`` axis:

    * ``outside`` — g / (√s + ε);
    * ``inside``  — g / √(s + ε);
    * ``none``    — g / √s where s > 0, else 0 (no ε: jax.example_libraries Adagrad).
    """
    from .numeric import div, sqrt

    if form == "outside":
        return tmap(lambda gi, si: div(gi, sqrt(si) + eps), g, s)
    if form == "inside":
        return tmap(lambda gi, si: div(gi, sqrt(si + eps)), g, s)
    if form == "none":
        return tmap(lambda gi, si: gi * (div(1, sqrt(si)) if si > 0 else 0), g, s)
    raise ValueError(f"unknown eps_root {form!r}")
