"""Faithful optax optimizers whose arithmetic is reordered: each computes what its optax factory
computes, exactly in real arithmetic, with different roundings. An audit must pass every one."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from . import optax_base as base


def _torch_order(m, v, c1, c2, eps, eps_root):
    """(1/c₁)·m/(√(v + ε_root)/√c₂ + ε): the step size folded as torch folds it."""
    return (1 / c1).astype(m.dtype) * m / (jnp.sqrt(v + eps_root) / jnp.sqrt(c2).astype(v.dtype) + eps)


def Adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    """optax.adam with the step m̂/(√(v̂ + ε_root) + ε) computed as (1/c₁)·m/(√(v + ε_root·c₂)/√c₂ + ε)
    (ε_root enters as ε_root·c₂ inside the raw root, the same value in exact arithmetic)."""
    return base.adam(learning_rate, b1, b2, eps, eps_root,
                     direction=lambda m, v, c1, c2, e, r: _torch_order(m, v, c1, c2, e, r * c2))


def Sgd(learning_rate, momentum=None, nesterov=False):
    """optax.sgd with −η·t distributed over the trace: u = −(ηg + (ημ)t_{k−1}) (Nesterov: −(ηg + (ημ)t_k))."""
    if momentum is None:
        return base.sgd(learning_rate)

    def init_fn(params):
        return base.TraceState(trace=base.zeros(params))

    def update_fn(updates, state, params=None):
        trace = jax.tree.map(lambda g, t: g + momentum * t, updates, state.trace)
        ahead = trace if nesterov else state.trace
        u = jax.tree.map(lambda g, t: -(learning_rate * g + (learning_rate * momentum) * t), updates, ahead)
        return u, base.TraceState(trace=trace)

    return optax.GradientTransformation(init_fn, update_fn)


def Rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False, momentum=None,
            nesterov=False):
    """optax.rmsprop with the new term of ν weighted as ((1 − ρ)g)·g instead of (1 − ρ)·g²."""
    return base.rmsprop(learning_rate, decay, eps, initial_scale, eps_in_sqrt, centered, momentum, nesterov,
                        second=lambda g, v, rho: ((1 - rho) * g) * g + rho * v)


def Adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    """optax.adagrad with the step −η·(r·g) computed as r·(−η·g), r = rsqrt(s + ε) (0 where s = 0)."""
    init_fn = base.adagrad(learning_rate, initial_accumulator_value, eps).init

    def update_fn(updates, state, params=None):
        s = jax.tree.map(lambda g, t: g * g + t, updates, state.sum_of_squares)
        u = jax.tree.map(lambda g, t: jnp.where(t > 0, jax.lax.rsqrt(t + eps), 0.0) * (-learning_rate * g), updates, s)
        return u, base.ScaleByRssState(sum_of_squares=s)

    return optax.GradientTransformation(init_fn, update_fn)
