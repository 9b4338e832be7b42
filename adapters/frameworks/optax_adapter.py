"""The optax adapter: every optax optimizer the spec has a profile for, and (through
optax_schedules) every optax schedule.

Implementations (each reported separately): code paths ``jit`` (the update under ``jax.jit``, as a
training step runs it) and ``eager`` (``tx.update`` called op by op: every primitive is its own XLA
program, rounded to the dtype in between); devices ``cpu`` and ``gpu`` when jax sees one; dtypes
float64, float32, bfloat16, float16. Schedules run on the CPU in float64 on the code paths
optax_schedules lists (``jit``, ``eager``, ``scale_by_schedule``). Profiles of jax.example_libraries
(the profiles of framework optax whose api is not optax's) run as the code path ``example_libraries``
(module jax_example_libraries, imported when needed); optax's API variants (``optax_w``:
optax.nadamw, optax.adamaxw) run on optax's own paths.

One step of an optimizer vector, for the parameters θ (a dict of arrays, the vector's shapes) and
the gradient g_t (the vector's, or ∇f(θ_{t−1}) of its closed-loop objective, computed in the dtype
by engine.closed_loop_gradient inside the step)::

    tx          = <profile api>(**keywords)          one transformation per parameter group,
                                                     optax.multi_transform over the groups
    u_t, s_t    = tx.update(g_t, s_{t−1}, θ_{t−1})
    θ_t         = optax.apply_updates(θ_{t−1}, u_t)  (θ + u, cast back to θ's dtype)

Keywords come from the profile (engine.optimizer_kwargs: only ``required`` ones in the
``defaults`` scenario; :data:`CONVERTED` where optax's keyword is not a renaming); η_t of a
scheduled vector is the step's learning rate argument.

Precision, as a user gets it: float32, bfloat16 and float16 run with ``jax_enable_x64`` off, and
the hyperparameters are Python floats — weakly typed, so β·m stays in the parameters' dtype; float64
runs with ``jax_enable_x64`` on (:func:`precision_context`, a context around each case; jax keys its
compilation caches on it), so nothing silently becomes float32.

Compilation is amortized: the jitted step takes the numeric hyperparameters and the step's learning
rates as traced, weakly typed scalars, so every case of one structure — algorithm, profile, shapes,
parameter groups, the keyword set and its non-numeric values, objective, dtype, device — runs one
compiled step, called once per step from Python (a scan over the steps would make the step count
part of the structure too: 802 structures instead of 606 over the shipped vectors). A
hyperparameter equal to 0 stays a Python constant (part of the structure): optax skips work on a
constant zero (add_decayed_weights returns the updates untouched for weight_decay == 0.0), where a
traced zero would add 0·θ, NaN for a NaN θ. jax's persistent compilation cache
(compile_caches) keeps the executables for the next run. :func:`stats` reports the
compilations and the seconds spent tracing, lowering and compiling.

State is read back by the profile's ``state_names`` (canonical → the optax state field, e.g.
exp_avg = ``mu``; ``-trace``: optax holds the entry negated) from the state pytree: the leaf at
``<field>[<parameter>]`` of the (nested) NamedTuple states (:data:`STATE_LABELS` where the field's
meaning depends on the parameter's shape), or the float scalar leaf at ``<field>`` of a parameter
group's state (schedule_free's ``weight_sum``); entries optax computes on request rather than holds
(schedule_free_eval_params' x) by :data:`DERIVED_STATE`. An api that is not a GradientTransformation of the
profile's keywords by itself (optax.lookahead around optax.sgd; optax.incremental_update, which a training
loop calls on its own copy of the weights) is built by a :data:`WRAPPED_APIS` factory whose state carries
the second set of weights (the slow weights, the average) as a field the profile's state names read
(optax.ema, which has no learning rate, is chained with optax.scale_by_learning_rate). The jitted step returns the parameters and
those leaves raveled into one array, so one host transfer per step reads everything. One-step mode
writes the injected state into a fresh state pytree at the same leaves, and every integer scalar
leaf (the step counts) to its initial value plus t − 1. The ``resume`` scenario saves the
parameters and every leaf of the state pytree after the checkpoint step with np.savez (raw bytes,
dtype name, shape: bfloat16 survives), loads them into the structure of a fresh ``tx.init`` and
goes on.
"""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import time
from contextlib import contextmanager
from typing import Any, NamedTuple

from optconform.reference.model import algorithms, get, precision_effects

from ..protocol import AdapterRun, Implementation, Unsupported
from .compile_caches import use_jax_cache
from .engine import (closed_loop_gradient, gradient_stream, initial_params, optimizer_kwargs, pyvalue, resolve_api,
                     state_name, step_lrs)

DTYPES = ("float64", "float32", "bfloat16", "float16")
CODE_PATHS = ("jit", "eager")
# Run op by op, optax.contrib.muon's Newton–Schulz iteration (jax 0.10.2 on the CPU) compiles one
# small XLA executable per operation, shape and dtype, and their memory mappings are never released:
# a worker that runs the muon matrix eagerly ends in SIGSEGV once the process's map count is spent,
# taking the cases that share it along. Muon runs jitted only (profiles/muon.toml, optax notes).
NO_EAGER = {"muon"}
EXAMPLE_LIBRARIES = "example_libraries"
PROFILE = "optax"

