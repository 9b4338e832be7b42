"""jax.example_libraries.optimizers — JAX's own example optimizers — as a second JAX implementation.

The optax adapter runs it as the code path ``example_libraries``: :data:`PROFILES` lists what it
implements ({algorithm: profile}), :func:`run` runs one vector. Every profile here is
``jax_example`` (framework optax) in reference/profiles/<algorithm>.toml: its equations, names and
defaults as read from jax/example_libraries/optimizers.py.

An optimizer there is a triple ``(init, update, get_params) = constructor(step_size, ...)``; one
step of a vector, for the step index i = t − 1 (the library's examples count from 0, and its Adam
bias corrections use i + 1)::

    state_0  = init(θ_0)                          (θ a dict of arrays: the vector's tensors)
    state_t  = update(i, g_t, state_{t−1})        jitted, as the library's examples run it
    θ_t      = get_params(state_t)

* The constructor comes from the algorithm's hyperparameters where the library has several
  (:data:`CONSTRUCTORS`: sgd / momentum / nesterov, rmsprop / rmsprop_momentum); its keywords are
  the profile's ``names`` (engine.optimizer_kwargs: only ``required`` ones in the ``defaults``
  scenario), restricted to the constructor's signature.
* A scheduled vector hands ``step_size`` a schedule: i ↦ η_{i+1}, the vector's learning rates.
* State is read by the profile's ``state_names`` from each parameter's state tuple, whose layout
  is the constructor's (:data:`LAYOUTS`, the names of the library's own ``init``).
* ``resume``: the state is unpacked with ``unpack_optimizer_state``, pickled with numpy leaves,
  loaded with ``pack_optimizer_state`` into a fresh triple, and the run goes on at i = t.
* float64 runs with x64 on, the other dtypes with x64 off (the optax adapter's
  ``precision_context``); hyperparameters are Python floats, as the library's users pass them.

One parameter group only: the library has one step size and one set of hyperparameters for the
whole pytree (several groups raise :class:`Unsupported`, a skip).

Schedules (constant, exponential_decay, inverse_time_decay, polynomial_decay, piecewise_constant)
are functions of the step index that an optimizer calls as ``step_size(i)``; a schedule vector is
``jax.jit(schedule)(k)`` for k = 0 .. n − 1 (k a Python int, as the traced index of a jitted
update), in float64 with x64 on. They are built from the profile data like optax's
(optax_schedules.from_profile), piecewise_constant from ``values = [lr, *values]``. Imports jax
when run.
"""
from __future__ import annotations

import inspect
import pickle

from optconform.reference.model import get

from .engine import closed_loop_gradient, declared_default, gradient_stream, initial_params, optimizer_kwargs, \
    read_state, step_lrs
from ..protocol import AdapterRun, Unsupported

CODE_PATH = "example_libraries"
PROFILE = "jax_example"
DTYPES = ("float64", "float32", "bfloat16", "float16")

PROFILES = {"sgd": PROFILE, "adagrad": PROFILE, "rmsprop": PROFILE, "adam": PROFILE, "adamax": PROFILE,
            "constant": PROFILE, "exponential": PROFILE, "inverse_time": PROFILE, "polynomial": PROFILE,
            "piecewise_constant": PROFILE}

# the constructor of jax.example_libraries.optimizers for an algorithm's hyperparameters
CONSTRUCTORS = {
    "sgd": lambda h: "nesterov" if h.nesterov else "momentum" if h.momentum != 0 else "sgd",
    "adagrad": lambda h: "adagrad",
    "rmsprop": lambda h: "rmsprop_momentum" if h.momentum != 0 else "rmsprop",
    "adam": lambda h: "adam",
    "adamax": lambda h: "adamax",
}

