"""``optconform audit`` of an optax target: any factory ``Name(**kwargs)`` that returns an
``optax.GradientTransformation`` (an optimizer) or a function of the step (a schedule).

The target is built as DESIGN.md says, with the keywords of the audit's mapping
(adapters/audit.py: ``build_kwargs``; only the required ones in the ``defaults`` scenario) and
its fixed options, and driven exactly as the optax adapter drives optax's own optimizers
(frameworks/optax_adapter.py): per parameter group ``tx = Name(**keywords)`` (several groups
through ``optax.multi_transform``), ``u, s = tx.update(g, s, θ)``, ``θ = optax.apply_updates(θ, u)``;
the learning rate of a scheduled vector is the step's value of the mapped ``lr`` keyword; state is
read by the optax profile's state names (``mu``, ``nu``, ...) at the leaves
``<field>[<parameter>]`` of the target's state where it has them; the ``resume`` scenario saves
every state leaf with np.savez and loads them into a fresh ``tx.init``. What is audit only:

* code paths ``jit`` (the update under ``jax.jit``: numeric hyperparameters traced, as the optax
  adapter amortizes compilation — a target that branches on a hyperparameter's value in Python is
  rebuilt with them as constants, as a user's closure holds them; the learning rate stays a traced
  argument, as it changes at every step of a scheduled vector) and ``eager`` (op by op);
  dtypes float64 (jax x64 on, as the optax adapter enables it) and float32 (x64 off); the CPU;
* a schedule target ``Name(**kwargs)`` is evaluated at every update count k on the optax
  schedules' code paths ``jit`` and ``eager`` (optax_schedules.run_schedule), in float64;
* a vector that needs a hyperparameter the target has no keyword for, away from its neutral
  value, is ``not applicable``; a constructor that raises on the vector's values likewise.

An optax profile's vectors come with that profile's declared precision effects (conforming to it
includes them); other profiles' vectors are exact, and a narrower arithmetic is diagnosed.
"""
from __future__ import annotations

from optconform.reference.model import get

from . import optax_schedules
from .optax_adapter import CODE_PATHS, PROFILE, OptaxAdapter, _OptimizerRun, _timed
from ..audit import (NOT_APPLICABLE, AuditAdapter, AuditConfig, build_kwargs, first_line, framework_profile,
                     import_target)
from ..protocol import AdapterRun, Implementation, Unsupported

# optax_schedules' code paths but the count optax keeps inside an optimizer (schedule_code_paths)
SCHEDULE_PATHS = tuple(p for p in optax_schedules.CODE_PATHS if p != "scale_by_schedule")


def code_paths(parameters: set) -> dict:
    """The code paths of an optax optimizer target: {name: keywords} (none: the path is how the
    update is called, not a keyword of the target)."""
    return {path: {} for path in CODE_PATHS}


def schedule_code_paths(algorithm: str) -> dict:
    """The code paths of an optax schedule target: ``schedule(k)`` under ``jax.jit`` and called
    directly (``scale_by_schedule``, the int32 count inside an optimizer, is optax's own choice
    of count dtype, not the schedule's: the optax adapter checks it for optax's schedules)."""
    return {path: {} for path in SCHEDULE_PATHS}


def driven(algorithm: str) -> set:
    """Canonical hyperparameters set without a keyword: none (a schedule's base rate is its own
    keyword, ``init_value``)."""
    return set()