# optax keywords that are not a plain renaming of one canonical hyperparameter:
# canonical -> (optax keyword, conversion of the canonical value)
CONVERTED = {
    "adafactor": {"beta2_decay": ("decay_rate", lambda v: -v)},  # optax takes the exponent's negative
    "adopt": {"unclipped": ("use_clipping", lambda v: not v)},  # optax's flag says the opposite
    # no warmup is None: warmup_steps=0 builds warmup_constant_schedule(0, η, 0), a zero learning rate
    "schedule_free_sgd": {"warmup_steps": ("warmup_steps", lambda v: v or None)},
    "schedule_free_adamw": {"warmup_steps": ("warmup_steps", lambda v: v or None)},
    "ema": {"decay": ("step_size", lambda v: 1.0 - v)},  # incremental_update's weight of the new value
}


# --- jax, imported once, quietly ------------------------------------------------------------------

_JAX: dict = {}


def _jax():
    """jax and optax, imported once with the platform logs kept off the user's terminal."""
    if not _JAX:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        for name in ("jax._src.xla_bridge", "jax._src.cloud_tpu_init", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)
        import jax
        import jax.numpy as jnp
        import numpy as np
        import optax

        _JAX.update(jax=jax, jnp=jnp, np=np, optax=optax)
        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        use_jax_cache(jax)
    return _JAX["jax"], _JAX["jnp"], _JAX["np"], _JAX["optax"]


@contextmanager
def precision_context(dtype: str, device: str = "cpu"):
    """x64 on for float64 (else float64 arrays silently become float32), off for the other dtypes
    (hyperparameters then stay weakly typed float32, as in a user's program); the device as the
    default device."""
    jax, _, _, _ = _jax()
    with jax.enable_x64(dtype == "float64"):
        with jax.default_device(_device(device)):
            yield


def _device(device: str):
    jax, _, _, _ = _jax()
    try:
        return jax.devices(device)[0]
    except RuntimeError:
        raise Unsupported(f"jax sees no {device} device") from None


# --- compilation accounting -----------------------------------------------------------------------

_STATS = {"compilations": 0, "compile_seconds": 0.0, "traces": 0, "xla_compilations": 0, "jax_compile_seconds": 0.0,
          "run_seconds": 0.0, "runs": 0, "evictions": 0}
_COMPILED: dict = {}  # structure key -> _Step, least recently used first
# A loaded XLA executable holds memory mappings until it is dropped, and a process may have 65,530:
# a long-lived process (a pytest worker running the whole optax matrix) that kept every step it
# compiled died in SIGSEGV inside jax's compilation cache. At most MAX_PROGRAMS steps are kept;
# past that the least recently used half is dropped and jax's own caches (the eager path's
# per-primitive programs) are cleared (_remember).
MAX_PROGRAMS = 256
_LAYOUTS: dict = {}  # structure key -> where the state entries are in the pytree
# jax's own monitoring events: tracing, lowering and XLA compilation of anything (the jitted step,
# and on the eager path every primitive the first time it meets a shape and dtype)
_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")
STATS_ENV = "OPTCONFORM_OPTAX_STATS"


def _on_duration(event: str, seconds: float, **_) -> None:
    if event in _COMPILE_EVENTS:
        _STATS["jax_compile_seconds"] += seconds
        if event == _COMPILE_EVENTS[-1]:
            _STATS["xla_compilations"] += 1


def stats() -> dict:
    """What this process spent on compiling: ``compilations`` of the jitted step (one per
    structure) and ``compile_seconds`` on them; ``traces`` of the step function (equal to
    ``compilations`` when nothing is retraced); ``xla_compilations`` and ``jax_compile_seconds``:
    everything jax traced, lowered and compiled (eager primitives included, as jax's monitoring
    events report them); ``runs`` and ``run_seconds``: optimizer vectors run and their time."""
    return dict(_STATS, structures=len(_COMPILED))


