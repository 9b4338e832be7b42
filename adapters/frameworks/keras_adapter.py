"""The Keras adapters: ``keras`` (Keras 3 on its TensorFlow, JAX and torch backends) and
``tf_keras`` (Keras 2 on TensorFlow). One implementation serves both; :class:`_Keras3` and
:class:`_TfKeras` hold the few things that differ (variables, tensors, the index of a variable's
slots, saving the optimizer's variables, the code paths).

Code paths. Keras 3 implements every optimizer once per backend, and Keras fixes its backend when
it is imported, so a code path names the backend and the form a step runs in, and every backend
runs in its own worker process (:meth:`_KerasAdapterBase.worker_environment`: KERAS_BACKEND, and
jax's x64 mode so that float64 stays float64):

* ``tensorflow-eager``, ``jax-eager``, ``torch-eager``: ``optimizer.apply_gradients`` op by op,
  as a custom training loop calls it;
* ``tensorflow-function``: the same call inside ``tf.function`` (a graph, as ``model.fit`` runs it
  by default on a CPU-only machine); ``tensorflow-xla``: ``tf.function(jit_compile=True)`` (XLA,
  what ``model.fit`` compiles by default where TensorFlow sees a GPU, and with
  ``jit_compile=True`` anywhere);
* ``jax-jit``: ``jax.jit(optimizer.stateless_apply)``, the step Keras's JAX trainer compiles, with
  the new values written back to the variables after each step;
* ``torch-compiled``: ``torch.compile`` of ``optimizer.apply`` (what ``jit_compile=True`` compiles
  on the torch backend), for SGD, Adam and AdamW in float32 (:data:`TORCH_COMPILED`), trajectory
  mode only.

tf_keras: ``eager`` and ``function`` in the same sense (its optimizers turn XLA off without a
GPU, so a CPU user never gets the XLA form). Schedules run on each backend's
eager path (a schedule object called with the update index). Dtypes float64, float32 and, for
Keras 3, bfloat16 (its optimizers cast β and ε to the variable's dtype: declared precision effects
and findings of the profiles); tf_keras float64 and float32; device cpu.

Batches (``batch_key``/``run_batch``, harness.run_batch): in trajectory mode, the vectors of one
algorithm, profile, code path and hyperparameters (and learning rates) run as one optimizer over
all their variables, whatever their dtypes (Nadam: one dtype), on the TensorFlow and JAX forms: one
trace or XLA compilation instead of one per vector. Eager forms batch vectors of equal length only.
Each vector's trajectory is bit for bit the one it has alone (tests/test_keras_backends.py); a
batch that raises runs again vector by vector.

One step of an optimizer vector, for the variables θ (one per tensor of the vector, of the dtype)
and the gradient g_t (the vector's, or ∇f(θ_{t−1}) of its closed-loop objective computed with numpy
in the dtype: engine.closed_loop_gradient)::

    opt = <profile api>(**keywords)        built from the profile (engine.optimizer_kwargs; λ = 0
                                            is Keras's weight_decay=None, no decay at all)
    η_t = opt's learning rate now           read before the step: the float32 variable, or the
                                            schedule at opt.iterations
    opt.apply_gradients([(g_t, θ), ...])    weight decay, update_step, iterations += 1
                                            (in the code path's form)

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
the profile says so), the step counter (t − 1) and the learning rate. An entry the optimizer holds
nowhere (ScheduleFreeAdamW's x) is computed from its variables as the optimizer does
(:data:`DERIVED_STATE`) and never injected. Schedules: keras_schedules.

TensorFlow and Keras are imported only when a case runs, with TensorFlow's start-up logs kept off
the terminal.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import sys

from optconform.reference.model import algorithms, get, precision_effects

from .engine import closed_loop_gradient, gradient_stream, initial_params, optimizer_kwargs, read_state, resolve_api, \
    state_name, step_lrs
from ..protocol import AdapterRun, Implementation, Unsupported

# the forms a step runs in, per backend (code path = "<backend>-<form>" for Keras 3, "<form>" for tf_keras)
FORMS = {"tensorflow": ("eager", "function", "xla"), "jax": ("eager", "jit"), "torch": ("eager", "compiled")}
KERAS_PATHS = tuple(f"{backend}-{form}" for backend, forms in FORMS.items() for form in forms)
# the optimizers the torch backend's compiled form (Keras's jit_compile=True: torch.compile of the
# train step) runs, as the torch adapter's compiled path: torch.compile takes 1.5-2.5 s per new
# optimizer here, so the form covers the optimizers most models use
TORCH_COMPILED = ("sgd", "adam", "adamw")
# and in float32 only: Keras trains in float32 variables (its mixed-precision policies keep them
# float32), and each dtype would cost another compilation per optimizer
TORCH_COMPILED_DTYPES = ("float32",)
# tf_keras compiles its update step with XLA only where TensorFlow sees a GPU (tf_keras
# optimizer.py: jit_compile is turned off without one), so on the CPU its users run the step
# eagerly or inside model.fit's tf.function; the XLA form belongs to the gpu device
TF_KERAS_PATHS = ("eager", "function")
EAGER = "eager"
# Keras 3 runs bfloat16 variables on every backend (its optimizers cast their hyperparameters to
# the variable's dtype: declared precision effects of the profiles); tf_keras float64 and float32
KERAS_DTYPES = ("float64", "float32", "bfloat16")
TF_KERAS_DTYPES = ("float64", "float32")
DEVICES = ("cpu",)
NO_GROUPS = "Keras optimizers have no parameter groups"


def _schedule_free_x(run, opt, variable):
    """ScheduleFreeAdamW holds y (the variable) and z (``momentums``) but no x: the evaluation
    parameters as its update_step recovers x_old, (y − (1 − β₁)·momentum)/β₁, with its operations
    in the variable's dtype."""
    ops = run.flavour.module.ops
    beta_1 = ops.cast(opt.beta_1, variable.dtype)
    momentum = run.slot(opt, "momentums", variable)
    return ops.divide(ops.subtract(variable, ops.multiply(1 - beta_1, momentum)), beta_1)


