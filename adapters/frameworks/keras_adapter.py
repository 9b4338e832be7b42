"""The Keras adapters: ``keras`` (Keras 3, on the backend it finds — TensorFlow unless KERAS_BACKEND
or ~/.keras/keras.json says otherwise) and ``tf_keras`` (Keras 2 on TensorFlow). One implementation
serves both; :class:`_Keras3` and :class:`_TfKeras` hold the few things that differ (variables,
tensors, the index of a variable's slots, saving the optimizer's variables).

Implementations: the code path ``eager`` — ``optimizer.apply_gradients`` on Keras variables,
called op by op as a custom training loop does, and a schedule object called with the update
index — on the CPU, in float64 and float32 (inputs exact in both). Compiled forms (tf.function,
XLA, the jax and torch backends in their own worker processes) are further code paths beside it.

One step of an optimizer vector, for the variables θ (one per tensor of the vector, of the dtype)
and the gradient g_t (the vector's, or ∇f(θ_{t−1}) of its closed-loop objective computed with numpy
in the dtype: engine.closed_loop_gradient)::

    opt = <profile api>(**keywords)        built from the profile (engine.optimizer_kwargs; λ = 0
                                            is Keras's weight_decay=None, no decay at all)
    η_t = opt's learning rate now           read before the step: the float32 variable, or the
                                            schedule at opt.iterations
    opt.apply_gradients([(g_t, θ), ...])    weight decay, update_step, iterations += 1

A scheduled vector gives Keras a LearningRateSchedule over the vector's η_t (engine.step_lrs) as a
float32 table, which Keras evaluates at its iteration count, as it evaluates any schedule.
Parameter groups: Keras has none; groups with identical hyperparameters run as one optimizer,
different ones are Unsupported. State is read by the profile's ``state_names`` (engine.read_state):
a name is the optimizer's slot list (``momentums`` → ``opt.momentums`` or ``opt._momentums``,
indexed by the variable), an optimizer-wide variable (Nadam's ``_u_product``), or the slot
variable's own name (tf_keras ``m`` → ``<optimizer>/m/<variable>``); documentation after the name
is ignored, and a leading ``-`` reads the slot negated (Keras SGD keeps m = −b: ``-momentums``).
The ``resume`` scenario saves the optimizer's variables after the checkpoint step and loads them
into a fresh optimizer: Keras 3 through ``save_own_variables``/``load_own_variables`` (what
``model.save`` uses) serialized with np.savez; tf_keras through ``tf.train.Checkpoint`` written
to a temporary directory. One-step mode builds one optimizer on the variables and, before every
step, assigns the injected parameters, the state entries (through the same names, negated where
the profile says so), the step counter (t − 1) and the learning rate. Schedules: keras_schedules.

TensorFlow and Keras are imported only when a case runs, with TensorFlow's start-up logs kept off
the terminal.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys

from optconform.reference.model import algorithms, get, precision_effects

from .engine import closed_loop_gradient, gradient_stream, initial_params, optimizer_kwargs, read_state, resolve_api, \
    state_name, step_lrs
from ..protocol import AdapterRun, Implementation, Unsupported

EAGER = "eager"
CODE_PATHS = (EAGER,)
DTYPES = ("float64", "float32")
DEVICES = ("cpu",)
NO_GROUPS = "Keras optimizers have no parameter groups"



# --- importing TensorFlow quietly -------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to a temporary file while TensorFlow loads: its C++ logging writes
    before absl is initialized and ignores TF_CPP_MIN_LOG_LEVEL (TensorFlow 2.21). What it wrote is
    replayed if the import fails."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))


_LOADED: dict = {}


def _load(module_name: str):
    """``module_name`` (keras or tf_keras), imported once, quietly, with TensorFlow where it loads
    it (tf_keras always; Keras 3 on its TensorFlow backend)."""
    if module_name not in _LOADED:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _quiet_stderr():
            module = importlib.import_module(module_name)
            tf = sys.modules.get("tensorflow")
            if tf is not None:
                tf.constant(0.0).numpy()  # the first op initializes the devices (and logs about CUDA)
        if tf is not None:
            import logging

            tf.get_logger().setLevel(logging.ERROR)
            from absl import logging as absl_logging  # comes with TensorFlow

            absl_logging.set_verbosity(absl_logging.ERROR)
        _LOADED[module_name] = module
    return _LOADED[module_name]


# --- what differs between Keras 3 and tf_keras --------------------------------------------------------


class _Keras3:
    """Keras 3: keras.Variable, keras.ops; slots indexed by ``_get_variable_index``; the optimizer's
    variables saved with ``save_own_variables`` (the ``model.save`` path)."""

    module_name = "keras"
    requires = ("keras",)

    @property
    def module(self):
        return _load(self.module_name)

    def backend(self) -> str:
        return self.module.backend.backend()

    def versions(self) -> str:
        backend = self.backend()
        engine = importlib.import_module(backend) if backend in ("tensorflow", "jax", "torch") else None
        return f"{self.module.__version__} (backend {backend} {getattr(engine, '__version__', '')})".replace(" )", ")")

    def variable(self, array, name: str):
        return self.module.Variable(array, dtype=str(array.dtype), name=name)

    def tensor(self, array):
        return self.module.ops.convert_to_tensor(array)

    def numpy(self, value):
        """A numpy copy of a Variable's value or a tensor. On the TensorFlow backend through the
        tensor's own ``numpy()``: keras.ops.convert_to_numpy calls np.array on a tf.Variable, which
        numpy 2 warns about (DeprecationWarning, once per read)."""
        import numpy as np

        if isinstance(value, self.module.Variable):
            value = value.value
        if self.backend() == "tensorflow" and hasattr(value, "numpy"):
            return np.array(value.numpy(), copy=True)
        return np.array(self.module.ops.convert_to_numpy(value), copy=True)

    def slot_index(self, opt, variable) -> int:
        return opt._get_variable_index(variable)

    def set_iterations(self, opt, steps_done: int) -> None:
        """One-step mode: the optimizer's step counter (the next update is number steps_done + 1)."""
        opt._iterations.assign(steps_done)

    def named_slot(self, opt, name: str, variable):
        """The slot variable named ``<variable path>_<name>`` (Keras 3's naming)."""
        wanted = f"{variable.path.replace('/', '_')}_{name}"
        return next((v for v in opt.variables if v.name == wanted), None)

    def is_schedule(self, lr) -> bool:
        return isinstance(lr, self.module.optimizers.schedules.LearningRateSchedule)

    def dtype_of(self, variable) -> str:
        return str(variable.dtype)

    def table(self, values: list):
        """A LearningRateSchedule over a float32 table: value k at iteration k."""
        keras = self.module
        ops = keras.ops

        class Table(keras.optimizers.schedules.LearningRateSchedule):
            def __call__(self, step):
                return ops.take(ops.convert_to_tensor(values, dtype="float32"), ops.cast(step, "int32"))

            def get_config(self):
                return {"values": list(values)}

        return Table()

    def resume(self, opt, fresh, variables: list):
        """Save ``opt``'s variables (save_own_variables, serialized with np.savez) and load them into
        ``fresh``, built on the same model variables."""
        import numpy as np

        store: dict = {}
        opt.save_own_variables(store)
        buffer = io.BytesIO()
        np.savez(buffer, **store)
        buffer.seek(0)
        fresh.build(variables)
        with np.load(buffer) as saved:
            fresh.load_own_variables({key: saved[key] for key in saved.files})
        return fresh

    @contextlib.contextmanager
    def floatx(self, dtype: str):
        """Keras's default float type (the dtype of a learning-rate variable) set to ``dtype``."""
        backend = self.module.backend
        before = backend.floatx()
        backend.set_floatx(dtype)
        try:
            yield
        finally:
            backend.set_floatx(before)