def check_kind(config: AuditConfig) -> None:
    """Raise ValueError unless ``Name(**required keywords)`` builds what the algorithm is: an
    ``optax.GradientTransformation`` for an optimizer, a function of the step giving a number for a
    schedule."""
    from .optax_adapter import _jax

    _, _, np, optax = _jax()
    target = import_target(config.target)
    alg = get(config.algorithm)
    if not callable(target):
        raise ValueError(f"{config.target} is a {type(target).__name__}, not a factory of an optax "
                         f"{'GradientTransformation' if alg.kind == 'optimizer' else 'schedule'}")
    kwargs = config.probe_kwargs()
    try:
        built = target(**kwargs)
    except Exception as exc:  # noqa: BLE001 - reported as the reason it cannot run
        raise ValueError(f"{config.target}(**{kwargs}) raised {type(exc).__name__}: {first_line(exc)}") from None
    transformation = isinstance(built, optax.GradientTransformation)
    if alg.kind == "optimizer":
        if not transformation:
            raise ValueError(f"{config.target} built a {type(built).__name__}, not an optax.GradientTransformation: "
                             f"{config.algorithm} is an optimizer")
        return
    if transformation:
        raise ValueError(f"{config.target} is an optimizer (it returns an optax.GradientTransformation); "
                         f"{config.algorithm} is a schedule")
    if not callable(built):
        raise ValueError(f"{config.target} built a {type(built).__name__}, not a schedule (a function of the step)")
    try:
        float(np.asarray(built(0)))
    except Exception as exc:  # noqa: BLE001 - reported as the reason it cannot run
        raise ValueError(f"the schedule {config.target} built gives no number at step 0: "
                         f"{type(exc).__name__}: {first_line(exc)}") from None


class OptaxAuditAdapter(AuditAdapter, OptaxAdapter):
    """The adapter protocol around one audit target (``name`` is the audit's registry name)."""

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str = PROFILE) -> dict:
        """An optax profile's declared effects on its vectors; none on other profiles' (audit.framework_profile)."""
        if framework_profile(algorithm, profile, "optax") is None:
            return {}
        return super().precision_effects(algorithm, impl, profile)

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        self.config.applicable(doc)
        if doc["kind"] == "schedule":
            return AdapterRun(_timed(lambda: optax_schedules.run_schedule(
                doc, impl, builder=lambda h: self._schedule(h, doc))))
        return _timed(lambda: _AuditRun(doc, impl, self.config).run())

    def _schedule(self, h, doc: dict):
        target = import_target(self.config.target)
        kwargs = {**build_kwargs(self.config, h, doc["scenario"]), **self.config.options}
        try:
            return target(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the factory refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {self.config.target}(**{kwargs}) raised "
                              f"{type(exc).__name__}: {first_line(exc)}") from None


class _AuditRun(_OptimizerRun):
    """One vector through the target, as the optax adapter runs optax's own optimizers."""

    def __init__(self, doc: dict, impl: Implementation, config: AuditConfig):
        self.config = config
        alg = get(doc["algorithm"])
        # the state is read by the optax profile's names (what an optax-style target calls them)
        own = PROFILE if PROFILE in alg.profiles else doc.get("profile")
        super().__init__(dict(doc, profile=own), impl)
        self.lr_name = config.mapping.get("lr")

    def transformation(self) -> tuple:
        """The target itself; its fixed options come with the keywords (:meth:`keywords`)."""
        return import_target(self.config.target), {}

    def _check_supported(self, h) -> None:
        pass  # the audit's mapping decides what applies (AuditConfig.applicable)

    def keywords(self, h) -> dict:
        return {**build_kwargs(self.config, h, self.doc["scenario"]), **self.config.options}

    def structure_key(self) -> tuple:
        return (self.config.target,) + super().structure_key()

    def transform(self, numeric: list, lrs: list | None):
        try:
            return super().transform(numeric, lrs)
        except self.jax.errors.ConcretizationTypeError:
            raise  # traced hyperparameters the target branches on: run() retries with constants
        except Exception as exc:  # noqa: BLE001 - the factory refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {self.config.target} raised {type(exc).__name__} for "
                              f"{self.keywords(self.hypers[0])}: {first_line(exc)}") from None

    def run(self) -> AdapterRun:
        try:
            return super().run()
        except self.jax.errors.ConcretizationTypeError:
            if not any(self.numeric) or self.impl.code_path != "jit":
                raise
        # the target branches on a hyperparameter's value in Python (``if weight_decay: ...``):
        # every hyperparameter becomes a constant of the compiled step, as in a user's closure
        self.static = [{**static, **numeric} for static, numeric in zip(self.static, self.numeric)]
        self.numeric = [{} for _ in self.numeric]
        return super().run()


__all__ = ["OptaxAuditAdapter", "check_kind", "code_paths", "driven", "schedule_code_paths"]
