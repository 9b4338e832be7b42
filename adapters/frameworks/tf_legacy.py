"""TensorFlow's older optimizer APIs as code paths of the tf_keras adapter: ``legacy``
(``tf_keras.optimizers.legacy``, OptimizerV2) and ``v1`` (``tf.compat.v1.train``). Both run
TensorFlow's C++ training kernels (``ResourceApplyAdam``, ``ResourceApplyKerasMomentum``, ...:
tensorflow/python/ops/gen_training_ops.py); each code path runs the profile of its API
(:data:`CODE_PATHS`; profiles ``tf_keras_legacy`` and ``tf_v1`` of framework tf_keras in
reference/profiles/<algorithm>.toml), eagerly, on the CPU, in float64 and float32.

One step of an optimizer vector is keras_adapter's (:class:`keras_adapter._OptimizerRun`: the
optimizer built from the profile's data, the gradient stream or the closed-loop gradient, state by
the profile's ``state_names``, one-step injection, resume), with what these APIs do differently
held by the two flavours here:

* ``legacy`` — ``opt.apply_gradients([(g_t, θ), ...])``. Hyperparameters given as Python floats
  (learning_rate, beta_1, beta_2, rho, momentum, decay) become float32 variables when the
  optimizer creates its weights; ``epsilon`` stays a Python float. A slot is
  ``opt.get_slot(θ, name)``; an optimizer-wide variable (Nadam's ``momentum_cache``) is found by
  name among ``opt.weights``. The step counter is ``opt.iterations``; a schedule is evaluated at it.
* ``v1`` — ``opt.apply_gradients([(g_t, θ), ...], global_step=step)``. A compat.v1 optimizer has
  no step counter of its own; the adapter passes a global step (an int64 variable, what
  ``tf.compat.v1.train.get_or_create_global_step`` gives a TF1 training loop), which counts the
  updates, evaluates a schedule (the learning rate is ``schedule(step)``, written into the
  optimizer before each update: the value TF1's ``tf.compat.v1.train.*_decay`` callables give in
  eager mode; FtrlOptimizer takes no callable) and is saved with the checkpoint. Hyperparameters
  are converted to tensors on every call (``ops.convert_to_tensor(python_float)``: float32) and
  cast to the variable's dtype. A slot is ``opt.get_slot(θ, name)``; a non-slot variable (Adam's ``beta1_power``, ``beta2_power``: β₁ᵗ and
  β₂ᵗ kept as float32 running products) ``opt._get_non_slot_variable(name)``.
  ``MomentumOptimizer`` with momentum 0 is written ``GradientDescentOptimizer`` (:data:`V1_WHEN_ZERO`).
  What the v1 classes decide without an argument is profile data, not code here: RMSPropOptimizer's
  mean square starts at ones (rmsprop's ``initial_square_avg`` = 1), AdagradOptimizer has no ε
  (fixed 0, with ``eps_root`` not applicable), AdamOptimizer's β powers are a declared precision
  effect (``running_power_beta1``, ``running_power_beta2``).

One-step mode writes the injected state into the slots and sets the step counter (legacy:
``iterations``; v1: the global step, and Adam's β powers to the float32 running product P(t)
that update t reads, the quantity of the reference's running-powers variant, reference/optimizers/adam.py).
Resume writes ``tf.train.Checkpoint(optimizer=opt, params=[θ, ...])`` (slots are saved relative
to their variables, so the variables go into the checkpoint too, as ``model.save_weights`` does;
v1: with the global step) and reads it into a fresh optimizer, whose slots are restored when it
creates them.

Only the eager form runs (measured here: ~1 ms a step legacy, ~0.3–0.7 ms v1). A compiled form
would trace once per optimizer, after the variables are made (legacy: ``_create_all_weights``, as
keras_adapter builds the current optimizers; v1: ``_create_slots``, and apply_gradients returns an
Operation, so the traced function must return nothing): measured for Adam, the first call costs
~30–40 ms under ``tf.function`` and ~85–150 ms with ``jit_compile=True``, then ~0.25–0.35 ms a
step. Over the ~350 cases of both code paths (~11 700 steps) that is ~15 s more per
``tf.function`` path and ~45 s per XLA path against ~12 s of eager steps.
"""
from __future__ import annotations

import dataclasses
import os

from optconform.reference.model import get

from .keras_adapter import EAGER, NO_GROUPS, _OptimizerRun, _TfKeras
from ..protocol import AdapterRun, Implementation, Unsupported

