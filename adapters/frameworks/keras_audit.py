"""``optconform audit`` of a Keras 3 target: any ``Name(**kwargs)`` that returns a
``keras.optimizers.Optimizer``, or a ``keras.optimizers.schedules.LearningRateSchedule`` subclass
``Name(**kwargs)``.

The target is built as DESIGN.md says, with the keywords of the audit's mapping
(adapters/audit.py: ``build_kwargs``; only the required ones in the ``defaults`` scenario) and its
fixed options, and driven exactly as the keras adapter drives Keras's own optimizers
(frameworks/keras_adapter.py): one optimizer over the vector's variables,
``apply_gradients([(g_t, θ), ...])`` per step, the learning rate read before the step, a scheduled
vector's η_t given as a LearningRateSchedule over a float32 table (as Keras evaluates any
schedule), state read by the keras profile's state names (``momentums``, ``velocities``, ...)
where the target has them, the ``resume`` scenario through ``save_own_variables`` /
``load_own_variables`` into a fresh instance. λ = 0 of a weight-decay keyword whose default is
None (Keras's "no decay") leaves the keyword out, as the keras adapter does: an explicit 0.0
still computes θ − θ·0·η, NaN for an infinite θ. A schedule target is called with the update
index k (keras_schedules.run_schedule); its mapped ``lr`` keyword (``initial_learning_rate``,
whose dtype the schedule computes in) is a numpy scalar of the dtype, the others Python values.

One code path: the backend Keras is imported with (KERAS_BACKEND, else Keras's configuration;
TensorFlow by default), in the form its trainer runs a step by default — ``tensorflow-function``
(``model.fit``'s tf.function on a CPU), ``jax-jit`` (the jitted ``stateless_apply``),
``torch-eager`` (the torch trainer is eager unless ``jit_compile=True``); schedules in
keras_schedules.form (jit on jax, eager elsewhere). The other forms of the keras adapter would
each double the audit's cases (a trace or compilation per vector) without telling more about the
target's semantics; ``optconform check --adapter keras`` covers them for Keras's own optimizers.
Dtypes float64 and float32, device cpu. Workers start on that backend
(``worker_environment``); vectors run one by one (the keras adapter's batches assume Keras's
per-variable updates, which a target need not have).

Precision: a case of a keras profile's vector is held to that profile as declared, its
precision effects included (Keras's float32 learning-rate variable, β cast through float32 on
TensorFlow, ...: a Keras target conforms to the keras profile when it computes what
``optconform check --adapter keras`` accepts); cases of other profiles are held to the exact
reference. The keras profiles come first, so a vector they share with another profile is checked
as the keras profile declares it.
"""
from __future__ import annotations

from optconform.reference.model import get

from .keras_adapter import KerasAdapter, _OptimizerRun
from ..audit import (NOT_APPLICABLE, AuditAdapter, AuditConfig, build_kwargs, first_line, framework_profile,
                     import_target)
from ..protocol import AdapterRun, Implementation, Unsupported

FRAMEWORK = "keras"
DTYPES = ("float64", "float32")
DEVICE = "cpu"
# the form a backend's trainer runs an optimizer step in by default (keras_adapter.FORMS)
TRAINER_FORM = {"tensorflow": "function", "jax": "jit", "torch": "eager"}


def _backend() -> str:
    """The backend of this process's Keras (importing it quietly if the target did not)."""
    return KerasAdapter.flavour.backend()


def code_paths(parameters: set) -> dict:
    """The one code path of a Keras optimizer target: ``<backend>-<trainer form>`` (no keywords)."""
    backend = _backend()
    return {f"{backend}-{TRAINER_FORM[backend]}": {}}


def schedule_code_paths(algorithm: str) -> dict:
    """The code path of a Keras schedule target: ``<backend>-<form>`` (keras_schedules.form)."""
    from .keras_schedules import form

    backend = _backend()
    return {f"{backend}-{form(algorithm, backend)}": {}}


def driven(algorithm: str) -> set:
    """Canonical hyperparameters set without a keyword: none."""
    return set()