def _publish_stats() -> None:
    """With ``OPTCONFORM_OPTAX_STATS=DIR`` set, write this process's :func:`stats` to
    DIR/<pid>.json after every run (benchmarks/optax_check_bench.py sums the workers')."""
    directory = os.environ.get(STATS_ENV)
    if directory:
        path = os.path.join(directory, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as fh:
            json.dump(stats(), fh)
        os.replace(path + ".tmp", path)


def _remember(key, step: "_Step") -> None:
    """Keep ``step``; past :data:`MAX_PROGRAMS` drop the least recently used half of the kept steps
    and clear jax's caches, so their executables and memory mappings are released."""
    if len(_COMPILED) >= MAX_PROGRAMS:
        for old in list(_COMPILED)[:MAX_PROGRAMS // 2]:
            del _COMPILED[old]
            _STATS["evictions"] += 1
        _jax()[0].clear_caches()
    _COMPILED[key] = step


class _Step:
    """One structure's jitted step: compiled explicitly (lower + compile, timed) on first use, then
    called directly. Arguments whose types differ from the first call's (a state leaf weakly typed
    by ``init`` but not by the step) go through ``jax.jit``, which traces again (counted)."""

    def __init__(self, fn):
        jax, _, _, _ = _jax()
        self.jitted = jax.jit(fn)
        self.compiled = None

    def __call__(self, *args):
        if self.compiled is None:
            start = time.perf_counter()
            self.compiled = self.jitted.lower(*args).compile()
            _STATS["compilations"] += 1
            _STATS["compile_seconds"] += time.perf_counter() - start
        try:
            return self.compiled(*args)
        except TypeError:
            return self.jitted(*args)


# --- the adapter ----------------------------------------------------------------------------------


def _example_libraries():
    """jax_example_libraries, imported when a case needs it (it imports this module)."""
    from . import jax_example_libraries

    return jax_example_libraries


def _schedules():
    """optax_schedules, imported when a case needs it (it imports this module)."""
    from . import optax_schedules

    return optax_schedules


def _schedule_paths(algorithm: str) -> list[str]:
    """The schedule code paths optax_schedules offers for the algorithm."""
    return list(_schedules().code_paths(algorithm))


def _example_profiles() -> dict:
    return dict(_example_libraries().PROFILES)


def _own(profile) -> bool:
    """Whether a profile is one of optax's own optimizers, which the ``jit`` and ``eager`` paths
    run: ``optax`` and the API variants whose ``api`` is optax's (``optax_w`` = optax.nadamw,
    optax.adamaxw), not jax.example_libraries'."""
    return profile.name == PROFILE or (profile.framework == "optax" and profile.api.startswith("optax."))


class OptaxAdapter:
    name = "optax"
    framework = "optax"
    can_inject_state = True

    def available(self) -> tuple[bool, str]:
        for module in ("jax", "optax"):
            if importlib.util.find_spec(module) is None:
                return False, f"{module} is not installed (pip install 'optconform[jax]')"
        return True, ""

    def version(self) -> str:
        jax, _, _, optax = _jax()
        return f"optax {optax.__version__}, jax {jax.__version__}"

    def devices(self) -> list[str]:
        """``cpu``, and ``gpu`` when jax sees one (asked once per process)."""
        if "devices" not in _JAX:
            jax, _, _, _ = _jax()
            try:
                gpu = bool(jax.devices("gpu"))
            except RuntimeError:
                gpu = False
            _JAX["devices"] = ["cpu"] + (["gpu"] if gpu else [])
        return list(_JAX["devices"])

    def profiles(self) -> dict[str, list]:
        """Every profile whose framework is optax: ``optax`` and those jax.example_libraries runs."""
        example = _example_profiles()
        out = {}
        for name, alg in algorithms().items():
            mine = [p for p, prof in alg.profiles.items() if prof.framework == "optax"
                    and (_own(prof) or example.get(name) == p)]
            if mine:
                out[name] = mine
        return out

    def code_paths(self, algorithm: str) -> list[str]:
        if get(algorithm).kind == "schedule":
            return _schedule_paths(algorithm)
        return [p for p in CODE_PATHS if not (p == "eager" and algorithm in NO_EAGER)]

    def default_code_path(self, algorithm: str, profile: str | None = None) -> str:
        """``jit``: how optax is run in a training step, and how a schedule is evaluated (the
        float64 profile confirmation runs it); ``example_libraries`` for a profile of
        jax.example_libraries (a profile of framework optax whose api is not optax's)."""
        if profile and profile != PROFILE and not _own(get(algorithm).profiles[profile]):
            return EXAMPLE_LIBRARIES
        return "jit"

    def implementations(self, algorithm: str) -> list[Implementation]:
        return self.implementations_for(algorithm, PROFILE)

    def implementations_for(self, algorithm: str, profile: str) -> list[Implementation]:
        """The implementations that run ``profile``'s vectors: optax's own code paths for the
        ``optax`` profile and its API variants (schedules: float64 on the CPU), the code path ``example_libraries`` for
        the profile jax.example_libraries implements (its ``dtypes(algorithm)``)."""
        if profile != PROFILE and not _own(get(algorithm).profiles[profile]):
            module = _example_libraries()
            if module.PROFILES.get(algorithm) != profile:
                return []
            return [Implementation(self.name, EXAMPLE_LIBRARIES, "cpu", d) for d in module.dtypes(algorithm)]
        if get(algorithm).kind == "schedule":
            return [Implementation(self.name, path, "cpu", "float64") for path in _schedule_paths(algorithm)]
        return [Implementation(self.name, path, device, dtype)
                for path in self.code_paths(algorithm) for device in self.devices() for dtype in DTYPES]

    def affinity(self, impl: Implementation) -> tuple:
        """What this adapter's compiled programs are keyed on beyond the algorithm (the worker pool
        keeps a worker to one): the code path and the dtype — eager jax compiles every primitive
        per shape and dtype, so a worker that runs one dtype's cases compiles them once."""
        return (impl.code_path, impl.dtype)

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str = PROFILE) -> dict:
        """The profile's declared precision effects that apply to this implementation."""
        return precision_effects(get(algorithm).profiles[profile], impl.code_path, impl.dtype, device=impl.device)

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        if impl.code_path == EXAMPLE_LIBRARIES:
            return _example_libraries().run(doc, impl)
        if doc["kind"] == "schedule":
            module = _schedules()
            if impl.code_path not in _schedule_paths(doc["algorithm"]):
                raise Unsupported(f"optax has no schedule code path {impl.code_path!r} for {doc['algorithm']}")
            return AdapterRun(_timed(lambda: module.run_schedule(doc, impl)))
        return _timed(lambda: _OptimizerRun(doc, impl).run())

    def run_one_step(self, doc: dict, impl: Implementation) -> AdapterRun:
        """One-step mode (reference/onestep.py): ``doc`` carries, per step, the state to inject."""
        if doc["kind"] != "optimizer":
            raise Unsupported("one-step mode applies to optimizers only")
        if impl.code_path not in CODE_PATHS:
            raise Unsupported(f"one-step mode is not offered for the {impl.code_path} path")
        return _timed(lambda: _OptimizerRun(doc, impl).run_one_step())


def _timed(run):
    start = time.perf_counter()
    try:
        return run()
    finally:
        _STATS["runs"] += 1
        _STATS["run_seconds"] += time.perf_counter() - start
        _publish_stats()


# --- one optimizer vector -------------------------------------------------------------------------


def _adafactor_labels(run, name: str) -> dict:
    """optax factors a matrix over its two largest dims (d1, d0) = _factored_dims: v_row is the
    mean over d0 (the largest), v_col over d1. The reference's row statistic is the mean over the
    last dim; where the largest dim is the second-to-last one (shape (3, 2)) optax's v_row is the
    reference's column statistic and v_col its row statistic."""
    from optax._src.factorized import _factored_dims

    shape = run.shapes[name]
    minimum = run.static[run.group_of[name]].get("min_dim_size_to_factor", 128)
    dims = _factored_dims(shape, True, minimum)
    if dims is None or tuple(dims) != (len(shape) - 1, len(shape) - 2):
        return {}
    return {"v_row": "exp_avg_sq_col", "v_col": "exp_avg_sq_row"}


# per-parameter relabelling of optax state fields, where it depends on the parameter
STATE_LABELS = {"adafactor": _adafactor_labels}


def _schedule_free_eval(run, state, params) -> dict:
    """x = optax.contrib.schedule_free_eval_params of each parameter group's ScheduleFreeState (one
    per group under multi_transform, whose masked z holds only the group's parameters)."""
    contrib = run.optax.contrib
    out = {}
    for sub in run.jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, contrib.ScheduleFreeState)):
        if isinstance(sub, contrib.ScheduleFreeState):
            z = {n: sub.z[n] for n in run.names if hasattr(sub.z.get(n), "shape")}
            out.update(contrib.schedule_free_eval_params(sub._replace(z=z), {n: params[n] for n in z}))
    return out