# state entries an optimizer holds nowhere, computed from its variables as the optimizer itself
# does: canonical name -> function(run, optimizer, variable) -> tensor; read, never injected
DERIVED_STATE = {"schedule_free_adamw": {"x": _schedule_free_x}}
# reference state entries an optimizer neither holds nor needs, which one-step mode does not inject
# (ScheduleFreeAdamW's average weighs by 1/t: no running sum of weights, no maximal rate)
# (tf_keras SGD's m under ema's sgd_buffer = zero_momentum: −ηg + 0·m, whose previous value only
# matters through 0·m, i.e. whether it is finite — the optimizer's own m of the step before)
NOT_HELD = {"schedule_free_adamw": ("weight_sum", "lr_max"), "ema": ("velocity",)}


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
        from .compile_caches import use_jax_cache

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _quiet_stderr():
            module = importlib.import_module(module_name)
            tf = sys.modules.get("tensorflow")
            if tf is not None:
                tf.constant(0.0).numpy()  # the first op initializes the devices (and logs about CUDA)
            if module_name == "keras" and module.backend.backend() == "jax":
                import jax

                use_jax_cache(jax)
        if tf is not None:
            import logging

            tf.get_logger().setLevel(logging.ERROR)
            from absl import logging as absl_logging  # comes with TensorFlow

            absl_logging.set_verbosity(absl_logging.ERROR)
        _LOADED[module_name] = module
    return _LOADED[module_name]


# --- what differs between Keras 3 and tf_keras --------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _installed_version(distribution: str) -> str:
    """The installed version of ``distribution`` (read once per process: every case reports it)."""
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _numpy_dtype(name: str):
    """A numpy dtype by name, bfloat16 included (ml_dtypes, which Keras's backends depend on)."""
    import numpy as np

    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


