"""Faithful from-scratch optax transformations, each with the hooks the faults of optax_faults.py
swap one at a time.

Each factory takes optax's keywords with optax's defaults and returns an
``optax.GradientTransformation(init, update)`` whose update is the whole optimizer, learning rate
included (``u = −η·d``, as ``chain(scale_by_..., scale_by_learning_rate(η))`` gives). States are
NamedTuples with optax's field names (``count`` an int32 scalar, ``mu``, ``nu``, ``nu_max``,
``trace``, ``sum_of_squares``) holding dicts of arrays like the parameters. The learning rate is a
scalar (a Python float or a traced one), not a schedule. Hyperparameters may be traced: nothing
branches on their values.

Hooks, all elementwise functions of arrays:

* ``first(g, m, β)`` / ``second(g, v, β)``: the moving averages, optax's ``(1 − β)g + βm`` and
  ``(1 − β)g² + βv``;
* ``correct(β₁, β₂, count)``: the bias corrections ``(1 − β₁ᵗ, 1 − β₂ᵗ)``;
* ``direction(m, v, c₁, c₂, ε, ε_root)``: Adam's m̂/(√(v̂ + ε_root) + ε);
* ``normalize(g, ν, ε)``: RMSprop's and Adagrad's g/√(ν + ε) (optax: rsqrt(ν + ε)·g).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByAmsgradState(NamedTuple):
    count: Any
    mu: Any
    nu: Any
    nu_max: Any


class TraceState(NamedTuple):
    trace: Any


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRStdDevState(NamedTuple):
    mu: Any
    nu: Any


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def zeros(params, dtype=None):
    return jax.tree.map(lambda p: jnp.zeros_like(p, dtype=dtype), params)


def scaled(learning_rate, updates):
    """u = −η·d for every leaf (optax's scale(−η))."""
    return jax.tree.map(lambda d: -learning_rate * d, updates)


# --- hooks ------------------------------------------------------------------------------------------


def ema(g, m, beta):
    """m ← (1 − β)g + βm."""
    return (1 - beta) * g + beta * m


def ema_square(g, v, beta):
    """v ← (1 − β)g² + βv."""
    return (1 - beta) * (g ** 2) + beta * v


def bias_corrections(beta1, beta2, count):
    """(1 − β₁ᵗ, 1 − β₂ᵗ), in the hyperparameters' precision."""
    return 1 - beta1 ** count, 1 - beta2 ** count


def adam_direction(m, v, c1, c2, eps, eps_root):
    """m̂/(√(v̂ + ε_root) + ε), m̂ = m/c₁, v̂ = v/c₂ (each correction cast to the moment's dtype)."""
    m_hat, v_hat = m / c1.astype(m.dtype), v / c2.astype(v.dtype)
    return m_hat / (jnp.sqrt(v_hat + eps_root) + eps)


def rsqrt_inside(g, nu, eps):
    """rsqrt(ν + ε)·g: ε inside the root."""
    return jax.lax.rsqrt(nu + eps) * g


# --- Adam, AMSGrad, Adamax, RAdam ---------------------------------------------------------------------


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, *, first=ema, second=ema_square,
         correct=bias_corrections, direction=adam_direction, corrected_count=lambda old, new: new, state_dtype=None):
    """optax.adam: m ← (1 − β₁)g + β₁m, v ← (1 − β₂)g² + β₂v, t ← t + 1, u = −η·m̂/(√(v̂ + ε_root) + ε).
    ``corrected_count(old, new)`` is the count the corrections use; ``state_dtype`` the dtype m
    and v are stored in (None: the parameters')."""

    def init_fn(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(params, state_dtype),
                                nu=zeros(params, state_dtype))

    def update_fn(updates, state, params=None):
        mu = jax.tree.map(lambda g, m: first(g, m.astype(g.dtype), b1), updates, state.mu)
        nu = jax.tree.map(lambda g, v: second(g, v.astype(g.dtype), b2), updates, state.nu)
        count = optax.safe_increment(state.count)
        c1, c2 = correct(b1, b2, corrected_count(state.count, count))
        out = jax.tree.map(lambda m, v: direction(m, v, c1, c2, eps, eps_root), mu, nu)
        stored = (lambda tree: tree) if state_dtype is None else (lambda tree: jax.tree.map(
            lambda x: x.astype(state_dtype), tree))
        return scaled(learning_rate, out), ScaleByAdamState(count=count, mu=stored(mu), nu=stored(nu))

    return optax.GradientTransformation(init_fn, update_fn)