# each constructor's per-parameter state tuple, named as in its ``init`` (a bare array for sgd)
LAYOUTS = {
    "sgd": ("x",), "momentum": ("x", "velocity"), "nesterov": ("x", "velocity"),
    "adagrad": ("x", "g_sq", "m"), "rmsprop": ("x", "avg_sq_grad"), "rmsprop_momentum": ("x", "avg_sq_grad", "mom"),
    "adam": ("x", "m", "v"), "adamax": ("x", "m", "u"),
}


def _modules():
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.example_libraries import optimizers

    return jax, jnp, np, optimizers


def constructor(algorithm: str, h):
    """The name of the library's constructor for these hyperparameters."""
    if algorithm not in CONSTRUCTORS:
        raise Unsupported(f"jax.example_libraries has no {algorithm} optimizer")
    return CONSTRUCTORS[algorithm](h)


def dtypes(algorithm: str) -> tuple:
    """The dtypes of this code path for one algorithm: schedules are float64 only."""
    return ("float64",) if get(algorithm).kind == "schedule" else DTYPES


def run(doc: dict, impl) -> AdapterRun:
    if doc["kind"] == "schedule":
        return AdapterRun(run_schedule(doc, impl))
    return _Run(doc, impl).run()


def _profile(doc: dict):
    """The algorithm and its profile here; Unsupported for a profile this library does not implement."""
    alg = get(doc["algorithm"])
    name = doc.get("profile") or PROFILES.get(alg.name)
    if PROFILES.get(alg.name) != name:
        raise Unsupported(f"jax.example_libraries implements {alg.name} under no profile {name!r} "
                          f"(it implements {PROFILES.get(alg.name)!r})")
    return alg, alg.profiles[name]


def _check_supported(alg, profile, h) -> None:
    for hyper in profile.unsupported:
        if h[hyper] != declared_default(profile, hyper):
            raise Unsupported(f"jax.example_libraries {alg.name} has no {hyper}")


# --- schedules ------------------------------------------------------------------------------------------


def piecewise_constant(h, profile):
    _, _, _, optimizers = _modules()
    return optimizers.piecewise_constant([int(b) for b in h.boundaries],
                                         [float(h.lr)] + [float(v) for v in h["values"]])


SCHEDULES = {"piecewise_constant": piecewise_constant}


def run_schedule(doc: dict, impl) -> list:
    """``{"k", "lr"}`` per update k: the library's schedule, jitted, at k (float64, x64 on)."""
    from .optax_adapter import precision_context
    from .optax_schedules import from_profile

    alg, profile = _profile(doc)
    if impl.dtype != "float64":
        raise Unsupported("jax.example_libraries schedules are checked in float64 (x64 on)")
    h = alg.resolve(profile.name, doc["inputs"]["groups"][0]["hyper"])
    _check_supported(alg, profile, h)
    jax, _, np, _ = _modules()
    with precision_context("float64", impl.device):
        schedule = jax.jit(SCHEDULES.get(alg.name, from_profile)(h, profile))
        return [{"k": s["k"], "lr": float(np.asarray(schedule(s["k"]), dtype=np.float64))} for s in doc["steps"]]


