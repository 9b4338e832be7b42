"""Keras schedules (Keras 3 and tf_keras): one builder per canonical schedule with a keras or
tf_keras profile, and the vector runner.

A Keras LearningRateSchedule is called with the optimizer's iteration count, which is k for
update k (k = 0 the first), so the learning rate of update k is ``schedule(k)``. A schedule
computes in the dtype of its ``initial_learning_rate`` (ops.convert_to_tensor of it): the builders
pass it as a numpy scalar of the implementation's dtype — np.float64 for float64, np.float32 for
float32, which is also what a Python float gives (floatx) — and every other hyperparameter as the
Python value a user writes (where Keras casts a Python float through float32 the profile declares
it as a precision effect).

Builders take the flavour (keras or tf_keras), the resolved canonical hyperparameters ``h``, the
profile and the dtype, and return ``k -> value``:

* data-driven (:func:`from_profile`): the profile's ``api`` names the constructor (literal keyword
  arguments included: ``ExponentialDecay(staircase=True)``), its ``names`` the keywords; the
  ``required`` ones are always passed, the others only when they differ from the profile's declared
  default (engine.optional), so the ``defaults`` scenario checks Keras's own defaults — step,
  exponential, inverse_time, polynomial, cosine, cosine_restarts, linear_warmup;
* written out where Keras's arguments are not a renaming: constant (the optimizer's learning-rate
  variable), piecewise_constant (``values`` = [η, values...]), warmup_cosine (Keras's decay_steps
  excludes the warmup);
* reduce_on_plateau is a callback: the vector's metric stream (``inputs.metrics``) is replayed
  through ``callbacks.ReduceLROnPlateau.on_epoch_end`` on a real optimizer (SGD) whose learning
  rate variable has the implementation's dtype (floatx during its construction); metric k is the
  loss of epoch k, so it decides the rate of update k + 1.

A combination Keras has no form for (a hyperparameter the profile lists unsupported away from its
fixed value) raises :class:`NotDriven`, the adapter protocol's ``Unsupported`` (the case is a skip).
Imports Keras only when run (through the flavour).
"""
from __future__ import annotations

import warnings

from .engine import optional, pyvalue, resolve_api
from ..protocol import Unsupported

DTYPE_KEYWORD = "initial_learning_rate"  # the keyword whose dtype a Keras schedule computes in
MONITOR = "loss"  # the log key the reduce_on_plateau replay reports each metric under


class NotDriven(Unsupported, NotImplementedError):
    """Keras has no form for this schedule or hyperparameter combination (the profile says so)."""


def _scalar(dtype: str):
    import numpy as np

    kind = np.dtype(dtype).type
    return lambda v: kind(float(v))


def keywords(h, profile, dtype: str) -> dict:
    """Keyword arguments from the profile's ``names``: the ``required`` hyperparameters always,
    the others only where they differ from the declared default; ``initial_learning_rate`` as a
    scalar of ``dtype``."""
    names = {c: n for c, n in profile.names.items() if n.isidentifier() and c not in profile.unsupported}
    convert = {c: _scalar(dtype) for c, n in names.items() if n == DTYPE_KEYWORD}
    out = {n: convert.get(c, pyvalue)(h[c]) for c, n in names.items() if c in profile.required}
    out.update(optional(h, profile, {c: n for c, n in names.items() if c not in profile.required}, convert=convert))
    return out


# --- builders ------------------------------------------------------------------------------------------


def from_profile(flavour, h, profile, dtype):
    cls, extra = resolve_api(profile.api)
    schedule = cls(**{**keywords(h, profile, dtype), **extra})
    return schedule


def constant(flavour, h, profile, dtype):
    """The optimizer's own learning rate: a Python float stored in its floatx (float32) variable."""
    opt = flavour.module.optimizers.SGD(learning_rate=float(h.lr))
    return lambda k: opt.learning_rate


def piecewise_constant(flavour, h, profile, dtype):
    cls, _ = resolve_api(profile.api)
    value = _scalar(dtype)
    return cls(boundaries=[int(b) for b in h.boundaries], values=[value(h.lr)] + [value(v) for v in h["values"]])


def warmup_cosine(flavour, h, profile, dtype):
    """CosineDecay with a linear warmup from warmup_start to lr over warmup_steps, then a cosine
    over total_steps − warmup_steps (Keras's decay_steps excludes the warmup) to alpha·lr."""
    cls, _ = resolve_api(profile.api)
    W, T = int(h.warmup_steps), int(h.total_steps)
    return cls(initial_learning_rate=_scalar(dtype)(h.warmup_start), decay_steps=T - W, alpha=float(h.eta_min),
               warmup_target=float(h.lr), warmup_steps=W)