def max_of_v_hat(nu_max, nu, c2):
    """optax's AMSGrad running maximum: ν̄ ← max(ν̄, ν̂), ν̂ = ν/c₂."""
    return jnp.maximum(nu_max, nu / c2.astype(nu.dtype))


def as_kept(nu_max, c2):
    """What the step divides by (under the root): ν̄ itself, already bias-corrected."""
    return nu_max


def amsgrad(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, *, maximum=max_of_v_hat, corrected=as_kept):
    """optax.amsgrad: Adam's moments, ν̄ ← max(ν̄, ν/c₂), u = −η·m̂/(√(ν̄ + ε_root) + ε)."""

    def init_fn(params):
        return ScaleByAmsgradState(count=jnp.zeros([], jnp.int32), mu=zeros(params), nu=zeros(params),
                                   nu_max=zeros(params))

    def update_fn(updates, state, params=None):
        mu = jax.tree.map(lambda g, m: ema(g, m, b1), updates, state.mu)
        nu = jax.tree.map(lambda g, v: ema_square(g, v, b2), updates, state.nu)
        count = optax.safe_increment(state.count)
        c1, c2 = bias_corrections(b1, b2, count)
        nu_max = jax.tree.map(lambda top, v: maximum(top, v, c2), state.nu_max, nu)
        out = jax.tree.map(lambda m, top: (m / c1.astype(m.dtype)) / (jnp.sqrt(corrected(top, c2) + eps_root) + eps),
                           mu, nu_max)
        return scaled(learning_rate, out), ScaleByAmsgradState(count=count, mu=mu, nu=nu, nu_max=nu_max)

    return optax.GradientTransformation(init_fn, update_fn)


def infinity_norm_inside(g, nu, beta2, eps):
    """optax's Adamax norm: ν ← max(|g| + ε, β₂ν)."""
    return jnp.maximum(jnp.abs(g) + eps, beta2 * nu)


def adamax(learning_rate, b1=0.9, b2=0.999, eps=1e-8, *, norm=infinity_norm_inside, divisor=lambda nu, eps: nu):
    """optax.adamax: m ← (1 − β₁)g + β₁m, ν ← max(|g| + ε, β₂ν), u = −η·(m/c₁)/ν (``divisor``: ν)."""

    def init_fn(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(params), nu=zeros(params))

    def update_fn(updates, state, params=None):
        count = optax.safe_increment(state.count)
        mu = jax.tree.map(lambda g, m: ema(g, m, b1), updates, state.mu)
        nu = jax.tree.map(lambda g, v: norm(g, v, b2, eps), updates, state.nu)
        c1 = 1 - b1 ** count
        out = jax.tree.map(lambda m, v: (m / c1.astype(m.dtype)) / divisor(v, eps), mu, nu)
        return scaled(learning_rate, out), ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def at_least(rho, threshold):
    """optax's tractability test ρ_t ≥ threshold."""
    return rho >= threshold


def radam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, *, tractable=at_least):
    """optax.radam: ρ_∞ = 2/(1 − β₂) − 1, ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ); where ρ_t ≥ 5,
    u = −η·r_t·m̂/(√(v̂ + ε_root) + ε), else u = −η·m̂."""
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def init_fn(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros(params), nu=zeros(params))

    def update_fn(updates, state, params=None):
        mu = jax.tree.map(lambda g, m: ema(g, m, b1), updates, state.mu)
        nu = jax.tree.map(lambda g, v: ema_square(g, v, b2), updates, state.nu)
        count = optax.safe_increment(state.count)
        b2t = b2 ** count
        rho = rho_inf - 2 * count * b2t / (1 - b2t)
        r = jnp.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
        c1, c2 = bias_corrections(b1, b2, count)

        def step(m, v):
            m_hat, v_hat = m / c1.astype(m.dtype), v / c2.astype(v.dtype)
            rectified = r.astype(m.dtype) * m_hat / (jnp.sqrt(v_hat + eps_root) + eps)
            return jnp.where(tractable(rho, threshold), rectified, m_hat)

        return scaled(learning_rate, jax.tree.map(step, mu, nu)), ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


