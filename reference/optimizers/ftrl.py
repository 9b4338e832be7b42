"""FTRL-Proximal (McMahan, Holt, Sculley et al., 2013, "Ad Click Prediction: a View from the
Trenches", KDD 2013, Algorithm 1), per coordinate, with the axes on which implementations differ.

For each element of a tensor θ, with g_t the gradient, η_t the learning rate of this step,
p = ``lr_power`` (−½ in the paper, where n^{−p} = √n), λ₁ = ``l1``, λ₂ = ``l2``, β = ``beta``,
λ_s = ``l2_shrinkage``, n₀ = ``initial_accumulator_value`` and z₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)                axis ``weight_decay`` (common.py; l2 in the spec,
                                                   decoupled_lr in Keras 3 and tf_keras)
    ĝ_t = g_t + 2λ_s θ                             the shrinkage gradient (TensorFlow's l2_shrinkage)
    a_t = g_t²                                     ``shrinkage_form`` = linear: ĝ enters z only
        = ĝ_t²                                     ``shrinkage_form`` = gradient: ĝ replaces g
    n_t = n_{t−1} + a_t
    σ_t = (n_t^{−p} − n_{t−1}^{−p}) / η_t
    z_t = z_{t−1} + (ĝ_t − σ_t θ)                  θ is θ_{t−1}, the current weight
    q_t = (β + n_t^{−p})/η_t + λ₂                  ``l2_penalty`` = half (the paper: ½λ₂‖w‖²)
        = n_t^{−p}/η_t + 2(λ₂ + β/(2η_t))          ``l2_penalty`` = full (TensorFlow, Keras: λ₂‖w‖²)
    θ_t = 0 if |z_t| ≤ λ₁ else (sgn(z_t)λ₁ − z_t)/q_t       ``l1_threshold`` = zero_within (paper)
        = (sgn(z_t)λ₁ − z_t)/q_t if |z_t| > λ₁ else 0       ``l1_threshold`` = closed_form_beyond
                                                           (TensorFlow's dense C++ kernels)
        = (clip(z_t, −λ₁, λ₁) − z_t)/q_t                   ``l1_threshold`` = clip (Keras; the
                                                           sparse kernels)

For a constant η, θ_t is the closed-form argmin of eq. (2) of the paper,
g_{1:t}·w + ½Σ_s σ_s‖w − w_s‖² + ½((β + n₀^{−p})/η)‖w‖² + (the L2 term) + λ₁‖w‖₁, with w₁ = θ₀ the
initial parameters (Algorithm 1 starts from z = n = 0, i.e. w₁ = 0): n₀ and β pull towards 0. The three ``l1_threshold`` forms agree wherever q_t > 0 and z_t is a number; they differ
when z_t is NaN (zero_within and clip give NaN, closed_form_beyond 0: |NaN| > λ₁ is false) and when
q_t = 0 (n_t = 0, λ₂ = β = 0: a coordinate whose gradients were all zero from n₀ = 0), where clip
computes 0/0 = NaN and the case split gives 0.

Every operation is written in the order the frameworks evaluate it (Keras's update_step, the
documented formula of tf.raw_ops.ApplyFtrlV2), so that the per-operation rounding emulations of
the tolerance (spec/tolerance.md) see the same cancellations: σ_t is a difference of two close
roots when g_t² ≪ n_{t−1}, and θ_t a difference of close numbers when |z_t| is near λ₁.

State: ``accumulator`` = n_t, ``linear`` = z_t.
"""
from __future__ import annotations


from ..common import weight_decay
from ..numeric import div, fmax, fmin, isnan, mul, num, sign, sqrt
from ..tensor import Tensor, full_like, zeros_like


def init(p, h, sem):
    return {"accumulator": full_like(p, h.initial_accumulator_value), "linear": zeros_like(p)}


def root(n, p):
    """n^{−p} with IEEE pow's special values: x⁰ = 1 for every x (NaN included), √ for p = −½ (what
    TensorFlow's kernels compute then), 0^e = 0 and ∞^e = ∞ for e > 0, NaN for NaN."""
    if p == 0:
        return num(1)
    if isnan(n):
        return num("nan")
    if p == -0.5:
        return sqrt(n)
    return n ** (-p)


def quadratic(n_root, h, sem):
    """q_t from n_t^{−p} (axis ``l2_penalty``)."""
    if sem.l2_penalty == "half":
        return div(h.beta + n_root, h.lr) + h.l2
    if sem.l2_penalty == "full":
        return div(n_root, h.lr) + 2 * (h.l2 + div(h.beta, 2 * h.lr))
    raise ValueError(f"unknown l2_penalty {sem.l2_penalty!r}")


def weight(z, q, l1, sem):
    """θ_t from z_t and q_t (axis ``l1_threshold``)."""
    form = sem.l1_threshold
    if form == "clip":
        return div(fmin(fmax(z, -l1), l1) - z, q)
    if form == "zero_within":
        if not isnan(z) and abs(z) <= l1:
            return num(0)
        return div(sign(z) * l1 - z, q)
    if form == "closed_form_beyond":
        if abs(z) > l1:  # False for NaN
            return div(sign(z) * l1 - z, q)
        return num(0)
    raise ValueError(f"unknown l1_threshold {form!r}")


def element(theta, g, n, z, h, sem):
    """One coordinate's step: (θ_t, n_t, z_t) from θ_{t−1}, g_t, n_{t−1}, z_{t−1} (module docstring)."""
    p = h.lr_power
    shrunk = g + mul(2 * h.l2_shrinkage, theta)
    if sem.shrinkage_form == "linear":
        added = g * g
    elif sem.shrinkage_form == "gradient":
        added = shrunk * shrunk
    else:
        raise ValueError(f"unknown shrinkage_form {sem.shrinkage_form!r}")
    n_new = n + added
    n_root = root(n_new, p)
    sigma = div(n_root - root(n, p), h.lr)
    z_new = z + (shrunk - mul(sigma, theta))
    return weight(z_new, quadratic(n_root, h, sem), h.l1, sem), n_new, z_new


def step(p, g, state, h, sem, ctx):
    p, g = weight_decay(p, g, h, sem, ctx)
    rows = [element(theta, gi, n, z, h, sem)
            for theta, gi, n, z in zip(p.data, g.data, state["accumulator"].data, state["linear"].data)]
    state["accumulator"] = Tensor(p.shape, [r[1] for r in rows])
    state["linear"] = Tensor(p.shape, [r[2] for r in rows])
    return Tensor(p.shape, [r[0] for r in rows])