class _Keras3:
    """Keras 3: keras.Variable, keras.ops; slots indexed by ``_get_variable_index``; the optimizer's
    variables saved with ``save_own_variables`` (the ``model.save`` path)."""

    module_name = "keras"
    requires = ("keras",)
    dtypes = KERAS_DTYPES

    @property
    def module(self):
        return _load(self.module_name)

    def backend(self) -> str:
        """The backend this process's Keras runs on (importing Keras if it is not yet)."""
        return self.module.backend.backend()

    def code_paths(self, algorithm: str) -> tuple:
        """Every backend × form for an optimizer; for a schedule, each backend's one form
        (keras_schedules.form: compiled on jax, eager elsewhere). Backends not installed are left
        out."""
        from .keras_schedules import form

        installed = [b for b in FORMS if importlib.util.find_spec(b) is not None]
        if get(algorithm).kind == "schedule":
            return tuple(f"{backend}-{form(algorithm, backend)}" for backend in installed)
        return tuple(p for p in KERAS_PATHS if p.partition("-")[0] in installed
                     and (p != "torch-compiled" or algorithm in TORCH_COMPILED))

    def split(self, code_path: str) -> tuple[str, str]:
        """``tensorflow-xla`` → (``tensorflow``, ``xla``)."""
        backend, _, form = code_path.partition("-")
        return backend, form

    def environment(self, backend: str) -> dict:
        """What a worker process needs before it imports Keras for ``backend``: KERAS_BACKEND, and
        for jax its x64 mode (without it a float64 variable silently becomes float32)."""
        env = {"KERAS_BACKEND": backend}
        if backend == "jax":
            env["JAX_ENABLE_X64"] = "1"
        return env

    def use_backend(self, backend: str) -> None:
        """Make this process's Keras run on ``backend``: chosen before Keras is imported, checked
        after (Keras fixes its backend at import, so another backend needs another process)."""
        if self.module_name not in _LOADED and "keras" not in sys.modules:
            os.environ.update(self.environment(backend))
        actual = self.backend()
        if actual != backend:
            raise RuntimeError(f"this process imported Keras on the {actual} backend; the {backend} code paths "
                              f"need a process started with KERAS_BACKEND={backend} (optconform check and the "
                              f"conformance suite start one)")
        if backend == "jax":
            import jax

            if not jax.config.jax_enable_x64:
                jax.config.update("jax_enable_x64", True)

    def versions(self) -> str:
        """Keras's version and every installed backend's, read from the packages' metadata: the
        parent process that plans the cases never imports Keras (which would fix a backend and
        cost TensorFlow's import)."""
        installed = [b for b in FORMS if importlib.util.find_spec(b) is not None]
        return f"{_installed_version('keras')} (backends: " + ", ".join(
            f"{b} {_installed_version(b)}" for b in installed) + ")"

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
        arrays = {}
        for key, value in store.items():  # raw bytes, dtype name and shape: bfloat16 survives np.savez
            a = np.asarray(self.numpy(value))
            arrays[f"{key}.bytes"] = a.reshape(-1).view(np.uint8)
            arrays[f"{key}.dtype"] = np.asarray(str(a.dtype))
            arrays[f"{key}.shape"] = np.asarray(a.shape, dtype=np.int64)
        np.savez(buffer, **arrays)
        buffer.seek(0)
        fresh.build(variables)
        with np.load(buffer) as saved:
            keys = [f[:-len(".bytes")] for f in saved.files if f.endswith(".bytes")]
            fresh.load_own_variables({key: saved[f"{key}.bytes"].view(_numpy_dtype(str(saved[f"{key}.dtype"])))
                                      .reshape(tuple(saved[f"{key}.shape"])) for key in keys})
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
    dtypes = TF_KERAS_DTYPES

    @property
    def tf(self):
        self.module  # noqa: B018 - imports TensorFlow quietly
        import tensorflow as tf

        return tf

    def backend(self) -> str:
        return "tensorflow"

    def code_paths(self, algorithm: str) -> tuple:
        return (EAGER,) if get(algorithm).kind == "schedule" else TF_KERAS_PATHS

    def split(self, code_path: str) -> tuple[str, str]:
        return "tensorflow", code_path

    def use_backend(self, backend: str) -> None:
        pass

    def versions(self) -> str:
        return f"{_installed_version('tf_keras')} (TensorFlow {_installed_version('tensorflow')})"

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

    def profiles(self) -> dict[str, list]:
        """Every profile whose framework is this adapter's."""
        out = {}
        for name, alg in algorithms().items():
            mine = [p for p, prof in alg.profiles.items() if prof.framework == self.framework]
            if mine:
                out[name] = mine
        return out

    def code_paths(self, algorithm: str) -> list[str]:
        return list(self.flavour.code_paths(algorithm))

    def paths_for(self, algorithm: str, profile: str) -> list[str]:
        """The code paths that run ``profile``'s vectors (all of them for the adapter's own
        profile)."""
        return self.code_paths(algorithm) if profile == self.name else []

    def flavour_for(self, code_path: str):
        """The flavour (API family) a code path drives."""
        return self.flavour

    def default_code_path(self, algorithm: str, profile: str | None = None) -> str:
        """What a user gets without asking: eager apply_gradients (schedules: the object called),
        on the TensorFlow backend, Keras's default; where the profile declares that path an error
        in float64 (Keras's Muon on TensorFlow), the first path that runs float64, so the profile
        is still confirmed in float64 on this framework's own arithmetic."""
        name = profile or self.name
        paths = self.paths_for(algorithm, name)
        prof = get(algorithm).profiles[name]
        def fails_everywhere(path: str) -> bool:  # a float64 error finding on every scenario of the path
            return any(f.verdict == "error" and "scenario" not in f.clauses()
                       and f.matches("", path, "cpu", "float64") for f in prof.findings)

        runs = [p for p in paths if not fails_everywhere(p)]
        return (runs or paths)[0]

    def implementations(self, algorithm: str) -> list[Implementation]:
        return self.implementations_for(algorithm, self.name)

    def implementations_for(self, algorithm: str, profile: str) -> list[Implementation]:
        return [Implementation(self.name, path, device, dtype)
                for path in self.paths_for(algorithm, profile) for device in DEVICES
                for dtype in self.flavour.dtypes if path != "torch-compiled" or dtype in TORCH_COMPILED_DTYPES]

    def worker_environment(self, impl: Implementation) -> dict:
        """The environment a worker process must start with to run ``impl`` (harness/workers:
        cases whose environments differ never share a worker): the code path's backend."""
        flavour = self.flavour_for(impl.code_path)
        return flavour.environment(flavour.split(impl.code_path)[0])

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str | None = None) -> dict:
        """The profile's declared precision effects that apply on this backend, code path and device."""
        prof = get(algorithm).profiles[profile or self.name]
        backend, _ = self.flavour_for(impl.code_path).split(impl.code_path)
        return precision_effects(prof, impl.code_path, impl.dtype, backend=backend, device=impl.device)

    def _check(self, doc: dict, impl: Implementation) -> str:
        """The form of ``impl``'s code path, after checking the implementation and putting this
        process's Keras on its backend."""
        profile = doc.get("profile") or self.name
        paths = self.paths_for(doc["algorithm"], profile)
        if impl.code_path not in paths:
            raise Unsupported(f"code path {impl.code_path!r} does not run the {profile} profile of "
                              f"{doc['algorithm']} (it runs on {', '.join(paths) or 'none'})")
        if impl.device not in DEVICES:
            raise Unsupported(f"the {self.name} adapter runs on {', '.join(DEVICES)}, not {impl.device}")
        if impl.dtype not in self.flavour.dtypes:
            raise Unsupported(f"the {self.name} adapter runs {', '.join(self.flavour.dtypes)}, not {impl.dtype}")
        if impl.code_path == "torch-compiled" and impl.dtype not in TORCH_COMPILED_DTYPES:
            raise Unsupported(f"torch-compiled runs {', '.join(TORCH_COMPILED_DTYPES)} (a compilation per optimizer "
                              f"and dtype), not {impl.dtype}")
        flavour = self.flavour_for(impl.code_path)
        backend, form = flavour.split(impl.code_path)
        flavour.use_backend(backend)
        return form

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        form = self._check(doc, impl)
        flavour = self.flavour_for(impl.code_path)
        notes = [f"{self.name} {self.version()}"]
        if doc["kind"] == "schedule":
            from .keras_schedules import run_schedule

            profile = get(doc["algorithm"]).profiles[doc.get("profile") or self.name]
            return AdapterRun(run_schedule(doc, profile, flavour, impl.dtype, form), notes=notes)
        return AdapterRun(_OptimizerRun(doc, impl, flavour, self.name, form).run(), notes=notes)

    # Keras 3 only: tf_keras's Nadam counts its μ-product updates in a Python counter that a
    # tf.function over several variables bakes in (a declared finding of multi_tensor), so a batch
    # would give every tf_keras Nadam vector that bug
    batches = False
    BATCHED_FORMS = ("function", "xla", "jit", "eager", "compiled")
    UNBATCHED_PATHS = ("torch-eager",)  # Keras's torch optimizers eagerly: cheap per case anyway

    def batch_key(self, doc: dict, impl: Implementation, mode: str):
        """Cases whose vectors can share one optimizer (:class:`_BatchRun`): trajectory mode, Keras
        3's optimizers, one parameter group, no checkpoint; equal algorithm, hyperparameters and
        learning rates (the parent adds the profile). Eager forms also need equal step counts (a
        step costs per variable there); Nadam's optimizer-wide _u_product takes the first
        variable's dtype, so Nadam batches within one dtype. None: the case runs alone."""
        if not self.batches or mode != "trajectory" or doc["kind"] != "optimizer" \
                or self.flavour_for(impl.code_path) is not self.flavour:
            return None
        backend, form = self.flavour.split(impl.code_path)
        if form not in self.BATCHED_FORMS or impl.code_path in self.UNBATCHED_PATHS:
            return None
        inputs = doc["inputs"]
        if "checkpoint_at" in inputs or len(inputs["groups"]) != 1:
            return None
        import json

        key = (doc["algorithm"], impl.code_path, impl.device, json.dumps(inputs["groups"][0]["hyper"], sort_keys=True),
               json.dumps(step_lrs(doc)))
        if form == EAGER:
            key += (len(doc["steps"]),)
        if doc["algorithm"] == "nadam" or backend == "torch":
            key += (impl.dtype,)  # Nadam's _u_product; torch's foreach kernels group tensors by dtype
        return key

    def run_batch(self, items: list) -> list:
        """AdapterRuns of several (doc, impl) of equal :meth:`batch_key`, run as one optimizer."""
        doc0, impl0 = items[0]
        form = self._check(doc0, impl0)
        flavour = self.flavour_for(impl0.code_path)
        for doc, impl in items[1:]:
            self._check(doc, impl)
        members = [_OptimizerRun(doc, impl, flavour, self.name, form, prefix=f"m{i}_")
                   for i, (doc, impl) in enumerate(items)]
        notes = [f"{self.name} {self.version()}", f"run as one optimizer with {len(items) - 1} other vector(s)"]
        return [AdapterRun(steps, notes=notes) for steps in _BatchRun(members).run()]

    def run_one_step(self, doc: dict, impl: Implementation) -> AdapterRun:
        """One-step mode (reference/onestep.py): ``doc`` carries, per step, the state to inject."""
        if doc["kind"] != "optimizer":
            raise Unsupported("one-step mode applies to optimizers only")
        if impl.code_path == "torch-compiled":
            raise Unsupported("one-step mode is not offered for torch-compiled (a compilation of about 2 s per "
                              "case: the trajectory mode checks the compiled step)")
        form = self._check(doc, impl)
        flavour = self.flavour_for(impl.code_path)
        return AdapterRun(_OptimizerRun(doc, impl, flavour, self.name, form).run_one_step(), mode="one-step",
                          notes=[f"{self.name} {self.version()}"])


