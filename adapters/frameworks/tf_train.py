"""TensorFlow's ``tf.train.ExponentialMovingAverage`` as code paths of the tf_keras adapter:
``train-eager`` and ``train-function`` run the profiles ``tf_train`` and ``tf_train_<option>`` of
the ema algorithm (reference/profiles/ema.toml; :func:`code_paths_of`), on the CPU, in float64 and
float32.

The training loop is the one the class docstring writes (moving_averages.py, lines 332-360), with
the plain SGD of a custom training loop (TensorFlow's basic training loop guide:
``variable.assign_sub(learning_rate * gradient)``)::

    iterations = tf.Variable(0, dtype=tf.int64)     the update counter, as optimizer.iterations
    ema = <profile api>(decay)                      tf.train.ExponentialMovingAverage; num_updates=
                                                    iterations where decay_warmup = num_updates
    ema.apply(variables)                            right after creating the weights: the shadow
                                                    variables start as θ₀ (ema_start = initial)
    def train_step(grads):                          eagerly (train-eager) or as one tf.function
        for v, g in zip(variables, grads):          (train-function, traced once)
            v.assign_sub(lr * g)                    lr: a variable of the variables' dtype, set to
        iterations.assign_add(1)                    η_t before each step (a schedule's table value)
        ema.apply(variables)                        the average after the update, with N = t

Everything else is keras_adapter's optimizer run (:class:`keras_adapter._OptimizerRun`: variables,
the gradient stream or the closed-loop gradient, state by the profile's ``state_names``
(``average`` → ``ema.average(variable)``), one-step injection of the parameters, the average, the
counter (t − 1) and η_t). A ``resume`` saves what the docstring says to checkpoint — the weights,
``ema.average(v)`` of each and the counter — with ``tf.train.Checkpoint`` (the EMA object itself is
not trackable), builds a fresh loop (its first ``apply`` creates the shadow variables) and restores
them into it. Parameter groups with different hyperparameters are not run (one learning rate steps
every variable).
"""
from __future__ import annotations

import os

from optconform.reference.model import get

from .engine import optimizer_kwargs, resolve_api
from .keras_adapter import EAGER, _OptimizerRun, _TfKeras
from ..protocol import AdapterRun, Implementation, Unsupported

FUNCTION = "function"
CODE_PATHS = {f"train-{EAGER}": EAGER, f"train-{FUNCTION}": FUNCTION}  # code path -> the form it runs in
PROFILE = "tf_train"
# the num_updates a profile's decay_warmup passes: the loop's counter, incremented with the update
WARMUP = {"none": False, "num_updates": True}


def code_paths_of(profile: str) -> list[str] | None:
    """The code paths that run ``profile``: both train paths for tf_train and tf_train_<option>, else None."""
    return list(CODE_PATHS) if profile == PROFILE or profile.startswith(PROFILE + "_") else None


class _Flavour(_TfKeras):
    """tf_keras's flavour (TensorFlow variables and tensors), with the train paths' forms."""

    no_groups = ("the tf.train.ExponentialMovingAverage training loop here steps every variable with one "
                 "learning rate: parameter groups with different hyperparameters are not run")

    def split(self, code_path: str) -> tuple[str, str]:
        return "tensorflow", CODE_PATHS[code_path]


FLAVOUR = _Flavour()


class _Loop:
    """The state of the training loop: the variables, η, the update counter and the EMA."""

    def __init__(self, tf, ema_class, params: list, kwargs: dict, warmup: bool, dtype, table: list | None):
        self.tf = tf
        self.params = params
        self.table = table  # η_t of every step, where a schedule drives the vector
        self.lr = tf.Variable(0.0, dtype=dtype, trainable=False, name="learning_rate")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.ema = ema_class(**kwargs, **({"num_updates": self.iterations} if warmup else {}))
        self.ema.apply(params)

    @property
    def learning_rate(self) -> float:
        """η of the next step: the schedule's at the counter, or the variable's."""
        if self.table is not None:
            return self.table[int(self.iterations.numpy())]
        return float(self.lr.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.lr.assign(value)

    def train_step(self, grads):
        for variable, g in zip(self.params, grads):
            variable.assign_sub(self.lr * g)
        self.iterations.assign_add(1)
        self.ema.apply(self.params)

    def stepper(self, form: str):
        """``apply(grads)`` in ``form``: eager calls, or one tf.function traced for the variables."""
        step = self.train_step
        if form == FUNCTION:
            tf = self.tf
            traced = tf.function(self.train_step)
            step = traced.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in self.params])

        def apply(grads):
            if self.table is not None:
                self.lr.assign(self.learning_rate)
            step(list(grads))

        return apply

    def checkpoint(self):
        """What the EMA docstring checkpoints: the weights, their averages, and the counter."""
        return self.tf.train.Checkpoint(model_weights=list(self.params), step=self.iterations,
                                        averaged_weights=[self.ema.average(v) for v in self.params])


class _Run(_OptimizerRun):
    """keras_adapter's optimizer run with the training loop in place of an optimizer."""

    def __init__(self, doc: dict, impl: Implementation):
        super().__init__(doc, impl, FLAVOUR, PROFILE, CODE_PATHS[impl.code_path])
        warmup = self.profile.semantics["decay_warmup"]
        if warmup not in WARMUP:
            raise Unsupported(f"{self.profile.name}: the training loop passes no num_updates for decay_warmup = {warmup}")
        self.warmup = WARMUP[warmup]

    def build(self):
        """The loop, with the EMA built from the profile (its api and names: the decay; num_updates,
        the loop's counter, where decay_warmup says so)."""
        tf = self.flavour.tf
        ema_class, extra = resolve_api(self.profile.api)
        kwargs = {**optimizer_kwargs(self.doc, self.h, self.profile), **extra}
        loop = _Loop(tf, ema_class, list(self.variables.values()), kwargs, self.warmup, tf.as_dtype(self.dtype),
                     self.lrs)
        loop.learning_rate = float(self.h.lr)
        return loop

    def current_lr(self, opt) -> float:
        return opt.learning_rate

    def slot(self, opt, name: str, variable):
        return opt.ema.average(variable) if name == "average" else None

    def applier(self, opt):
        return opt.stepper(self.form)

    def resume(self, opt):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="optconform-tf_train-") as directory:
            path = opt.checkpoint().write(os.path.join(directory, "checkpoint"))
            fresh = self.build()
            fresh.checkpoint().read(path).assert_existing_objects_matched()
        return fresh


def _checked(doc: dict, impl: Implementation) -> "_Run":
    if get(doc["algorithm"]).name != "ema":
        raise Unsupported(f"the {impl.code_path} code path runs tf.train.ExponentialMovingAverage (algorithm ema)")
    return _Run(doc, impl)


def run(doc: dict, impl: Implementation, notes: list) -> AdapterRun:
    """One ema vector on ``impl``'s train code path."""
    return AdapterRun(_checked(doc, impl).run(), notes=notes)


def run_one_step(doc: dict, impl: Implementation, notes: list) -> AdapterRun:
    """One-step mode (reference/onestep.py) on ``impl``'s train code path."""
    return AdapterRun(_checked(doc, impl).run_one_step(), mode="one-step", notes=notes)
