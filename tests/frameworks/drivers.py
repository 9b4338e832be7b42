"""Float64 drivers that run a reference case through a real framework, for the profile checks.

Each driver builds the framework's optimizer (or schedule) from the profile's data — ``api``,
``names`` (canonical → framework names; ``betas[0]`` style indices assemble tuples), ``required``
— feeds the case's gradients and learning rates, and returns the parameters after every step as
float64 numpy arrays (schedules: the learning rate of every update), with the first-moment state
``exp_avg`` where the driver can read it (``Trajectory.states``).  Where a framework needs more
than a renaming, ``tests/frameworks/hooks/<algorithm>.py`` supplies it:

* ``torch_kwargs(h, profile) -> dict`` / ``optax_kwargs`` / ``keras_kwargs``: replace the renaming;
* ``torch_constructor_kwargs(h, profile, defaults_only) -> dict``: keywords for the torch
  constructor itself, for options it reads only there (Adagrad's initial_accumulator_value);
* ``torch_grad(g, name)``: convert a gradient (SparseAdam needs a sparse tensor);
* ``torch_schedule(optimizer, h, profile)`` / ``optax_schedule(h, profile)`` /
  ``keras_schedule(module, h, profile)``: build a schedule;
* ``skip(framework, case) -> str | None``: a reason why a case cannot be driven.

Frameworks are imported lazily, only by the driver that needs them.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from optconform.adapters.frameworks.engine import pyvalue, renamed_kwargs, resolve_api  # noqa: F401 (hooks import them here)



class Trajectory(list):
    """The parameters after every step (a list, as before), plus ``states``: per step, the state
    entries the driver can read, {canonical entry: {parameter: float64 array}} (torch: every
    entry of the parameter's shape; optax and Keras: ``exp_avg``; empty where none can be read)."""

    def __init__(self):
        super().__init__()
        self.states: list[dict] = []


def hooks(algorithm: str):
    try:
        return importlib.import_module(f"tests.frameworks.hooks.{algorithm}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(f"hooks.{algorithm}"):
            return None
        raise


def _hook(alg, name):
    mod = hooks(alg)
    return getattr(mod, name, None) if mod else None


def _kwargs(framework, alg, h, profile, defaults_only):
    hook = _hook(alg.name, f"{framework}_kwargs")
    kwargs = hook(h, profile, defaults_only) if hook is not None else renamed_kwargs(
        h, profile, only_required=defaults_only)
    if framework == "keras" and kwargs.get("weight_decay") == 0:
        # λ = 0 means no decay: Keras's default None. An explicit 0.0 still runs θ − θ·0·η, which
        # turns an infinite parameter into NaN (recorded in the Keras profiles' notes).
        del kwargs["weight_decay"]
    return kwargs


def _resolve(api: str):
    return resolve_api(api)[0]


def case_arrays(case):
    params = {n: np.array([float(x) for x in t.data], dtype=np.float64).reshape(t.shape) for n, t in case.params.items()}
    grads = [{n: np.array([float(x) for x in g.data], dtype=np.float64).reshape(g.shape) for n, g in step.items()}
             for step in case.grads]
    return params, grads


def case_lrs(case):
    """Per step, per group: the learning rate (None without a schedule)."""
    if not case.schedule:
        return None
    from optconform.reference.trajectory import schedule_lrs

    base = case.schedule["hyper"].lr
    factors = [lr / base for lr in schedule_lrs(case.schedule, case.steps)]
    return [[float(h.lr * f) for _, h in case.groups] for f in factors]


# --- torch ----------------------------------------------------------------------------------------


def torch_run(alg, profile, case, defaults_only=False):
    import torch

    params, grads = case_arrays(case)
    tensors = {n: torch.nn.Parameter(torch.tensor(a, dtype=torch.float64)) for n, a in params.items()}
    groups = [{"params": [tensors[n] for n in names], **_kwargs("torch", alg, h, profile, defaults_only)}
              for names, h in case.groups]
    cls, extra = resolve_api(profile.api)  # literal keywords of the api: Adam(decoupled_weight_decay=True)
    ctor = _hook(alg.name, "torch_constructor_kwargs")
    opt = cls(groups, **{**extra, **(ctor(case.groups[0][1], profile, defaults_only) if ctor else {})})
    lrs = case_lrs(case)
    convert = _hook(alg.name, "torch_grad")
    out = Trajectory()
    for t, step in enumerate(grads):
        if lrs is not None:
            for gi, group in enumerate(opt.param_groups):
                group["lr"] = lrs[t][gi]
        for n, g in step.items():
            grad = torch.tensor(g, dtype=torch.float64)
            tensors[n].grad = convert(grad, n) if convert else grad
        opt.step()
        out.append({n: p.detach().numpy().copy() for n, p in tensors.items()})
        out.states.append(_torch_state(opt, tensors, profile))
    return out


def _torch_state(opt, tensors, profile) -> dict:
    """Every state entry of the profile held as a tensor of the parameter's shape (exp_avg,
    exp_avg_sq, max_exp_avg_sq, ...); scalars and factored entries are left out."""
    out = {}
    for canonical, name in profile.state_names.items():
        values = [opt.state.get(p, {}).get(name) for p in tensors.values()]
        if all(v is not None and hasattr(v, "shape") and tuple(v.shape) == tuple(p.shape)
               for v, p in zip(values, tensors.values())):
            out[canonical] = {n: v.detach().to_dense().double().numpy().copy() for n, v in zip(tensors, values)}
    return out


def torch_schedule_run(alg, profile, h, steps):
    # the builders live in the torch adapter (one place); a hook may still wrap them (reduce_on_plateau
    # feeds its metric stream)
    from optconform.adapters.frameworks import torch_schedules

    opt = torch_schedules.make_optimizer(h)
    build = _hook(alg.name, "torch_schedule")
    sched = build(opt, h, profile) if build else torch_schedules.build(opt, alg.name, h, profile)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


# --- optax ----------------------------------------------------------------------------------------


def _jax():
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def optax_run(alg, profile, case, defaults_only=False):
    jax = _jax()
    import jax.numpy as jnp

    params, grads = case_arrays(case)
    if len(case.groups) != 1:
        raise NotImplementedError("optax profile checks drive one parameter group")
    (_, h), = case.groups
    kwargs = _kwargs("optax", alg, h, profile, defaults_only)
    lrs = case_lrs(case)
    if lrs is not None:
        table = jnp.asarray([row[0] for row in lrs], dtype=jnp.float64)
        kwargs["learning_rate"] = lambda count: table[count]
    tx = _resolve(profile.api)(**kwargs)
    p = {n: jnp.asarray(a) for n, a in params.items()}
    state = tx.init(p)
    out = Trajectory()
    for step in grads:
        g = {n: jnp.asarray(a) for n, a in step.items()}
        updates, state = tx.update(g, state, p)
        p = jax.tree_util.tree_map(lambda x, u: x + u, p, updates)
        out.append({n: np.asarray(x, dtype=np.float64).copy() for n, x in p.items()})
        out.states.append(_optax_state(state, profile))
    return out


def _optax_state(state, profile) -> dict:
    """exp_avg from the first state node with the profile's field name (``mu``) holding the parameters."""
    name = profile.state_names.get("exp_avg")
    nodes = [state]
    while nodes:
        node = nodes.pop(0)
        value = getattr(node, name, None) if name and hasattr(node, "_fields") else None
        if isinstance(value, dict):
            return {"exp_avg": {n: np.asarray(x, dtype=np.float64).copy() for n, x in value.items()}}
        if isinstance(node, tuple):
            nodes.extend(node)
    return {}


def optax_schedule_run(alg, profile, h, steps):
    _jax()
    build = _hook(alg.name, "optax_schedule")
    fn = build(h, profile) if build else _resolve(profile.api)(**renamed_kwargs(h, profile))
    return [float(fn(k)) for k in range(steps)]


# --- keras / tf_keras -------------------------------------------------------------------------


def keras_module(profile_name: str):
    if profile_name == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def _lr_table_schedule(module, values):
    import tensorflow as tf

    if module.__name__ == "keras":
        base = module.optimizers.schedules.LearningRateSchedule
        ops = module.ops

        class Table(base):
            def __call__(self, step):
                return ops.take(ops.convert_to_tensor(values, dtype="float32"), ops.cast(step, "int32"))

            def get_config(self):
                return {}
    else:
        base = module.optimizers.schedules.LearningRateSchedule

        class Table(base):
            def __call__(self, step):
                return tf.gather(tf.constant(values, dtype=tf.float32), tf.cast(step, tf.int32))

            def get_config(self):
                return {}
    return Table()


def keras_run(alg, profile, case, defaults_only=False):
    module = keras_module(profile.framework)
    params, grads = case_arrays(case)
    if len(case.groups) != 1:
        raise NotImplementedError("Keras profile checks drive one parameter group")
    (_, h), = case.groups
    kwargs = _kwargs("keras", alg, h, profile, defaults_only)
    lrs = case_lrs(case)
    if lrs is not None:
        kwargs["learning_rate"] = _lr_table_schedule(module, [row[0] for row in lrs])
    opt = _resolve(profile.api)(**kwargs)
    if module.__name__ == "keras":
        variables = {n: module.Variable(a, dtype="float64") for n, a in params.items()}
    else:
        import tensorflow as tf

        variables = {n: tf.Variable(a, dtype=tf.float64) for n, a in params.items()}
    names = list(variables)
    out = Trajectory()
    for step in grads:
        opt.apply_gradients([(np.asarray(step[n]), variables[n]) for n in names]) if module.__name__ == "keras" else \
            opt.apply_gradients([(__import__("tensorflow").constant(step[n], dtype="float64"), variables[n]) for n in names])
        out.append({n: np.asarray(variables[n].numpy(), dtype=np.float64).copy() for n in names})
        out.states.append(_keras_state(opt, module, variables))
    return out


def _keras_state(opt, module, variables) -> dict:
    """exp_avg from the optimizer's first-moment slots (``_momentums``; Adamax ``_m``)."""
    slots = getattr(opt, "_momentums", None) or getattr(opt, "_m", None)
    if not slots:
        return {}
    if module.__name__ == "keras":
        index = {n: opt._get_variable_index(v) for n, v in variables.items()}
    else:
        index = {n: opt._index_dict[opt._var_key(v)] for n, v in variables.items()}
    return {"exp_avg": {n: np.asarray(slots[i].numpy(), dtype=np.float64).copy() for n, i in index.items()}}


def keras_schedule_run(alg, profile, h, steps):
    module = keras_module(profile.framework)
    build = _hook(alg.name, "keras_schedule")
    fn = build(module, h, profile) if build else _resolve(profile.api)(**renamed_kwargs(h, profile))
    return [float(np.asarray(fn(k))) for k in range(steps)]


RUNNERS = {"torch": torch_run, "optax": optax_run, "keras": keras_run, "tf_keras": keras_run}
SCHEDULE_RUNNERS = {"torch": torch_schedule_run, "optax": optax_schedule_run, "keras": keras_schedule_run,
                    "tf_keras": keras_schedule_run}
MODULES = {"torch": "torch", "optax": "optax", "keras": "keras", "tf_keras": "tf_keras"}
