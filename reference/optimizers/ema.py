"""An exponential moving average of the parameters (Polyak-style weight averaging with exponential
weights; torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn / get_ema_avg_fn, the Keras
optimizers' use_ema, a user's optax.incremental_update, tf.train.ExponentialMovingAverage) around
plain SGD.

Per tensor: the parameters θ (what the optimizer moves, and where the gradient is taken) and their
average a (state ``average``). With g_t the gradient, η_t the learning rate of this step, d the decay
(``decay``: torch's decay, Keras's ema_momentum, TensorFlow's decay) and F = ``overwrite_every``:

    θ_t = θ_{t−1} − η_t g_t                        the base optimizer: plain SGD
                                                   (``sgd_buffer`` = none)
    m_t = −η_t g_t + 0·m_{t−1}, θ_t = θ_{t−1} + m_t  ``sgd_buffer`` = zero_momentum (tf_keras's SGD
                                                   at momentum 0: the same for finite values, NaN
                                                   from the step after an infinite gradient)
    x_t = θ_t                                      ``average_at`` = after_step (every framework)
        = θ_{t−1}                                  ``average_at`` = before_step (the average is
                                                   taken before the optimizer's step)
    d_t = d                                        ``decay_warmup`` = none
        = min(d, (1 + n)/(10 + n)), n = t          ``decay_warmup`` = num_updates
                                                   (tf.train.ExponentialMovingAverage(decay,
                                                   num_updates=N) with N the count of updates done,
                                                   this step's included: optimizer.iterations read
                                                   by ema.apply() after apply_gradients)
        = min(d, (1 + n)/(10 + n)), n = t − 1      ``decay_warmup`` = num_updates_lagged (the count
                                                   before this step's update)
    a_0 = θ_0, a_t = ema(a_{t−1}, x_t)             ``ema_start`` = initial (tf_keras: the average
                                                   variable starts as the model variable;
                                                   tf.train: apply() before training)
    a_1 = x_1, a_t = ema(a_{t−1}, x_t) for t > 1   ``ema_start`` = copy (torch AveragedModel: the
                                                   first update_parameters copies; Keras 3: the
                                                   decay is 0 while iterations == 0)
    ema(a, x) = d_t·a + (1 − d_t)·x                ``ema_form`` = mix, ``mix_form`` = sum
              = a − (1 − d_t)(a − x)               ``ema_form`` = mix, ``mix_form`` = delta
                                                   (tf.train's assign_sub)
              = torch.lerp(a, x, 1 − d_t)          ``ema_form`` = lerp (get_ema_multi_avg_fn;
                                                   ``mix_form`` does not apply)
    θ_t ← a_t  when F > 0 and t ≡ 0 (mod F)        Keras ema_overwrite_frequency: the model's
                                                   variables are overwritten with the average

The three forms are equal in exact arithmetic; they part once the weights or the average are
infinite. With w = 1 − d_t, θ = −∞ and a finite: the sum and the delta give −∞, the lerp's second
branch (w ≥ ½) θ − (θ − a)(1 − w) gives ∞ − ∞ = NaN. With a = −∞ and θ = −∞ (or finite): the sum
stays −∞, the delta is a − (a − θ)w = NaN, and so is the lerp's first branch a + w(θ − a) (the delta
written the other way round, bit for bit). With ``initial`` the first average is
d_1·θ₀ + (1 − d_1)θ₁, still a fraction d_1 of the initial weights; with ``copy`` it is θ₁.

State: ``average`` = a_t (and tf_keras's ``velocity`` m_t under zero_momentum).

Precision emulation (``VARIANTS``, selected by a profile's declared effects through ``ctx.effects``):
tf.train.ExponentialMovingAverage computes its decay in float32 whatever the variables' dtype
(``decay_ops``): d' = fl(d) (convert_to_tensor(decay, float32)), with num_updates
d' = min(d', fl(fl(1 + n)/fl(10 + n))), and w = fl(1 − d') (assign_moving_average's
convert_to_tensor(1.0 − decay)), then cast to the variables' dtype, exactly: the average takes
d_t = 1 − w.
"""
from __future__ import annotations

from ..algorithm import Variant
from ..common import first_moment_value
from ..effects import cast
from ..numeric import fmin, mul, num
from ..tensor import tmap, zeros_like