class _Run:
    def __init__(self, doc: dict, impl):
        self.doc, self.impl = doc, impl
        self.alg, self.profile = _profile(doc)
        groups = doc["inputs"]["groups"]
        if len(groups) != 1:
            raise Unsupported("jax.example_libraries optimizers have one step size and one set of hyperparameters "
                              "for the whole pytree: no parameter groups")
        self.h = self.alg.resolve(self.profile.name, groups[0]["hyper"])
        _check_supported(self.alg, self.profile, self.h)
        if impl.dtype not in DTYPES:
            raise Unsupported(f"no {impl.dtype} runs of jax.example_libraries")
        self.name = constructor(self.alg.name, self.h)
        self.lrs = step_lrs(doc)
        self.params = initial_params(doc)
        self.stream = gradient_stream(doc)

    def triple(self):
        """(init, update, get_params) of the constructor, built from the profile's names."""
        jax, jnp, _, optimizers = _modules()
        fn = getattr(optimizers, self.name)
        kwargs = optimizer_kwargs(self.doc, self.h, self.profile)
        accepted = inspect.signature(fn).parameters
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        if self.lrs is not None:
            table = jnp.asarray([row[0] for row in self.lrs], dtype=self.dtype)
            kwargs["step_size"] = lambda i: table[i]
        return fn(**kwargs)

    def run(self) -> AdapterRun:
        from .optax_adapter import precision_context  # x64 for float64 only, and the device

        with precision_context(self.impl.dtype, self.impl.device):
            return AdapterRun(self._run())

    def _run(self) -> list:
        jax, jnp, np, optimizers = _modules()
        self.dtype = jnp.dtype(self.impl.dtype)
        init, update, get_params = self.triple()
        state = init({n: jnp.asarray(np.asarray(v, dtype=np.float64).reshape(shape)).astype(self.dtype)
                      for n, (shape, v) in self.params.items()})
        step = jax.jit(update)
        checkpoint = self.doc["inputs"].get("checkpoint_at")
        out = []
        for record in self.doc["steps"]:
            t = record["t"]
            state = step(t - 1, self.gradient(t, get_params(state)), state)
            out.append(self.snapshot(state, get_params, t))
            if checkpoint == t:
                state, get_params, step = self.resume(state)
        return self.to_floats(out)

    def gradient(self, t: int, params: dict) -> dict:
        _, jnp, np, _ = _modules()
        if self.stream is not None:
            step = self.stream[t - 1]
            return {n: jnp.asarray(np.asarray(step[n], dtype=np.float64).reshape(shape)).astype(self.dtype)
                    for n, (shape, _) in self.params.items()}
        objective = self.doc["inputs"]["objective"]

        def constant(values):
            return jnp.asarray(values, dtype=self.dtype)

        def interleave(gx, gy):
            return jnp.stack([gx, gy], axis=-1).reshape(-1)

        return {n: closed_loop_gradient(objective, p.reshape(-1), constant, interleave).reshape(p.shape)
                for n, p in params.items()}

    def snapshot(self, state, get_params, t: int) -> dict:
        _, _, _, optimizers = _modules()
        marked = optimizers.unpack_optimizer_state(state)
        layout = LAYOUTS[self.name]
        states = {}
        for n in self.params:
            entries = marked[n].subtree
            entries = entries if isinstance(entries, tuple) else (entries,)
            states[n] = read_state(self.profile, lambda fw: entries[layout.index(fw)] if fw in layout else None)
        lr = self.lrs[t - 1][0] if self.lrs is not None else float(self.h.lr)
        return {"t": t, "params": dict(get_params(state)), "state": states, "lr": [lr]}

    def to_floats(self, steps: list) -> list:
        _, _, np, _ = _modules()

        def flat(x):
            return np.asarray(x).astype(np.float64).reshape(-1).tolist()

        for s in steps:
            s["params"] = {n: flat(x) for n, x in s["params"].items()}
            s["state"] = {n: {c: flat(x) for c, x in entries.items()} for n, entries in s["state"].items()}
        return steps

    def resume(self, state):
        """Save the unpacked state (numpy leaves, pickled) and load it into a fresh triple."""
        jax, _, np, optimizers = _modules()
        marked = optimizers.unpack_optimizer_state(state)
        saved = pickle.dumps(jax.tree.map(
            lambda leaf: optimizers.JoinPoint(jax.tree.map(np.asarray, leaf.subtree)), marked,
            is_leaf=lambda x: isinstance(x, optimizers.JoinPoint)))
        _, update, get_params = self.triple()
        return optimizers.pack_optimizer_state(pickle.loads(saved)), get_params, jax.jit(update)


__all__ = ["CODE_PATH", "CONSTRUCTORS", "DTYPES", "LAYOUTS", "PROFILE", "PROFILES", "SCHEDULES", "constructor",
           "dtypes", "run", "run_schedule"]