class KerasAdapter(_KerasAdapterBase):
    """Keras 3 (``keras.optimizers``, ``keras.optimizers.schedules``, ``keras.callbacks``).

    A backend whose implementation of an algorithm makes another semantic choice than Keras's
    generic one (the torch backend's foreach optimizers) has a profile of its own named
    ``keras_<backend>``: that backend's code paths run it, the other backends run ``keras``."""

    name = "keras"
    framework = "keras"
    flavour = _Keras3()
    batches = True

    def paths_for(self, algorithm: str, profile: str) -> list[str]:
        paths = self.code_paths(algorithm)
        profiles = get(algorithm).profiles
        if profile == self.name:
            return [p for p in paths if f"{self.name}_{self.flavour.split(p)[0]}" not in profiles]
        backend = profile.removeprefix(f"{self.name}_")
        if profile != backend and backend in FORMS and profiles[profile].framework == self.framework:
            return [p for p in paths if self.flavour.split(p)[0] == backend]
        return []


class TfKerasAdapter(_KerasAdapterBase):
    """tf_keras, Keras 2 on TensorFlow: ``tf_keras.optimizers`` (the optimizer_experimental
    classes) on ``eager`` and ``function`` for the profiles ``tf_keras`` (and any other
    tf_keras profile of those classes, such as ``tf_keras_adaptive``); TensorFlow's older APIs as
    the code paths ``legacy`` (``tf_keras.optimizers.legacy``, profile ``tf_keras_legacy``) and
    ``v1`` (``tf.compat.v1.train``, profile ``tf_v1``), run by tf_legacy; ``train-eager`` and
    ``train-function`` (``tf.train.ExponentialMovingAverage``, ema's profiles ``tf_train*``), run by
    tf_train."""

    name = "tf_keras"
    framework = "tf_keras"
    flavour = _TfKeras()

    def paths_for(self, algorithm: str, profile: str) -> list[str]:
        """``legacy`` or ``v1`` for the profile of that API (optimizers only), ``train-eager`` and
        ``train-function`` for the tf_train profiles, the code paths of tf_keras.optimizers for
        every other tf_keras profile."""
        from .tf_legacy import code_path_of
        from .tf_train import code_paths_of

        alg = get(algorithm)
        prof = alg.profiles.get(profile)
        if prof is None or prof.framework != self.framework:
            return []
        train = code_paths_of(profile)
        if train is not None:
            return train if alg.kind == "optimizer" else []
        path = code_path_of(profile)
        if path is not None:
            return [path] if alg.kind == "optimizer" else []
        return self.code_paths(algorithm)

    def flavour_for(self, code_path: str):
        from . import tf_legacy, tf_train

        if code_path in tf_train.CODE_PATHS:
            return tf_train.FLAVOUR
        return tf_legacy.flavour(code_path) if code_path in tf_legacy.CODE_PATHS else self.flavour

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        from . import tf_legacy, tf_train

        if impl.code_path in tf_train.CODE_PATHS:
            self._check(doc, impl)
            return tf_train.run(doc, impl, notes=[f"{self.name} {self.version()}"])
        if impl.code_path not in tf_legacy.CODE_PATHS:
            return super().run(doc, impl)
        form = self._check(doc, impl)
        return tf_legacy.run(doc, impl, form, notes=[f"{self.name} {self.version()}"])

    def run_one_step(self, doc: dict, impl: Implementation) -> AdapterRun:
        from . import tf_legacy, tf_train

        if impl.code_path in tf_train.CODE_PATHS and doc["kind"] == "optimizer":
            self._check(doc, impl)
            return tf_train.run_one_step(doc, impl, notes=[f"{self.name} {self.version()}"])
        if impl.code_path not in tf_legacy.CODE_PATHS:
            return super().run_one_step(doc, impl)
        if doc["kind"] != "optimizer":
            raise Unsupported("one-step mode applies to optimizers only")
        form = self._check(doc, impl)
        return tf_legacy.run_one_step(doc, impl, form, notes=[f"{self.name} {self.version()}"])