class _TfKeras(_Keras3):
    """tf_keras: tf.Variable, tf tensors; slots indexed through ``_index_dict``; the optimizer saved
    with ``tf.train.Checkpoint`` (what ``model.save_weights`` and ModelCheckpoint write)."""

    module_name = "tf_keras"
    requires = ("tf_keras", "tensorflow")

    @property
    def tf(self):
        self.module  # noqa: B018 - imports TensorFlow quietly
        import tensorflow as tf

        return tf

    def backend(self) -> str:
        return "tensorflow"

    def versions(self) -> str:
        return f"{self.module.__version__} (TensorFlow {self.tf.__version__})"

    def variable(self, array, name: str):
        return self.tf.Variable(array, dtype=self.tf.as_dtype(array.dtype), name=name)

    def tensor(self, array):
        return self.tf.constant(array)

    def dtype_of(self, variable) -> str:
        return variable.dtype.name

    def numpy(self, value):
        import numpy as np

        return np.array(value.numpy() if hasattr(value, "numpy") else value, copy=True)

    def slot_index(self, opt, variable) -> int:
        return opt._index_dict[opt._var_key(variable)]

    def set_iterations(self, opt, steps_done: int) -> None:
        """One-step mode: the step counter, and tf_keras Nadam's Python counter of μ-product updates
        (``_u_product_counter == iterations + 2`` means "already multiplied in this step", so it is
        set to steps_done + 1: the product is multiplied once, by the first variable)."""
        opt.iterations.assign(steps_done)
        if hasattr(opt, "_u_product_counter"):
            opt._u_product_counter = steps_done + 1

    def named_slot(self, opt, name: str, variable):
        """The slot variable named ``<optimizer>/<name>/<variable>`` (tf_keras's naming)."""
        wanted = f"{name}/{variable._shared_name}"
        for v in opt.variables:
            full = v.name.split(":", 1)[0]
            if full == wanted or full.endswith("/" + wanted):
                return v
        return None

    def table(self, values: list):
        tf = self.tf

        class Table(self.module.optimizers.schedules.LearningRateSchedule):
            def __call__(self, step):
                return tf.gather(tf.constant(values, dtype=tf.float32), tf.cast(step, tf.int32))

            def get_config(self):
                return {"values": list(values)}

        return Table()

    def resume(self, opt, fresh, variables: list):
        """Write ``opt`` with tf.train.Checkpoint and read it into ``fresh``, built on the same
        variables (every tracked variable must be matched)."""
        import tempfile

        tf = self.tf
        with tempfile.TemporaryDirectory(prefix="optconform-tf_keras-") as directory:
            path = tf.train.Checkpoint(optimizer=opt).write(os.path.join(directory, "checkpoint"))
            fresh.build(variables)
            tf.train.Checkpoint(optimizer=fresh).read(path).assert_existing_objects_matched()
        return fresh