LEGACY, V1 = "legacy", "v1"
CODE_PATHS = {LEGACY: "tf_keras_legacy", V1: "tf_v1"}  # code path -> the profile it runs

# the compat.v1 class a user writes where a hyperparameter is 0: plain gradient descent has its own
V1_WHEN_ZERO = {"tensorflow.compat.v1.train.MomentumOptimizer":
                ("momentum", "tensorflow.compat.v1.train.GradientDescentOptimizer")}
# compat.v1 non-slot variables that hold a hyperparameter's power β^t (variable -> the optimizer's attribute)
V1_POWERS = {"beta1_power": "_beta1", "beta2_power": "_beta2"}


def code_path_of(profile: str) -> str | None:
    """The code path that runs ``profile``, or None: ``legacy`` for tf_keras_legacy and the
    profiles of its options that change the semantics (``tf_keras_legacy_<option>``, such as
    rmsprop's tf_keras_legacy_momentum), ``v1`` for tf_v1 (and ``tf_v1_<option>``)."""
    return next((path for path, name in CODE_PATHS.items() if profile == name or profile.startswith(name + "_")),
                None)


class _Legacy(_TfKeras):
    """tf_keras.optimizers.legacy (OptimizerV2): slots by ``get_slot``, weights created by
    ``_create_all_weights``, float32 hyperparameter variables."""

    path = LEGACY
    no_groups = NO_GROUPS  # why a vector with parameter groups is a skip

    def code_paths(self, kind: str) -> tuple:
        return (self.path,) if kind == "optimizer" else ()

    def split(self, code_path: str) -> tuple[str, str]:
        return "tensorflow", EAGER

    def prepare(self, opt):
        """The optimizer as the run drives it (nothing to add for OptimizerV2)."""
        return opt

    def build(self, opt, variables: list) -> None:
        """Create the optimizer's hyperparameter, step and slot variables for ``variables``."""
        opt._create_all_weights(variables)

    def apply(self, opt, grads_and_vars: list) -> None:
        opt.apply_gradients(grads_and_vars)

    def current_lr(self, opt) -> float:
        """η of the next update: the schedule at ``iterations``, or the float32 variable (the base
        rate: the ``decay`` of OptimizerV2, canonical lr_decay, is applied inside the step)."""
        lr = opt._hyper["learning_rate"]
        if self.is_schedule(lr):
            return float(self.numpy(lr(opt.iterations)))
        return float(self.numpy(opt._get_hyper("learning_rate")))

    def named_slot(self, opt, name: str, variable):
        """``opt.get_slot(variable, name)``, else the optimizer-wide weight ``name`` (never another
        variable's slot); None before the first step created it, or where there is none (SGD
        with momentum 0)."""
        try:
            return opt.get_slot(variable, name)
        except KeyError:
            pass
        slots = {id(slot) for per_variable in opt._slots.values() for slot in per_variable.values()}
        return next((w for w in opt.weights
                     if id(w) not in slots and w.name.split(":", 1)[0].rsplit("/", 1)[-1] == name), None)

    def checkpoint(self, opt, variables: list):
        return self.tf.train.Checkpoint(optimizer=opt, params=list(variables))

    def resume(self, opt, fresh, variables: list):
        """Write ``opt`` and the variables with tf.train.Checkpoint, read them into ``fresh``; slots
        not yet created there are restored when it creates them (deferred restoration)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="optconform-tf_legacy-") as directory:
            path = self.checkpoint(opt, variables).write(os.path.join(directory, "checkpoint"))
            self.build(fresh, variables)
            self.checkpoint(fresh, variables).read(path).assert_existing_objects_matched()
        return fresh


class _CompatV1(_Legacy):
    """tf.compat.v1.train: a global step passed to apply_gradients, the learning rate read through
    a callable (so that a schedule and one-step mode can set it), non-slot variables."""

    path = V1
    no_groups = ("tf.compat.v1.train optimizers have no parameter groups (one optimizer applies the same "
                 "hyperparameters to every variable it is given)")

    def prepare(self, opt):
        """Give ``opt`` a global step and read its learning rate through ``opt.learning_rate``
        (the value or a schedule), which the run may replace between steps: :meth:`apply` writes
        its value at the global step into the optimizer's own attribute before each update (not a
        callable: FtrlOptimizer._prepare converts the attribute to a tensor without calling it)."""
        opt.lr_attribute = "_lr" if hasattr(opt, "_lr") else "_learning_rate"
        opt.learning_rate = getattr(opt, opt.lr_attribute)
        opt.global_step = self.tf.Variable(0, dtype=self.tf.int64, name="global_step", trainable=False)
        return opt

    def lr_value(self, opt):
        """What the optimizer's ``_prepare`` converts to a tensor: the schedule at the global step,
        or the Python float."""
        lr = opt.learning_rate
        return lr(opt.global_step) if self.is_schedule(lr) else lr

    def build(self, opt, variables: list) -> None:
        """The slots and non-slot variables, as apply_gradients creates them before its first update."""
        with self.tf.init_scope():
            opt._create_slots(variables)

    def apply(self, opt, grads_and_vars: list) -> None:
        setattr(opt, opt.lr_attribute, self.lr_value(opt))
        opt.apply_gradients(grads_and_vars, global_step=opt.global_step)

    def current_lr(self, opt) -> float:
        """η of the next update as the optimizer holds it: ``ops.convert_to_tensor`` of the Python
        float (float32), or the schedule's float32 value."""
        return float(self.numpy(self.tf.convert_to_tensor(self.lr_value(opt))))

    def named_slot(self, opt, name: str, variable):
        slot = opt.get_slot(variable, name)
        return slot if slot is not None else opt._get_non_slot_variable(name)

    def set_iterations(self, opt, steps_done: int) -> None:
        """One-step mode: the global step, and each β power (a non-slot variable, created by the
        first update) to what the optimizer holds after ``steps_done`` updates: fl(β) multiplied
        by fl(β) ``steps_done`` times in the variable's format (_finish's running product)."""
        import numpy as np

        opt.global_step.assign(steps_done)
        for name, attr in V1_POWERS.items():
            power = opt._get_non_slot_variable(name)
            if power is not None:
                fmt = power.dtype.as_numpy_dtype
                beta = value = fmt(getattr(opt, attr))
                for _ in range(steps_done):
                    value = fmt(value * beta)
                power.assign(value)

    def checkpoint(self, opt, variables: list):
        return self.tf.train.Checkpoint(optimizer=opt, params=list(variables), global_step=opt.global_step)