# --- one optimizer vector ----------------------------------------------------------------------------


class _OptimizerRun:
    def __init__(self, doc: dict, impl: Implementation, flavour: _Keras3, default_profile: str, form: str = EAGER,
                 prefix: str = ""):
        import numpy as np

        self.np = np
        self.form = form
        self.doc = doc
        self.flavour = flavour
        self.alg = get(doc["algorithm"])
        self.profile = self.alg.profiles[doc.get("profile") or default_profile]
        self.dtype = _numpy_dtype(impl.dtype)
        groups = doc["inputs"]["groups"]
        if any(g["hyper"] != groups[0]["hyper"] for g in groups[1:]):
            raise Unsupported(getattr(flavour, "no_groups", NO_GROUPS))  # in the flavour's API's words
        self.groups = len(groups)
        self.h = self.alg.resolve(self.profile.name, groups[0]["hyper"])
        self._check_supported()
        flavour.module  # noqa: B018 - TensorFlow and Keras, imported quietly before the first variable
        self.shapes = {}
        self.variables = {}
        for n, (shape, values) in initial_params(doc).items():
            self.shapes[n] = shape
            self.variables[n] = flavour.variable(self.array(values, shape), prefix + n)
            if flavour.dtype_of(self.variables[n]) != impl.dtype:
                raise RuntimeError(f"a {impl.dtype} variable became {flavour.dtype_of(self.variables[n])} on the "
                                   f"{flavour.backend()} backend")
        stream = gradient_stream(doc)
        self.stream = None if stream is None else {  # every step's gradient, converted once: (steps, *shape)
            n: self.array([v for step in stream for v in step[n]], (len(stream),) + shape)
            for n, shape in self.shapes.items()}
        lrs = step_lrs(doc)
        self.lrs = None if lrs is None else [row[0] for row in lrs]

    def _check_supported(self) -> None:
        """Unsupported where the vector needs a hyperparameter the profile's api does not take (a
        subclass that builds another optimizer decides this its own way: frameworks/keras_audit.py)."""
        for name in self.profile.unsupported:
            hyper = self.alg.hypers[name]
            if name in self.h and self.h[name] != hyper.parse(self.profile.fixed_value(hyper)):
                raise Unsupported(f"{self.profile.api} has no {name} (the profile lists it unsupported)")

    def build(self):
        cls, extra = resolve_api(self.profile.api)
        kwargs = optimizer_kwargs(self.doc, self.h, self.profile)
        if kwargs.get("weight_decay") == 0:
            # λ = 0 means no decay: Keras's None (the default of most, not of Muon, 0.004). An
            # explicit 0.0 still runs θ − θ·0·η, which turns an infinite parameter into NaN.
            kwargs["weight_decay"] = None
        if kwargs.get("ema_overwrite_frequency") == 0:
            # no overwrite is None: the jax backend tests `is not None` and then takes t % 0
            kwargs["ema_overwrite_frequency"] = None
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

        out = read_state(self.profile, lookup)
        for canonical, derive in DERIVED_STATE.get(self.alg.name, {}).items():
            if canonical in self.profile.state_names:
                out[canonical] = self.flavour.numpy(derive(self, opt, variable))
        return out

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

    def applier(self, opt, variables: list | None = None):
        """``apply(grads)``: one step of ``opt`` on the variables (a list of tensors, in the order
        of ``self.variables``, or of ``variables`` where a batch gives them) in this code path's
        form. The optimizer is built first, so a compiled form creates no variable while tracing."""
        variables = list(self.variables.values()) if variables is None else variables
        if not (getattr(opt, "built", False) or getattr(opt, "_built", False)):
            opt.build(variables)
        if self.form == EAGER:
            return lambda grads: opt.apply_gradients(list(zip(grads, variables)))
        if self.form in ("function", "xla"):
            import tensorflow as tf

            step = tf.function(lambda grads: opt.apply_gradients(list(zip(grads, variables))),
                               jit_compile=self.form == "xla")
            # traced once for the variables' shapes and dtype, then called as a concrete function
            # (no per-call signature matching)
            concrete = step.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in variables])
            return lambda grads: concrete(list(grads))
        if self.form == "jit":
            import jax

            step = jax.jit(opt.stateless_apply)

            def apply(grads):
                trainable, slots = step([v.value for v in opt.variables], list(grads), [v.value for v in variables])
                for variable, value in zip(variables, trainable):
                    variable.assign(value)
                for variable, value in zip(opt.variables, slots):
                    variable.assign(value)

            return apply
        if self.form == "compiled":
            import torch

            # one compilation per optimizer, as a Keras model compiles its train step once: dynamo
            # would stop compiling this code after its recompilation limit
            torch._dynamo.reset()
            return torch.compile(lambda grads: opt.apply(grads, variables))
        raise Unsupported(f"unknown form {self.form!r}")

    def feed(self, array):
        """A gradient array as the step takes it: jax.jit takes numpy arrays as they are (a Keras
        tensor conversion per variable and step cost the jit path about a tenth of its time); the
        other forms get the backend's tensor."""
        return array if self.form == "jit" else self.flavour.tensor(array)

    def run(self) -> list:
        opt = self.build()
        apply = self.applier(opt)
        names = list(self.variables)
        checkpoint = self.doc["inputs"].get("checkpoint_at")
        out = []
        for record in self.doc["steps"]:
            t = record["t"]
            lr = self.current_lr(opt)
            grads = self.gradient(t)
            apply([self.feed(grads[n]) for n in names])
            out.append({"t": t, "params": {n: self.flavour.numpy(v) for n, v in self.variables.items()},
                        "state": {n: self.state(opt, v) for n, v in self.variables.items()},
                        "lr": [lr] * self.groups})
            if checkpoint == t:
                opt = self.resume(opt)
                apply = self.applier(opt)
        return self.to_floats(out)

    def run_one_step(self) -> list:
        """Each step from the exact state of the step before, rounded to the dtype: one optimizer,
        built on the variables, whose parameters, state entries (by the profile's state names),
        step counter and learning rate are overwritten before every step (step 1: a fresh one)."""
        self.lrs = None  # the injected learning rate of each step replaces any schedule
        opt = self.build()
        apply = self.applier(opt)
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
            apply([self.flavour.tensor(grads[n]) for n in names])
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
            if canonical in DERIVED_STATE.get(self.alg.name, {}) or canonical in NOT_HELD.get(self.alg.name, ()):
                continue  # computed from the variable and the other entries, or not needed: held nowhere
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