# --- the adapters ---------------------------------------------------------------------------------------


class _KerasAdapterBase:
    name = ""
    framework = ""
    flavour: _Keras3
    can_inject_state = True

    def available(self) -> tuple[bool, str]:
        for module in self.flavour.requires:
            if importlib.util.find_spec(module) is None:
                return False, f"{module} is not installed (pip install 'optconform[tensorflow]')"
        return True, ""

    def version(self) -> str:
        return self.flavour.versions()

    def backend(self) -> str:
        return self.flavour.backend()

    def profiles(self) -> dict[str, list]:
        """Every profile whose framework is this adapter's."""
        out = {}
        for name, alg in algorithms().items():
            mine = [p for p, prof in alg.profiles.items() if prof.framework == self.framework]
            if mine:
                out[name] = mine
        return out

    def code_paths(self, algorithm: str) -> list[str]:
        return list(CODE_PATHS)

    def default_code_path(self, algorithm: str, profile: str | None = None) -> str:
        """What a user gets without asking: eager apply_gradients (schedules: the object called)."""
        return EAGER

    def implementations(self, algorithm: str) -> list[Implementation]:
        return [Implementation(self.name, path, device, dtype)
                for path in self.code_paths(algorithm) for device in DEVICES for dtype in DTYPES]

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str | None = None) -> dict:
        """The profile's declared precision effects that apply on this backend, code path and device."""
        prof = get(algorithm).profiles[profile or self.name]
        return precision_effects(prof, impl.code_path, impl.dtype, backend=self.backend(), device=impl.device)

    def _check(self, impl: Implementation) -> None:
        if impl.code_path not in CODE_PATHS:
            raise Unsupported(f"unknown code path {impl.code_path!r} "
                              f"(the {self.name} adapter has {', '.join(CODE_PATHS)})")
        if impl.device not in DEVICES:
            raise Unsupported(f"the {self.name} adapter runs on {', '.join(DEVICES)}, not {impl.device}")
        if impl.dtype not in DTYPES:
            raise Unsupported(f"the {self.name} adapter runs {', '.join(DTYPES)}, not {impl.dtype}")

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        self._check(impl)
        notes = [f"{self.name} {self.version()}"]
        if doc["kind"] == "schedule":
            from .keras_schedules import run_schedule

            profile = get(doc["algorithm"]).profiles[doc.get("profile") or self.name]
            return AdapterRun(run_schedule(doc, profile, self.flavour, impl.dtype), notes=notes)
        return AdapterRun(_OptimizerRun(doc, impl, self.flavour, self.name).run(), notes=notes)

    def run_one_step(self, doc: dict, impl: Implementation) -> AdapterRun:
        """One-step mode (reference/onestep.py): ``doc`` carries, per step, the state to inject."""
        self._check(impl)
        if doc["kind"] != "optimizer":
            raise Unsupported("one-step mode applies to optimizers only")
        return AdapterRun(_OptimizerRun(doc, impl, self.flavour, self.name).run_one_step(), mode="one-step",
                          notes=[f"{self.name} {self.version()}"])