_FLAVOURS = {LEGACY: _Legacy(), V1: _CompatV1()}


def flavour(code_path: str):
    """The flavour that drives ``code_path`` (``legacy`` or ``v1``)."""
    return _FLAVOURS[code_path]


class _Run(_OptimizerRun):
    """keras_adapter's optimizer run, with the optimizer driven through the flavour: built and
    prepared by it, stepped eagerly by ``flavour.apply``, its learning rate and slots read by it."""

    def __init__(self, doc: dict, impl: Implementation, flavour_, form: str):
        if form != EAGER:
            raise Unsupported(f"the {impl.code_path} code path runs eagerly only")
        super().__init__(doc, impl, flavour_, CODE_PATHS[impl.code_path], form)
        when_zero = V1_WHEN_ZERO.get(self.profile.api)
        if when_zero is not None and self.h[when_zero[0]] == 0:
            lr = self.profile.names["lr"]
            self.profile = dataclasses.replace(self.profile, api=when_zero[1], names={"lr": lr},
                                               required=tuple(r for r in self.profile.required if r == "lr"))

    def build(self):
        return self.flavour.prepare(super().build())

    def current_lr(self, opt) -> float:
        return self.flavour.current_lr(opt)

    def slot(self, opt, name: str, variable):
        return self.flavour.named_slot(opt, name, variable)

    def applier(self, opt):
        variables = list(self.variables.values())
        return lambda grads: self.flavour.apply(opt, list(zip(grads, variables)))


def run(doc: dict, impl: Implementation, form: str, notes: list) -> AdapterRun:
    """One optimizer vector on ``impl``'s code path (legacy or v1)."""
    if get(doc["algorithm"]).kind != "optimizer":
        raise Unsupported(f"the {impl.code_path} code path runs optimizers only")
    return AdapterRun(_Run(doc, impl, flavour(impl.code_path), form).run(), notes=notes)


def run_one_step(doc: dict, impl: Implementation, form: str, notes: list) -> AdapterRun:
    """One-step mode (reference/onestep.py) on ``impl``'s code path."""
    return AdapterRun(_Run(doc, impl, flavour(impl.code_path), form).run_one_step(), mode="one-step", notes=notes)