# state entries optax holds nowhere but computes from the state and the parameters on request:
# canonical name -> function(run, state, params) -> {parameter: array}; read, never injected
DERIVED_STATE = {"schedule_free_sgd": {"x": _schedule_free_eval}, "schedule_free_adamw": {"x": _schedule_free_eval}}

class _LookaheadSlow(NamedTuple):
    """optax.lookahead's state with the slow half of LookaheadParams beside it (:func:`_lookahead`)."""

    lookahead: Any
    slow: Any


def _lookahead(lookahead):
    """A factory of ``lookahead(optax.sgd(learning_rate, momentum), sync_period, slow_step_size,
    **options)`` whose parameters are the fast weights alone: optax.lookahead takes and moves
    LookaheadParams(fast, slow), so the slow half rides in the state (field ``slow``) and is moved by
    optax.apply_updates(slow, updates.slow), while the adapter applies updates.fast to the fast
    weights — each half the arithmetic of a user's apply_updates on LookaheadParams, leaf by leaf.
    The gradient is taken at the fast weights, as optax.lookahead asks."""
    optax = _jax()[3]

    def factory(learning_rate, sync_period, slow_step_size, momentum=None, **options):
        tx = lookahead(optax.sgd(learning_rate, momentum), sync_period, slow_step_size, **options)

        def init(params):
            return _LookaheadSlow(tx.init(optax.LookaheadParams.init_synced(params)), params)

        def update(grads, state, params):
            both = optax.LookaheadParams(fast=params, slow=state.slow)
            updates, inner = tx.update(grads, state.lookahead, both)
            return updates.fast, _LookaheadSlow(inner, optax.apply_updates(state.slow, updates.slow))

        return optax.GradientTransformation(init, update)

    return factory


class _AverageState(NamedTuple):
    """optax.sgd's state with the parameter average a user keeps beside it (:func:`_averaged`)."""

    inner: Any
    average: Any


def _averaged(incremental_update):
    """A factory of optax.sgd(learning_rate) whose state carries the average a user keeps:
    ``average = incremental_update(new_params, average, step_size)`` after every update, from
    ``average = params`` at init (reference/optimizers/ema.py, ema_start = initial). The new
    parameters are optax.apply_updates(params, updates), the sum the adapter then makes itself."""
    optax = _jax()[3]

    def factory(learning_rate, step_size):
        sgd = optax.sgd(learning_rate)

        def init(params):
            return _AverageState(sgd.init(params), params)

        def update(grads, state, params):
            updates, inner = sgd.update(grads, state.inner, params)
            new = optax.apply_updates(params, updates)
            return updates, _AverageState(inner, incremental_update(new, state.average, step_size))

        return optax.GradientTransformation(init, update)

    return factory


