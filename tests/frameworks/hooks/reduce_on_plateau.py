"""Framework hooks for reduce_on_plateau (see tests/frameworks/drivers.py).

The generic schedule drivers know nothing of metrics: these hooks replay the algorithm's own
deterministic stream ``reduce_on_plateau.metrics`` (prefix-stable, so a long one serves every case).
"""
from __future__ import annotations

import types

STREAM = 1000


def _metrics():
    from optconform.reference.model import get

    return [float(m) for m in get("reduce_on_plateau").impl.metrics(STREAM)]


def torch_schedule(optimizer, h, profile):
    """torch: step() passes the next metric to ReduceLROnPlateau.step(metric)."""
    from optconform.adapters.frameworks import torch_schedules

    return torch_schedules.build(optimizer, "reduce_on_plateau", h, profile, metrics=_metrics())


def optax_schedule(h, profile):
    import jax
    import jax.numpy as jnp
    import optax.contrib

    tx = optax.contrib.reduce_on_plateau(factor=float(h.factor), patience=int(h.patience), rtol=float(h.rtol),
                                         atol=float(h.atol), cooldown=int(h.cooldown), min_scale=float(h.min_lr))
    metrics, lr = _metrics(), float(h.lr)
    box = {"state": tx.init({"w": jnp.zeros(1)}), "k": 0}
    update = jax.jit(lambda state, value: tx.update({"w": jnp.ones(1)}, state, value=value))

    def fn(k):
        assert k == box["k"], "the optax replay is sequential"
        updates, box["state"] = update(box["state"], jnp.float64(metrics[k]))
        box["k"] += 1
        return lr * float(updates["w"][0])

    return fn


def keras_schedule(module, h, profile):
    kwargs = dict(monitor="loss", factor=float(h.factor), patience=int(h.patience), mode=h.mode,
                  min_delta=float(h.atol), cooldown=int(h.cooldown), min_lr=float(h.min_lr))
    cb = module.callbacks.ReduceLROnPlateau(**kwargs)
    if module.__name__ == "keras":
        opt = types.SimpleNamespace(learning_rate=float(h.lr))
        read = lambda: float(opt.learning_rate)  # noqa: E731
    else:
        import tensorflow as tf

        opt = types.SimpleNamespace(lr=tf.Variable(float(h.lr), dtype=tf.float64))
        read = lambda: float(opt.lr.numpy())  # noqa: E731
    cb.set_model(types.SimpleNamespace(optimizer=opt))
    cb.on_train_begin()
    metrics = _metrics()
    box = {"k": 0}

    def fn(k):
        assert k == box["k"], "the Keras replay is sequential"
        if k > 0:
            cb.on_epoch_end(k - 1, {"loss": metrics[k - 1]})
        box["k"] += 1
        return read()

    return fn
