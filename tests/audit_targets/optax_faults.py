"""optax optimizers and schedules with exactly one fault each, relative to optax.

Each optimizer factory takes optax's keywords and defaults and is a faithful builder of
optax_base.py with one hook swapped; each schedule factory returns ``count -> learning rate`` like
its optax constructor, off in one place. tests/audit_targets/catalog.py lists them with the
semantic axis value each computes and the scenarios expected to reveal it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from . import optax_base as base


# --- Adam ------------------------------------------------------------------------------------------


def _eps_inside(m, v, c1, c2, eps, eps_root):
    m_hat, v_hat = m / c1.astype(m.dtype), v / c2.astype(v.dtype)
    return m_hat / jnp.sqrt(v_hat + eps_root + eps)


def AdamEpsInsideRoot(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """ε inside the root: u = −η·m̂/√(v̂ + ε)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, direction=_eps_inside)


def _eps_hat(m, v, c1, c2, eps, eps_root):
    return (jnp.sqrt(c2) / c1).astype(m.dtype) * m / (jnp.sqrt(v + eps_root) + eps)


def AdamEpsHat(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """'Epsilon hat': u = −η(√c₂/c₁)·m/(√v + ε), ε on the raw root."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, direction=_eps_hat)


def AdamNoBiasCorrection(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """No bias correction: u = −η·m/(√v + ε)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root,
                     correct=lambda b1_, b2_, count: (jnp.ones([]), jnp.ones([])))


def _lerp(g, m, beta):
    w = 1 - beta
    return jnp.where(w < 0.5, m + w * (g - m), g - (g - m) * (1 - w))


def AdamLerpFirstMoment(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """m ← lerp(m, g, 1 − β₁) = m + (1 − β₁)(g − m): after an infinite gradient m becomes NaN (optax: ±∞)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, first=_lerp)


def _delta_square(g, v, beta):
    return v + (1 - beta) * (g ** 2 - v)


def AdamDeltaSecondMoment(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """v ← v + (1 − β₂)(g² − v): after an infinite gradient v becomes NaN (optax: +∞)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, second=_delta_square)


def AdamBiasCorrectionFromZero(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """The corrections use the count before it is incremented: c_i = 1 − β_i^{t−1}, 0 at t = 1 (u = NaN)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, corrected_count=lambda old, new: old)


def AdamFloat32State(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """mu and nu are stored in float32 whatever the parameters' dtype (rounded after every step)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root, state_dtype=jnp.float32)


# --- AMSGrad, Adamax, RAdam ---------------------------------------------------------------------------


def AmsgradMaxOfRawV(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """The maximum is over the raw ν: ν̄ ← max(ν̄, ν), u = −η·m̂/(√(ν̄/c₂) + ε) (optax: max over ν̂ = ν/c₂)."""
    return base.amsgrad(learning_rate, b1, b2, eps, eps_root, maximum=lambda top, nu, c2: jnp.maximum(top, nu),
                        corrected=lambda top, c2: top / c2.astype(top.dtype))


def AdamaxEpsOutsideMax(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """ε outside the max: ν ← max(|g|, β₂ν), u = −η·m̂/(ν + ε) (optax: ν ← max(|g| + ε, β₂ν))."""
    return base.adamax(learning_rate, b1, b2, eps, norm=lambda g, nu, beta2, e: jnp.maximum(jnp.abs(g), beta2 * nu),
                       divisor=lambda nu, e: nu + e)


def RadamThresholdGt5(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0):
    """The rectified step needs ρ_t > 5 (optax: ρ_t ≥ 5): differs where the float64 ρ_t is exactly 5."""
    return base.radam(learning_rate, b1, b2, eps, eps_root, threshold, tractable=lambda rho, th: rho > th)


# --- SGD, RMSprop, Adagrad ------------------------------------------------------------------------


def SgdLrInsideTrace(learning_rate, momentum=None, nesterov=False):
    """The learning rate inside the trace: t ← η_t g + μt, u = −t (Nesterov −(η_t g + μt));
    optax: t ← g + μt, u = −η_t t."""
    if momentum is None:
        return base.sgd(learning_rate)

    def init_fn(params):
        return base.TraceState(trace=base.zeros(params))

    def update_fn(updates, state, params=None):
        trace = jax.tree.map(lambda g, t: learning_rate * g + momentum * t, updates, state.trace)
        d = jax.tree.map(lambda g, t: learning_rate * g + momentum * t, updates, trace) if nesterov else trace
        return jax.tree.map(lambda x: -x, d), base.TraceState(trace=trace)

    return optax.GradientTransformation(init_fn, update_fn)


def SgdNesterovIgnored(learning_rate, momentum=None, nesterov=False):
    """nesterov is accepted and ignored: u = −η·t where optax's Nesterov step is −η(g + μt)."""
    return base.sgd(learning_rate, momentum, nesterov=False)


def RmspropEpsOutsideRoot(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False,
                          momentum=None, nesterov=False):
    """ε outside the root whatever eps_in_sqrt says: d = g/(√ν + ε) (optax's default: g/√(ν + ε))."""
    return base.rmsprop(learning_rate, decay, eps, initial_scale, False, centered, momentum, nesterov)


def AdagradIgnoresInitialAccumulator(learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    """initial_accumulator_value is accepted and ignored: s₀ = 0."""
    return base.adagrad(learning_rate, 0.0, eps)


# --- schedules -------------------------------------------------------------------------------------


def CosineDecayAbsoluteFloor(init_value, decay_steps, alpha=0.0, exponent=1.0):
    """alpha read as a learning rate, not a fraction of init_value: η_k = (η − α)c_k^p + α
    (optax: η((1 − α)c_k^p + α)), c_k = ½(1 + cos(π·min(k, T)/T))."""

    def schedule(count):
        k = jnp.minimum(count, decay_steps)
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * k / decay_steps))
        return (init_value - alpha) * cosine ** exponent + alpha

    return schedule


def CosineDecayPeriodic(init_value, decay_steps, alpha=0.0, exponent=1.0):
    """Not clamped at decay_steps: past T the cosine rises again (optax holds αη)."""

    def schedule(count):
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)

    return schedule


def ExponentialDecayStaircaseAfter(init_value, transition_steps, decay_rate, transition_begin=0, staircase=True,
                                   end_value=None):
    """optax.exponential_decay(staircase=True) (the step schedule, hence staircase=True by default) whose
    exponent is ⌈k/T⌉ − 1, so each decay comes one update late, at k = nT + 1 (optax: ⌊k/T⌋, at k = nT);
    the continuous form (staircase=False) is optax's."""

    def schedule(count):
        decreased = count - transition_begin
        p = decreased / transition_steps
        if staircase:
            p = jnp.maximum(jnp.ceil(p) - 1, 0)
        value = jnp.where(decreased <= 0, init_value, init_value * jnp.power(decay_rate, p))
        if end_value is not None:
            value = jnp.maximum(value, end_value) if decay_rate < 1 else jnp.minimum(value, end_value)
        return value

    return schedule