# --- several optimizer vectors as one optimizer ---------------------------------------------------------


class _BatchRun:
    """Vectors of one algorithm, profile, code path and hyperparameters run as one optimizer over the
    variables of all of them (what a model with many layers does): one build, one trace or XLA
    compilation, one apply_gradients per step for all. A Keras optimizer updates each variable on
    its own (update_step(g, θ) casts to θ's dtype; the only optimizer-wide values are the step
    counter, the learning rate, and Nadam's _u_product, which is why Nadam batches only within one
    dtype), so each vector's trajectory is the one it has alone; tests/test_keras_backends.py
    checks that bit for bit. A vector with fewer steps than the longest gets zero gradients after
    its end; its values are read only up to its last step."""

    def __init__(self, members: list):
        self.members = members  # _OptimizerRun, one per vector, variables named m<i>_<name>

    def run(self) -> list:
        first = self.members[0]
        opt = first.build()
        variables = [v for m in self.members for v in m.variables.values()]
        apply = first.applier(opt, variables)
        lengths = [len(m.doc["steps"]) for m in self.members]
        outs: list = [[] for _ in self.members]
        zeros = {}
        for t in range(1, max(lengths) + 1):
            lr = first.current_lr(opt)
            grads = []
            for i, m in enumerate(self.members):
                if t <= lengths[i]:
                    g = m.gradient(t)
                else:
                    if i not in zeros:
                        zeros[i] = {n: m.np.zeros(shape, dtype=m.dtype) for n, shape in m.shapes.items()}
                    g = zeros[i]
                grads += [m.feed(g[n]) for n in m.variables]
            apply(grads)
            for i, m in enumerate(self.members):
                if t <= lengths[i]:
                    outs[i].append({"t": m.doc["steps"][t - 1]["t"],
                                    "params": {n: m.flavour.numpy(v) for n, v in m.variables.items()},
                                    "state": {n: m.state(opt, v) for n, v in m.variables.items()},
                                    "lr": [lr] * m.groups})
        return [m.to_floats(out) for m, out in zip(self.members, outs)]

