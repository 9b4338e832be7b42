"""An exponential moving average of the parameters (Polyak-style weight averaging with exponential
weights; torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn / get_ema_avg_fn, the Keras
optimizers' use_ema, a user's optax.incremental_update) around plain SGD.

Per tensor: the parameters θ (what the optimizer moves, and where the gradient is taken) and their
average a (state ``average``). With g_t the gradient, η_t the learning rate of this step, d the decay
(``decay``: torch's decay, Keras's ema_momentum) and F = ``overwrite_every``:

    θ_t = θ_{t−1} − η_t g_t                        the base optimizer: plain SGD
                                                   (``sgd_buffer`` = none)
    m_t = −η_t g_t + 0·m_{t−1}, θ_t = θ_{t−1} + m_t  ``sgd_buffer`` = zero_momentum (tf_keras's SGD
                                                   at momentum 0: the same for finite values, NaN
                                                   from the step after an infinite gradient)
    x_t = θ_t                                      ``average_at`` = after_step (every framework)
        = θ_{t−1}                                  ``average_at`` = before_step (the average is
                                                   taken before the optimizer's step)
    a_0 = θ_0, a_t = ema(a_{t−1}, x_t)             ``ema_start`` = initial (tf_keras: the average
                                                   variable starts as the model variable)
    a_1 = x_1, a_t = ema(a_{t−1}, x_t) for t > 1   ``ema_start`` = copy (torch AveragedModel: the
                                                   first update_parameters copies; Keras 3: the
                                                   decay is 0 while iterations == 0)
    ema(a, x) = d·a + (1 − d)·x                    ``ema_form`` = mix
              = torch.lerp(a, x, 1 − d)            ``ema_form`` = lerp (get_ema_multi_avg_fn)
    θ_t ← a_t  when F > 0 and t ≡ 0 (mod F)        Keras ema_overwrite_frequency: the model's
                                                   variables are overwritten with the average

mix and lerp are common.first_moment_value's two forms (equal in exact arithmetic; an infinite
average with a finite or equal infinite x is NaN through lerp's ∞ − ∞). With ``initial`` the first
average is d·θ₀ + (1 − d)θ₁, still a fraction d of the initial weights; with ``copy`` it is θ₁.

State: ``average`` = a_t (and tf_keras's ``velocity`` m_t under zero_momentum).
"""
from __future__ import annotations

from ..common import first_moment_value
from ..numeric import mul
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"average": p.copy()}


def average(state, x, h, sem, t: int):
    """a_t from a_{t−1} and the averaged weights x_t (axes ``ema_start``, ``ema_form``)."""
    if t == 1 and sem.ema_start == "copy":
        return x.copy()
    if sem.ema_start not in ("copy", "initial"):
        raise ValueError(f"unknown ema_start {sem.ema_start!r}")
    return tmap(lambda ai, xi: first_moment_value(ai, xi, h.decay, sem.ema_form), state["average"], x)


def step(p, g, state, h, sem, ctx):
    if sem.average_at == "before_step":
        state["average"] = average(state, p, h, sem, ctx.t)
    if sem.sgd_buffer == "zero_momentum":
        m = state["velocity"] = tmap(lambda gi, mi: -h.lr * gi + mul(0, mi), g, state.get("velocity", zeros_like(g)))
        p = tmap(lambda pi, mi: pi + mi, p, m)
    elif sem.sgd_buffer == "none":
        p = tmap(lambda pi, gi: pi - h.lr * gi, p, g)
    else:
        raise ValueError(f"unknown sgd_buffer {sem.sgd_buffer!r}")
    if sem.average_at == "after_step":
        state["average"] = average(state, p, h, sem, ctx.t)
    elif sem.average_at != "before_step":
        raise ValueError(f"unknown average_at {sem.average_at!r}")
    f = h.overwrite_every
    if f and ctx.t % f == 0:
        p = state["average"].copy()
    return p