def _with_learning_rate(ema):
    """A factory of ``optax.chain(ema(decay, **options), optax.scale_by_learning_rate(learning_rate))``:
    optax.ema averages the updates and has no learning rate, so a user chains one after it
    (reference/optimizers/update_ema.py; ``options``: the api's literal keywords, debias=False)."""
    optax = _jax()[3]

    def factory(learning_rate, decay, **options):
        return optax.chain(ema(decay, **options), optax.scale_by_learning_rate(learning_rate))

    return factory


# profile apis that are not a GradientTransformation of canonical keywords by themselves:
# algorithm -> function(the api's callable) -> factory taking the profile's keywords
WRAPPED_APIS = {"lookahead": _lookahead, "ema": _averaged, "update_ema": _with_learning_rate}
# integer state leaves that count modulo a hyperparameter (one-step injection): algorithm -> hyper
COUNT_PERIOD = {"lookahead": "sync_period"}  # steps_since_sync = (t − 1) mod k

_RESOLVED: dict = {}
_APIS: dict = {}  # profile api -> (callable, literal keywords)


def _resolved(alg, profile: str, hyper: dict):
    """alg.resolve(profile, hyper), parsed and validated once per distinct group of a process."""
    key = (alg.name, profile, json.dumps(hyper, sort_keys=True))
    if key not in _RESOLVED:
        _RESOLVED[key] = alg.resolve(profile, hyper)
    return _RESOLVED[key]