class _Replay:
    """ReduceLROnPlateau on a real optimizer: value k is the learning rate after the metrics of
    epochs 0 .. k − 1 were reported (sequential: k = 0, 1, 2, ...)."""

    def __init__(self, flavour, callback, optimizer, metrics):
        self.flavour, self.callback, self.optimizer, self.metrics = flavour, callback, optimizer, metrics
        self.k = 0

    def __call__(self, k):
        if k != self.k:
            raise ValueError("the reduce_on_plateau replay is sequential")
        if k > 0:
            if k - 1 >= len(self.metrics):
                raise IndexError(f"the metric stream has only {len(self.metrics)} values")
            with warnings.catch_warnings():
                # Keras 3 reads the rate with np.array(tf.Variable), which numpy 2 warns about
                warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                                        category=DeprecationWarning)
                self.callback.on_epoch_end(k - 1, {MONITOR: self.metrics[k - 1]})
        self.k += 1
        return self.optimizer.learning_rate


def reduce_on_plateau(flavour, h, profile, dtype, metrics=None):
    if metrics is None:
        raise ValueError("reduce_on_plateau needs a metric stream (inputs.metrics)")
    import types

    cls, _ = resolve_api(profile.api)
    callback = cls(monitor=MONITOR, **keywords(h, profile, dtype))
    with flavour.floatx(dtype):
        optimizer = flavour.module.optimizers.SGD(learning_rate=float(h.lr))
    callback.set_model(types.SimpleNamespace(optimizer=optimizer))
    callback.on_train_begin()
    return _Replay(flavour, callback, optimizer, [float(m) for m in metrics])


BUILDERS = {"constant": constant, "piecewise_constant": piecewise_constant, "warmup_cosine": warmup_cosine}


def build(flavour, name: str, h, profile, dtype: str, metrics=None):
    """``k -> learning rate`` of schedule ``name`` under ``profile`` for resolved hyperparameters ``h``."""
    from optconform.reference.model import get

    hypers = get(name).hypers
    for hyper in profile.unsupported:
        if hyper in h and h[hyper] != hypers[hyper].parse(profile.fixed_value(hypers[hyper])):
            raise NotDriven(f"{profile.api.split('(')[0]} has no {hyper} (the profile lists it unsupported)")
    if name == "reduce_on_plateau":
        return reduce_on_plateau(flavour, h, profile, dtype, metrics)
    return BUILDERS.get(name, from_profile)(flavour, h, profile, dtype)


# not a schedule object a training step calls: a callback Keras runs from Python between epochs
# (reduce_on_plateau) and the optimizer's learning-rate variable (constant); evaluated eagerly only
EAGER_ONLY = frozenset({"reduce_on_plateau", "constant"})


def form(name: str, backend: str) -> str:
    """How a schedule is evaluated on ``backend``, as a training step evaluates it: on jax inside
    ``jax.jit`` with the update index traced (Keras's JAX trainer compiles the step that calls the
    schedule; called eagerly, a schedule with ``ops.cond`` such as CosineDecayRestarts compiles a
    new program at every call: 268 compilations for its 5 vectors), on TensorFlow and torch
    eagerly; :data:`EAGER_ONLY` eagerly on every backend."""
    return "jit" if backend == "jax" and name not in EAGER_ONLY else "eager"


def run_schedule(doc: dict, profile, flavour, dtype: str, how: str = "eager", builder=None) -> list:
    """Per update k of ``doc["steps"]``: ``{"k", "lr"}``, the schedule evaluated at k — called
    (``how`` = eager), or through ``jax.jit`` with k a traced integer (``how`` = jit).
    ``builder(h, dtype)``: another schedule than Keras's own (``optconform audit`` of a
    LearningRateSchedule), built for the resolved hyperparameters ``h``."""
    from optconform.reference.model import get

    flavour.module  # noqa: B018 - Keras (and TensorFlow), imported quietly
    alg = get(doc["algorithm"])
    h = alg.resolve(profile.name, doc["inputs"]["groups"][0]["hyper"])
    metrics = doc["inputs"].get("metrics")
    fn = build(flavour, alg.name, h, profile, dtype, metrics=metrics) if builder is None else builder(h, dtype)
    if how == "jit":
        import jax

        fn = jax.jit(fn)
    elif how != "eager":
        raise NotDriven(f"no {how} form for a schedule")
    return [{"k": record["k"], "lr": float(flavour.numpy(fn(record["k"])))} for record in doc["steps"]]


__all__ = ["BUILDERS", "EAGER_ONLY", "NotDriven", "build", "form", "keywords", "run_schedule"]