class KerasAdapter(_KerasAdapterBase):
    """Keras 3 (``keras.optimizers``, ``keras.optimizers.schedules``, ``keras.callbacks``)."""

    name = "keras"
    framework = "keras"
    flavour = _Keras3()


class TfKerasAdapter(_KerasAdapterBase):
    """tf_keras, Keras 2 on TensorFlow (``tf_keras.optimizers``, the optimizer_experimental classes)."""

    name = "tf_keras"
    framework = "tf_keras"
    flavour = _TfKeras()


# --- one optimizer vector ----------------------------------------------------------------------------


class _OptimizerRun:
    def __init__(self, doc: dict, impl: Implementation, flavour: _Keras3, default_profile: str):
        import numpy as np

        self.np = np
        self.doc = doc
        self.flavour = flavour
        self.alg = get(doc["algorithm"])
        self.profile = self.alg.profiles[doc.get("profile") or default_profile]
        self.dtype = np.dtype(impl.dtype)
        groups = doc["inputs"]["groups"]
        if any(g["hyper"] != groups[0]["hyper"] for g in groups[1:]):
            raise Unsupported(NO_GROUPS)
        self.groups = len(groups)
        self.h = self.alg.resolve(self.profile.name, groups[0]["hyper"])
        for name in self.profile.unsupported:
            hyper = self.alg.hypers[name]
            if name in self.h and self.h[name] != hyper.parse(self.profile.fixed_value(hyper)):
                raise Unsupported(f"{self.profile.api} has no {name} (the profile lists it unsupported)")
        flavour.module  # noqa: B018 - TensorFlow and Keras, imported quietly before the first variable
        self.shapes = {}
        self.variables = {}
        for n, (shape, values) in initial_params(doc).items():
            self.shapes[n] = shape
            self.variables[n] = flavour.variable(self.array(values, shape), n)
        stream = gradient_stream(doc)
        self.stream = None if stream is None else {  # every step's gradient, converted once: (steps, *shape)
            n: self.array([v for step in stream for v in step[n]], (len(stream),) + shape)
            for n, shape in self.shapes.items()}
        lrs = step_lrs(doc)
        self.lrs = None if lrs is None else [row[0] for row in lrs]

    def build(self):
        cls, extra = resolve_api(self.profile.api)
        kwargs = optimizer_kwargs(self.doc, self.h, self.profile)
        if kwargs.get("weight_decay") == 0:
            # λ = 0 means no decay: Keras's default None. An explicit 0.0 still runs θ − θ·0·η,
            # which turns an infinite parameter into NaN.
            del kwargs["weight_decay"]
        if self.lrs is not None:
            kwargs[self.profile.names["lr"]] = self.flavour.table(self.lrs)
        try:
            return cls(**{**kwargs, **extra})
        except (TypeError, ValueError) as exc:
            raise Unsupported(f"{self.profile.api} rejects {kwargs}: {exc}") from None

    def current_lr(self, opt) -> float:
        """The learning rate the next step uses: the schedule at the iteration count, or the variable."""
        lr = opt._learning_rate
        if self.flavour.is_schedule(lr):
            return float(self.flavour.numpy(lr(opt.iterations)))
        return float(self.flavour.numpy(opt.learning_rate))

    def gradient(self, t: int) -> dict:
        if self.stream is not None:
            return {n: stack[t - 1] for n, stack in self.stream.items()}
        np = self.np
        objective = self.doc["inputs"]["objective"]
        out = {}
        for n, var in self.variables.items():
            x = self.flavour.numpy(var).reshape(-1)

            def constant(values, dtype=x.dtype):
                return np.asarray(values, dtype=dtype)

            def interleave(gx, gy):
                return np.stack([gx, gy], axis=-1).reshape(-1)

            out[n] = closed_loop_gradient(objective, x, constant, interleave).reshape(self.shapes[n])
        return out

    def state(self, opt, variable) -> dict:
        def lookup(name):
            value = self.slot(opt, name, variable)
            return None if value is None else self.flavour.numpy(value)

        return read_state(self.profile, lookup)

    def slot(self, opt, name: str, variable):
        """The optimizer's variable ``name`` for ``variable``: its slot list, an optimizer-wide
        variable, or the slot variable of that name (None when there is none, e.g. before the first
        step or for a momentum of 0)."""
        for attr in dict.fromkeys((name, "_" + name.lstrip("_"))):
            value = getattr(opt, attr, None)
            if isinstance(value, (list, tuple)):
                index = self.flavour.slot_index(opt, variable)
                return value[index] if index < len(value) else None
            if value is not None and hasattr(value, "assign") and hasattr(value, "shape"):
                return value
        if not opt.variables:
            return None
        return self.flavour.named_slot(opt, name, variable)

    def resume(self, opt):
        return self.flavour.resume(opt, self.build(), list(self.variables.values()))

    def run(self) -> list:
        opt = self.build()
        names = list(self.variables)
        checkpoint = self.doc["inputs"].get("checkpoint_at")
        out = []
        for record in self.doc["steps"]:
            t = record["t"]
            lr = self.current_lr(opt)
            grads = self.gradient(t)
            opt.apply_gradients([(self.flavour.tensor(grads[n]), self.variables[n]) for n in names])
            out.append({"t": t, "params": {n: self.flavour.numpy(v) for n, v in self.variables.items()},
                        "state": {n: self.state(opt, v) for n, v in self.variables.items()},
                        "lr": [lr] * self.groups})
            if checkpoint == t:
                opt = self.resume(opt)
        return self.to_floats(out)

    def run_one_step(self) -> list:
        """Each step from the exact state of the step before, rounded to the dtype: one optimizer,
        built on the variables, whose parameters, state entries (by the profile's state names),
        step counter and learning rate are overwritten before every step (step 1: a fresh one)."""
        self.lrs = None  # the injected learning rate of each step replaces any schedule
        opt = self.build()
        opt.build(list(self.variables.values()))
        names = list(self.variables)
        out = []
        for record, inject in zip(self.doc["steps"], self.doc["inject"]):
            t = record["t"]
            for n, values in inject["params"].items():
                self.variables[n].assign(self.array(values, self.shapes[n]))
            if inject["state"] is not None:
                for n, variable in self.variables.items():
                    self.inject_state(opt, variable, inject["state"][n])
            self.flavour.set_iterations(opt, t - 1)
            opt.learning_rate = float(inject["lr"][0])
            lr = self.current_lr(opt)
            grads = {n: self.array(inject["grads"][n], self.shapes[n]) for n in names}
            opt.apply_gradients([(self.flavour.tensor(grads[n]), self.variables[n]) for n in names])
            out.append({"t": t, "params": {n: self.flavour.numpy(v) for n, v in self.variables.items()},
                        "state": {n: self.state(opt, v) for n, v in self.variables.items()},
                        "lr": [lr] * self.groups})
        return self.to_floats(out)

    def array(self, values, shape):
        """Values of the dtype (decimal strings or floats; float() reads them exactly) as an array of it."""
        np = self.np
        return np.asarray([float(v) for v in values], dtype=np.float64).reshape(shape).astype(self.dtype)

    def inject_state(self, opt, variable, values: dict) -> None:
        """Write the canonical state entries into the Keras variables the profile names."""
        np = self.np
        for canonical, value in values.items():
            text = self.profile.state_names.get(canonical)
            if text is None:
                raise Unsupported(f"one-step mode: {canonical} has no Keras name in the profile")
            name, sign = state_name(text)
            slot = self.slot(opt, name, variable)
            if slot is None:
                raise Unsupported(f"one-step mode: {self.profile.api} holds no {name} to inject {canonical} into")
            array = np.asarray([float(v) for v in (value if isinstance(value, list) else [value])], dtype=np.float64)
            array = (sign * array).reshape(tuple(slot.shape)).astype(str(self.flavour.dtype_of(slot)))
            slot.assign(array)

    def to_floats(self, steps: list) -> list:
        for step in steps:
            step["params"] = {n: a.astype(self.np.float64).reshape(-1).tolist() for n, a in step["params"].items()}
            step["state"] = {n: {c: (float(a) if a.ndim == 0 else a.astype(self.np.float64).reshape(-1).tolist())
                                 for c, a in entries.items()} for n, entries in step["state"].items()}
        return steps