class _OptimizerRun:
    """One optimizer vector (or one-step document) through optax on one implementation."""

    def __init__(self, doc: dict, impl: Implementation):
        if impl.code_path not in CODE_PATHS:
            raise Unsupported(f"unknown optax code path {impl.code_path!r}")
        if impl.dtype not in DTYPES:
            raise Unsupported(f"unknown dtype {impl.dtype!r}")
        self.jax, self.jnp, self.np, self.optax = _jax()
        self.doc, self.impl = doc, impl
        self.alg = get(doc["algorithm"])
        self.profile = self.alg.profiles[doc.get("profile") or PROFILE]
        self.factory, self.api_kwargs = self.transformation()
        params = initial_params(doc)
        self.names = list(params)
        self.shapes = {n: shape for n, (shape, _) in params.items()}
        self.initial = {n: values for n, (_, values) in params.items()}
        groups = doc["inputs"]["groups"]
        self.group_names = [tuple(g["params"]) for g in groups]
        self.group_of = {n: gi for gi, names in enumerate(self.group_names) for n in names}
        hypers = [_resolved(self.alg, self.profile.name, g["hyper"]) for g in groups]
        for h in hypers:
            self._check_supported(h)
        # per group: numeric keywords (traced) and the others (part of the structure)
        # (a zero stays a Python constant: optax skips work on a constant zero — add_decayed_weights
        # returns the updates untouched for weight_decay == 0.0, where a traced zero adds 0·θ)
        self.hypers = hypers
        self.numeric, self.static = [], []
        for h in hypers:
            kwargs = {**self.api_kwargs, **self.keywords(h)}
            traced = {k: v for k, v in kwargs.items() if isinstance(v, float) and v != 0.0}
            self.numeric.append(traced)
            self.static.append({k: v for k, v in kwargs.items() if k not in traced})
        self.lr_name = self.profile.names.get("lr")
        self.lrs = step_lrs(doc)
        self.fixed_lrs = None
        self.stream = gradient_stream(doc)
        self.objective = doc["inputs"].get("objective")
        self.state_fields = {}  # optax field -> (canonical name, sign)
        for canonical, optax_name in self.profile.state_names.items():
            field, sign = state_name(optax_name)
            self.state_fields[field] = (canonical, sign)
        relabel = STATE_LABELS.get(self.alg.name)
        # (field, parameter) -> (canonical, sign)
        self.labels = {}
        for n in self.names:
            fields = dict(self.state_fields)
            for field, canonical in (relabel(self, n) if relabel else {}).items():
                fields[field] = (canonical, fields[field][1])
            for field, label in fields.items():
                self.labels[(field, n)] = label

    def transformation(self) -> tuple:
        """``(factory, literal keywords)`` that build the GradientTransformation: the profile's
        ``api`` (optax's own optimizer). A subclass may supply another factory taking the same
        keywords (``optconform audit``: frameworks/optax_audit.py)."""
        if not _own(self.profile):
            raise Unsupported(f"the {self.impl.code_path} path runs optax's own optimizers (profile optax and its API variants), "
                              f"not {self.profile.name}")
        if self.profile.api not in _APIS:
            fn, extra = resolve_api(self.profile.api)
            wrap = WRAPPED_APIS.get(self.alg.name)
            _APIS[self.profile.api] = (wrap(fn) if wrap else fn, extra)
        return _APIS[self.profile.api]

    def _check_supported(self, h) -> None:
        for name in self.profile.unsupported:
            hyper = self.alg.hypers[name]
            if h[name] != hyper.parse(self.profile.fixed_value(hyper)):
                raise Unsupported(f"{self.profile.api} has no {name} (the profile lists it unsupported)")

    def keywords(self, h) -> dict:
        kwargs = optimizer_kwargs(self.doc, h, self.profile)
        defaults = self.doc.get("scenario") == "defaults"
        for canonical, (keyword, convert) in CONVERTED.get(self.alg.name, {}).items():
            if not defaults or canonical in self.profile.required:  # a required keyword is passed there too
                if canonical in h:
                    kwargs[keyword] = convert(pyvalue(h[canonical]))
        return kwargs

    # --- building ---------------------------------------------------------------------------------

    def transform(self, numeric: list, lrs: list | None):
        """The GradientTransformation from per-group numeric keywords (Python floats, or traced
        scalars under jit) and the step's learning rates: one group as the profile's api builds
        it, several through optax.multi_transform (each group's own hyperparameters)."""
        txs = []
        for gi, (num, static) in enumerate(zip(numeric, self.static)):
            kwargs = {**static, **num}
            if lrs is not None and self.lr_name in kwargs:
                kwargs[self.lr_name] = lrs[gi]
            txs.append(self.factory(**kwargs))
        if len(txs) == 1:
            return txs[0]
        labels = {n: f"group{gi}" for gi, names in enumerate(self.group_names) for n in names}
        return self.optax.multi_transform({f"group{gi}": tx for gi, tx in enumerate(txs)}, labels)

    def structure_key(self) -> tuple:
        return (self.alg.name, self.profile.name, self.profile.api, self.impl.dtype, self.impl.device,
                tuple((n, self.shapes[n]) for n in self.names), tuple(self.group_names),
                tuple((tuple(sorted(num)), tuple(sorted((k, repr(v)) for k, v in st.items())))
                      for num, st in zip(self.numeric, self.static)),
                json.dumps(self.objective, sort_keys=True) if self.stream is None else None)

    def step_function(self):
        """``step(params, state, grads, numeric, lrs) -> (params, state, readout)``: jitted once per
        structure on the jit path (``readout``: every value the checker reads — the parameters, then
        the state entries of :meth:`layout` — raveled into one array of their widest float dtype,
        an exact widening, so that one host transfer per step reads them all), the plain function
        on the eager path (``readout``: those arrays as a list). ``grads`` None: the closed-loop
        gradient at ``params``."""
        optax, jnp = self.optax, self.jnp
        reads = [i for _, _, i, _ in self.state_reads]

        def step(params, state, grads, numeric, lrs):
            if grads is None:
                grads = self.objective_gradient(params)
            tx = self.transform(numeric, lrs)
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            leaves = self.jax.tree.leaves(state)
            return params, state, ([params[n] for n in self.names] + [leaves[i] for i in reads]
                                   + self.derived(state, params))

        if self.impl.code_path == "eager":
            return step
        key = self.structure_key()
        if key in _COMPILED:
            _COMPILED[key] = _COMPILED.pop(key)  # most recently used last
        else:
            def traced(params, state, grads, numeric, lrs):
                _STATS["traces"] += 1
                params, state, parts = step(params, state, grads, numeric, lrs)
                dtype = jnp.result_type(*parts)
                return params, state, jnp.concatenate([p.reshape(-1).astype(dtype) for p in parts])

            _remember(key, _Step(traced))
        return _COMPILED[key]

    def derived(self, state, params) -> list:
        """The :data:`DERIVED_STATE` entries of the profile's state names, in :attr:`derived_reads` order."""
        values = {canonical: fn(self, state, params) for canonical, fn in DERIVED_STATE.get(self.alg.name, {}).items()
                  if canonical in self.profile.state_names}
        return [values[canonical][n] for canonical, n in self.derived_reads]

    def objective_gradient(self, params) -> dict:
        """∇f at the parameters, in their dtype (engine.closed_loop_gradient); the objective's
        constants are made once per run (the eager path would otherwise convert them every step)."""
        jnp = self.jnp
        constants = self.__dict__.setdefault("_constants", {})

        def gradient(x):
            flat = x.reshape(-1)

            def constant(values):
                key = (tuple(values) if isinstance(values, list) else values, str(x.dtype))
                if key not in constants or self.impl.code_path != "eager":
                    constants[key] = jnp.asarray(values, dtype=x.dtype)
                return constants[key]

            def interleave(gx, gy):
                return jnp.stack([gx, gy], axis=-1).reshape(-1)

            return closed_loop_gradient(self.objective, flat, constant, interleave).reshape(x.shape)

        return {n: gradient(x) for n, x in params.items()}

    # --- arrays -----------------------------------------------------------------------------------

    def np_dtype(self):
        return self.jnp.dtype(self.impl.dtype)

    def host(self, values, shape):
        """Python floats that are values of the dtype, as a host array of it (exact)."""
        np = self.np
        return np.asarray(values, dtype=np.float64).reshape(shape).astype(self.np_dtype())

    def params_from(self, values: dict) -> dict:
        return {n: self.jnp.asarray(self.host(values[n], self.shapes[n])) for n in self.names}

    def grad_stream(self) -> list | None:
        """Every step's gradient as host arrays of the dtype, converted once."""
        if self.stream is None:
            return None
        out = {n: self.host([step[n] for step in self.stream], (len(self.stream),) + self.shapes[n])
               for n in self.names}
        if self.impl.code_path == "eager":
            jnp = self.jnp
            return [{n: jnp.asarray(out[n][i]) for n in self.names} for i in range(len(self.stream))]
        return [{n: out[n][i] for n in self.names} for i in range(len(self.stream))]

    def step_lr(self, t: int) -> list:
        """The learning rate of every group at step t (1-based): the vector's where a schedule
        drives it, else the group's (optax's own default where none is passed — the profile's
        declared default, which the ``defaults`` scenario checks)."""
        if self.lrs is not None:
            return self.lrs[t - 1]
        if self.fixed_lrs is None:
            self.fixed_lrs = []
            for num, static, h in zip(self.numeric, self.static, self.hypers):
                value = num.get(self.lr_name, static.get(self.lr_name))
                self.fixed_lrs.append(float(value) if isinstance(value, (int, float)) else float(pyvalue(h["lr"])))
        return self.fixed_lrs

    # --- state by canonical names -----------------------------------------------------------------

    def layout(self, state) -> None:
        """Where the canonical state entries are in the state pytree, once per structure:
        ``state_reads`` = [(canonical, parameter, leaf index, sign)] for every leaf at
        ``...<field>[<parameter>]`` whose field the profile names (the first such leaf) — or a
        float scalar leaf at ``...<field>`` the profile names, which holds the entry of every
        parameter of its group (schedule_free's weight_sum) — and ``counts`` = the integer scalar
        leaves (the step counts), with ``sizes`` of every leaf; ``derived_reads`` = [(canonical,
        parameter)] of the :data:`DERIVED_STATE` entries the profile names."""
        key = self.structure_key()
        if key not in _LAYOUTS:
            jax, np = self.jax, self.np
            GetAttrKey, DictKey = jax.tree_util.GetAttrKey, jax.tree_util.DictKey
            groups = {f"group{gi}": names for gi, names in enumerate(self.group_names)}
            found, counts, sizes = {}, [], []
            for i, (path, leaf) in enumerate(jax.tree_util.tree_flatten_with_path(state)[0]):
                shape, dtype = np.shape(leaf), np.dtype(getattr(leaf, "dtype", np.asarray(leaf).dtype))
                sizes.append((shape, dtype))
                if np.issubdtype(dtype, np.integer) and shape == ():
                    counts.append(i)
                elif len(path) >= 2 and isinstance(path[-1], DictKey) and isinstance(path[-2], GetAttrKey) \
                        and path[-1].key in self.shapes:
                    found.setdefault((path[-2].name, path[-1].key), i)
                elif shape == () and path and isinstance(path[-1], GetAttrKey) and path[-1].name in self.state_fields:
                    group = next((groups[k.key] for k in path if isinstance(k, DictKey) and k.key in groups),
                                 self.names)
                    for n in group:
                        found.setdefault((path[-1].name, n), i)
            _LAYOUTS[key] = (found, counts, sizes)
        self.found, self.counts, self.sizes = _LAYOUTS[key]
        self.state_reads = [(self.labels[k][0], k[1], i, self.labels[k][1])
                            for k, i in self.found.items() if k in self.labels]
        self.derived_reads = [(canonical, n) for canonical in DERIVED_STATE.get(self.alg.name, {})
                              if canonical in self.profile.state_names for n in self.names]

    def to_floats(self, rows: list, lrs_used: list) -> list:
        """The steps as Python floats: the readouts of every step stacked into one float64 matrix
        (one host conversion per step on the jit path), then sliced per parameter and entry."""
        np = self.np
        if self.impl.code_path == "eager":
            rows = [np.concatenate([np.asarray(x).astype(np.float64).reshape(-1) for x in row]) for row in rows]
        matrix = np.stack([np.asarray(row) for row in rows]).astype(np.float64)
        columns, start = [], 0
        for n in self.names:
            size = int(np.prod(self.shapes[n], dtype=np.int64))
            columns.append(("params", n, None, 1.0, start, size, False))
            start += size
        for canonical, n, i, sign in self.state_reads:
            shape, _ = self.sizes[i]
            size = int(np.prod(shape, dtype=np.int64))
            columns.append(("state", n, canonical, sign, start, size, shape == ()))
            start += size
        for canonical, n in self.derived_reads:
            size = int(np.prod(self.shapes[n], dtype=np.int64))
            columns.append(("state", n, canonical, 1.0, start, size, False))
            start += size
        values = {}
        for kind, n, canonical, sign, begin, size, scalar in columns:
            block = matrix[:, begin:begin + size]
            if sign < 0:
                block = -block
            values[(kind, n, canonical)] = block[:, 0].tolist() if scalar else block.tolist()
        out = []
        for k, record in enumerate(self.doc["steps"]):
            state = {n: {} for n in self.names}
            params = {}
            for (kind, n, canonical), table in values.items():
                if kind == "params":
                    params[n] = table[k]
                else:
                    state[n][canonical] = table[k]
            out.append({"t": record["t"], "params": params, "state": state, "lr": [float(v) for v in lrs_used[k]]})
        return out

    # --- running ----------------------------------------------------------------------------------

    def run(self) -> AdapterRun:
        with precision_context(self.impl.dtype, self.impl.device):
            params = self.params_from(self.initial)
            state = self.transform(self.numeric, None).init(params)
            self.layout(state)
            step = self.step_function()
            grads = self.grad_stream()
            checkpoint = self.doc["inputs"].get("checkpoint_at")
            rows, lrs_used = [], []
            for record in self.doc["steps"]:
                t = record["t"]
                lrs = self.step_lr(t)
                params, state, row = step(params, state, grads[t - 1] if grads is not None else None, self.numeric, lrs)
                rows.append(row)
                lrs_used.append(lrs)
                if checkpoint == t:
                    params, state = self.resume(params, state)
            return AdapterRun(self.to_floats(rows, lrs_used))

    def resume(self, params, state):
        """Save the parameters and the state pytree as numpy arrays (np.savez, each leaf's raw
        bytes and its dtype's name, so bfloat16 survives) and load them into a fresh optimizer's
        state structure, as a checkpoint would."""
        jax, jnp, np = self.jax, self.jnp, self.np
        leaves = jax.tree.leaves(state)
        arrays = {}

        def save(key, value):
            a = np.asarray(value)
            arrays[key] = a.reshape(-1).view(np.uint8)
            arrays[f"{key}.dtype"] = np.asarray(str(a.dtype))
            arrays[f"{key}.shape"] = np.asarray(a.shape, dtype=np.int64)

        for i, leaf in enumerate(leaves):
            save(f"state{i}", leaf)
        for n in self.names:
            save(f"param.{n}", params[n])
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        buffer.seek(0)
        loaded = np.load(buffer)

        def restore(key):
            dtype = jnp.dtype(str(loaded[f"{key}.dtype"]))
            return jnp.asarray(loaded[key].view(dtype).reshape(tuple(loaded[f"{key}.shape"])))

        fresh_params = {n: restore(f"param.{n}") for n in self.names}
        fresh = self.transform(self.numeric, None).init(fresh_params)
        return fresh_params, jax.tree.unflatten(jax.tree.structure(fresh), [restore(f"state{i}")
                                                                              for i in range(len(leaves))])

    # --- one-step mode ----------------------------------------------------------------------------

    def run_one_step(self) -> AdapterRun:
        """Each step from the exact state of the step before, rounded to the dtype: step 1 from a
        fresh state, then a fresh state with the injected entries written at their leaves (negated
        where the profile says optax holds them so) and the step counts advanced by t − 1."""
        jax = self.jax
        with precision_context(self.impl.dtype, self.impl.device):
            template = self.transform(self.numeric, None).init(self.params_from(self.initial))
            self.layout(template)
            leaves, treedef = jax.tree.flatten(template)
            step = self.step_function()
            rows, lrs_used = [], []
            for record, inject in zip(self.doc["steps"], self.doc["inject"]):
                t = record["t"]
                params = self.params_from({n: [float(v) for v in inject["params"][n]] for n in self.names})
                if inject["state"] is None:
                    state = template
                else:
                    state = jax.tree.unflatten(treedef, self.injected(leaves, inject["state"], t - 1))
                grads = {n: self.jnp.asarray(self.host([float(v) for v in inject["grads"][n]], self.shapes[n]))
                         for n in self.names}
                lrs = [float(v) for v in inject["lr"]]
                _, _, row = step(params, state, grads, self.numeric, lrs)
                rows.append(row)
                lrs_used.append(lrs)
            return AdapterRun(self.to_floats(rows, lrs_used), mode="one-step")

    def injected(self, leaves: list, values: dict, steps_done: int) -> list:
        """The state leaves with the injected entries (exact values of the dtype) and counts."""
        jnp, np = self.jnp, self.np
        out = list(leaves)
        period = COUNT_PERIOD.get(self.alg.name)  # one period for every group (the scenarios share it)
        for i in self.counts:  # from its initial value (schedule_free's step_count starts at 1)
            count = int(leaves[i]) + steps_done
            out[i] = jnp.asarray(count % int(self.hypers[0][period]) if period else count, dtype=self.sizes[i][1])
        for (field, n), i in self.found.items():
            if (field, n) not in self.labels:
                raise Unsupported(f"one-step mode: optax state field {field!r} has no canonical name to inject")
            canonical, sign = self.labels[(field, n)]
            value = values.get(n, {}).get(canonical)
            if value is None:
                continue  # an entry the reference does not keep (adafactor's placeholder for v)
            shape, dtype = self.sizes[i]
            flat = [sign * float(v) for v in (value if isinstance(value, list) else [value])]
            if len(flat) != int(np.prod(shape, dtype=np.int64)):
                raise Unsupported(f"one-step mode: {canonical} of {n} has {len(flat)} values, optax's {field} "
                                  f"holds {int(np.prod(shape, dtype=np.int64))}")
            out[i] = jnp.asarray(np.asarray(flat, dtype=np.float64).reshape(shape).astype(dtype))
        return out