def check_kind(config: AuditConfig) -> None:
    """Raise ValueError unless ``Name(**required keywords)`` builds what the algorithm is: a Keras 3
    ``keras.optimizers.Optimizer`` for an optimizer, a ``LearningRateSchedule`` for a schedule."""
    keras = KerasAdapter.flavour.module
    optimizer_cls, schedule_cls = keras.optimizers.Optimizer, keras.optimizers.schedules.LearningRateSchedule
    target = import_target(config.target)
    kind = get(config.algorithm).kind
    if isinstance(target, type):
        if kind == "schedule" and issubclass(target, optimizer_cls):
            raise ValueError(f"{config.target} is an optimizer; {config.algorithm} is a schedule")
        if kind == "optimizer" and issubclass(target, schedule_cls):
            raise ValueError(f"{config.target} is a schedule; {config.algorithm} is an optimizer")
    if not callable(target):
        raise ValueError(f"{config.target} is a {type(target).__name__}, not callable")
    kwargs = config.probe_kwargs()
    try:
        built = target(**kwargs)
    except Exception as exc:  # noqa: BLE001 - reported as the reason it cannot run
        raise ValueError(f"{config.target}(**{kwargs}) raised {type(exc).__name__}: {first_line(exc)}") from None
    module = (type(built).__module__ or "").split(".")[0]
    keras2 = " (a tf_keras object: the keras audit drives Keras 3)" if module == "tf_keras" else ""
    if kind == "optimizer":
        if not isinstance(built, optimizer_cls):
            raise ValueError(f"{config.target} built a {type(built).__name__}, not a keras.optimizers.Optimizer"
                             f"{keras2}: {config.algorithm} is an optimizer")
        return
    if isinstance(built, optimizer_cls):
        raise ValueError(f"{config.target} is an optimizer; {config.algorithm} is a schedule")
    if not isinstance(built, schedule_cls):
        raise ValueError(f"{config.target} built a {type(built).__name__}, not a "
                         f"keras.optimizers.schedules.LearningRateSchedule{keras2}: {config.algorithm} is a schedule")


class KerasAuditAdapter(AuditAdapter, KerasAdapter):
    """The adapter protocol around one audit target (``name`` is the audit's registry name); a
    schedule runs in both dtypes (Keras computes a schedule in its variables' dtype)."""

    batches = False
    SCHEDULE_DTYPES = DTYPES

    def paths_for(self, algorithm: str, profile: str) -> list[str]:
        return self.code_paths(algorithm)

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str | None = None) -> dict:
        """A keras profile's declared effects on this backend and form; none for other profiles."""
        prof = framework_profile(algorithm, profile or FRAMEWORK, FRAMEWORK)
        return {} if prof is None else super().precision_effects(algorithm, impl, prof.name)

    def _check(self, doc: dict, impl: Implementation) -> str:
        """The form of ``impl``'s code path, after putting this process's Keras on its backend."""
        if impl.dtype not in DTYPES or impl.device != DEVICE:
            raise Unsupported(f"an audit runs {', '.join(DTYPES)} on the {DEVICE}, not {impl.dtype} on {impl.device}")
        backend, form = self.flavour.split(impl.code_path)
        self.flavour.use_backend(backend)
        return form

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        self.config.applicable(doc)
        form = self._check(doc, impl)
        notes = [f"keras {self.version()}"]
        if doc["kind"] == "schedule":
            from .keras_schedules import run_schedule

            profile = get(doc["algorithm"]).profiles[doc.get("profile") or FRAMEWORK]
            return AdapterRun(run_schedule(doc, profile, self.flavour, impl.dtype, form,
                                           builder=lambda h, dtype: self._schedule(h, dtype, doc)), notes=notes)
        return AdapterRun(_AuditRun(doc, impl, self.flavour, self.config, form).run(), notes=notes)

    def _schedule(self, h, dtype: str, doc: dict):
        from .keras_schedules import _scalar

        target = import_target(self.config.target)
        kwargs = build_kwargs(self.config, h, doc["scenario"])
        lr = self.config.mapping.get("lr")
        if lr in kwargs:
            kwargs[lr] = _scalar(dtype)(kwargs[lr])  # the dtype the schedule computes in
        kwargs.update(self.config.options)
        try:
            return target(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the constructor refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {self.config.target}(**{kwargs}) raised "
                              f"{type(exc).__name__}: {first_line(exc)}") from None


class _AuditRun(_OptimizerRun):
    """One vector through the target, as the keras adapter runs Keras's own optimizers."""

    def __init__(self, doc: dict, impl: Implementation, flavour, config: AuditConfig, form: str):
        self.config = config
        alg = get(doc["algorithm"])
        # the state is read by the keras profile's names (what a Keras-style target calls them)
        own = FRAMEWORK if FRAMEWORK in alg.profiles else doc.get("profile")
        super().__init__(dict(doc, profile=own), impl, flavour, FRAMEWORK, form)

    def _check_supported(self) -> None:
        pass  # the audit's mapping decides what applies (AuditConfig.applicable)

    def build(self):
        config = self.config
        kwargs = build_kwargs(config, self.h, self.doc["scenario"])
        decay = config.mapping.get("weight_decay")
        if decay in kwargs and kwargs[decay] == 0 and decay in config.target_defaults \
                and config.target_defaults[decay] is None:
            del kwargs[decay]  # λ = 0: the target's own None, no decay at all (module docstring)
        if self.lrs is not None and config.mapping.get("lr"):
            kwargs[config.mapping["lr"]] = self.flavour.table(self.lrs)
        kwargs.update(config.options)
        try:
            return import_target(config.target)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the constructor refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {config.target} raised {type(exc).__name__} for "
                              f"{kwargs}: {first_line(exc)}") from None


__all__ = ["KerasAuditAdapter", "check_kind", "code_paths", "driven", "schedule_code_paths"]