# the count n that num_updates holds when the average of step t is taken
WARMUP_COUNT = {"num_updates": 0, "num_updates_lagged": -1}  # n = t + offset


def init(p, h, sem):
    return {"average": p.copy()}


def warmup_count(t: int, sem):
    """n, the num_updates of step t (axis ``decay_warmup``), or None without the warmup."""
    if sem.decay_warmup == "none":
        return None
    if sem.decay_warmup not in WARMUP_COUNT:
        raise ValueError(f"unknown decay_warmup {sem.decay_warmup!r}")
    return t + WARMUP_COUNT[sem.decay_warmup]


def decay_at(t: int, h, sem):
    """d_t: d, or min(d, (1 + n)/(10 + n)) (axis ``decay_warmup``)."""
    n = warmup_count(t, sem)
    return h.decay if n is None else fmin(h.decay, num(1 + n) / (10 + n))


def ema_value(a, x, d, sem):
    """ema(a, x) with decay d (axes ``ema_form``, ``mix_form``)."""
    if sem.ema_form == "mix" and sem.mix_form == "delta":
        return a - (a - x) * (1 - d)
    if sem.mix_form not in ("sum", "delta"):
        raise ValueError(f"unknown mix_form {sem.mix_form!r}")
    return first_moment_value(a, x, d, sem.ema_form)


def average(state, x, d, sem, t: int):
    """a_t from a_{t−1} and the averaged weights x_t with the decay d_t (axis ``ema_start``)."""
    if t == 1 and sem.ema_start == "copy":
        return x.copy()
    if sem.ema_start not in ("copy", "initial"):
        raise ValueError(f"unknown ema_start {sem.ema_start!r}")
    return tmap(lambda ai, xi: ema_value(ai, xi, d, sem), state["average"], x)


def averaged_sgd(p, g, state, h, sem, ctx, d):
    """One SGD step of θ and the average's update with the decay d = d_t."""
    if sem.average_at == "before_step":
        state["average"] = average(state, p, d, sem, ctx.t)
    if sem.sgd_buffer == "zero_momentum":
        m = state["velocity"] = tmap(lambda gi, mi: -h.lr * gi + mul(0, mi), g, state.get("velocity", zeros_like(g)))
        p = tmap(lambda pi, mi: pi + mi, p, m)
    elif sem.sgd_buffer == "none":
        p = tmap(lambda pi, gi: pi - h.lr * gi, p, g)
    else:
        raise ValueError(f"unknown sgd_buffer {sem.sgd_buffer!r}")
    if sem.average_at == "after_step":
        state["average"] = average(state, p, d, sem, ctx.t)
    elif sem.average_at != "before_step":
        raise ValueError(f"unknown average_at {sem.average_at!r}")
    f = h.overwrite_every
    if f and ctx.t % f == 0:
        p = state["average"].copy()
    return p


def step(p, g, state, h, sem, ctx):
    return averaged_sgd(p, g, state, h, sem, ctx, decay_at(ctx.t, h, sem))


# --- precision emulation ----------------------------------------------------------------------------


def tf_decay(t: int, h, sem, fmt: str):
    """d_t as tf.train.ExponentialMovingAverage computes it in ``fmt`` (module docstring): the
    average takes 1 − w, w = fl(1 − d') its float32 weight of the new value."""
    d = cast(h.decay, fmt)
    n = warmup_count(t, sem)
    if n is not None:
        d = fmin(d, cast(cast(1 + n, fmt) / cast(10 + n, fmt), fmt))
    return 1 - cast(1 - d, fmt)


def step_tf_decay(p, g, state, h, sem, ctx):
    """``step`` with d_t computed as TensorFlow's float32 operations compute it (``decay_ops``)."""
    return averaged_sgd(p, g, state, h, sem, ctx, tf_decay(ctx.t, h, sem, ctx.effects.format("decay_ops")))


VARIANTS = {
    "tf_float32_decay": Variant(step_tf_decay, ("decay_ops",),
                                doc="tf.train.ExponentialMovingAverage: the decay, the num_updates warmup and 1 − decay "
                                    "in float32 tensors, cast to the variables' dtype"),
}