# --- SGD, RMSprop, Adagrad ------------------------------------------------------------------------


def sgd(learning_rate, momentum=None, nesterov=False):
    """optax.sgd: without momentum u = −ηg; with it t ← g + μt, d = g + μt (Nesterov) or t, u = −ηd."""

    def init_fn(params):
        return optax.EmptyState() if momentum is None else TraceState(trace=zeros(params))

    def update_fn(updates, state, params=None):
        if momentum is None:
            return scaled(learning_rate, updates), state
        trace = jax.tree.map(lambda g, t: g + momentum * t, updates, state.trace)
        d = jax.tree.map(lambda g, t: g + momentum * t, updates, trace) if nesterov else trace
        return scaled(learning_rate, d), TraceState(trace=trace)

    return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False, momentum=None,
            nesterov=False, bias_correction=False, *, second=ema_square, normalize=rsqrt_inside):
    """optax.rmsprop: ν ← (1 − ρ)g² + ρν (centered: μ ← (1 − ρ)g + ρμ, ν − μ² below), d = g/√(ν + ε)
    (eps_in_sqrt=False: g/(√ν + ε)); then −η·d, then with momentum t ← −ηd + μt (the learning rate
    inside the trace), Nesterov −ηd + μt."""
    if bias_correction:
        raise NotImplementedError("bias_correction=True is not implemented here")
    if not eps_in_sqrt:
        normalize = rsqrt_outside

    def init_fn(params):
        nu = jax.tree.map(lambda p: jnp.full_like(p, initial_scale), params)
        rms = ScaleByRStdDevState(mu=zeros(params), nu=nu) if centered else ScaleByRmsState(nu=nu)
        return rms, (optax.EmptyState() if momentum is None else TraceState(trace=zeros(params)))

    def update_fn(updates, state, params=None):
        rms, trace_state = state
        nu = jax.tree.map(lambda g, v: second(g, v, decay), updates, rms.nu)
        if centered:
            mu = jax.tree.map(lambda g, m: ema(g, m, decay), updates, rms.mu)
            d = jax.tree.map(lambda g, m, v: normalize(g, v - m * m, eps), updates, mu, nu)
            rms = ScaleByRStdDevState(mu=mu, nu=nu)
        else:
            d = jax.tree.map(lambda g, v: normalize(g, v, eps), updates, nu)
            rms = ScaleByRmsState(nu=nu)
        u = scaled(learning_rate, d)
        if momentum is None:
            return u, (rms, trace_state)
        trace = jax.tree.map(lambda x, t: x + momentum * t, u, trace_state.trace)
        u = jax.tree.map(lambda x, t: x + momentum * t, u, trace) if nesterov else trace
        return u, (rms, TraceState(trace=trace))

    return optax.GradientTransformation(init_fn, update_fn)


def rsqrt_outside(g, nu, eps):
    """(1/(√ν + ε))·g: ε outside the root (optax's eps_in_sqrt=False)."""
    return 1 / (jnp.sqrt(nu) + eps) * g


def rsqrt_where_positive(g, s, eps):
    """optax's Adagrad: rsqrt(s + ε)·g where s > 0, else 0."""
    return jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0) * g


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7, *, normalize=rsqrt_where_positive):
    """optax.adagrad: s₀ = initial_accumulator_value, s ← g² + s, u = −η·g/√(s + ε) (0 where s = 0)."""

    def init_fn(params):
        return ScaleByRssState(sum_of_squares=jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value),
                                                           params))

    def update_fn(updates, state, params=None):
        s = jax.tree.map(lambda g, t: g * g + t, updates, state.sum_of_squares)
        d = jax.tree.map(lambda g, t: normalize(g, t, eps), updates, s)
        return scaled(learning_rate, d), ScaleByRssState(sum_of_squares=s)

    return optax.GradientTransformation(init_fn, update_fn)
