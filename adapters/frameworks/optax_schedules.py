"""optax schedules: one builder per canonical schedule with an ``optax`` profile, and the vector runner.

A schedule is a function of the update count k (k = 0 is the first update); optax calls it with
its ``count`` before incrementing it (``scale_by_schedule``, ``inject_hyperparams``), so the
learning rate of update k is ``schedule(k)``.  :func:`run_schedule` evaluates it for k = 0 .. n − 1
with x64 enabled (the optax adapter's ``precision_context``: Python-float hyperparameters are
float64) on one of three code paths:

* ``jit``               — ``jax.jit(schedule)(k)`` with k a Python int (a weakly typed int64);
* ``eager``             — ``schedule(k)`` called directly, k a Python int;
* ``scale_by_schedule`` — the schedule inside ``optax.scale_by_schedule`` (what
  ``optax.sgd(learning_rate=schedule)`` and every alias with a schedule use), in a jitted update:
  the count is optax's own **int32** state, and the value is the factor the update applies to a
  float64 update of 1.  Where a schedule divides that int32 count by an int, jnp's true division
  gives float32 even under x64, so the schedule computes in float32 (declared per profile as
  ``findings`` on this code path).

reduce_on_plateau is a transformation with its own state: code paths ``jit`` and ``eager``.

Builders take the resolved canonical hyperparameters ``h`` (``get(name).resolve("optax", ...)``)
and the profile, and return ``count -> value``:

* data-driven (:func:`from_profile`): the profile's ``api`` names the constructor (literal keyword
  arguments included: ``exponential_decay(staircase=True)``), its ``names`` the keywords; the
  ``required`` ones are always passed, the others only when they differ from the profile's
  declared default, so the ``defaults`` scenario checks optax's own defaults — constant, step,
  exponential, polynomial, cosine, warmup_cosine, linear_warmup;
* written out where optax's arguments are not a renaming: multistep and piecewise_constant
  (``piecewise_constant_schedule`` takes cumulative scales), cosine_restarts (``sgdr_schedule``
  lists every cycle), one_cycle (two constructors), warmup_linear and wsd (``join_schedules`` of
  linear / constant / cosine children), sequential (``join_schedules`` of children built by the
  same builders; lambda_lr and multiplicative children, which optax has no constructor for, are
  the jnp functions a user writes: η·f(k), and η·∏_{i=1..k} f(i) by ``lax.while_loop``);
* reduce_on_plateau is a transformation, not a schedule: :func:`reduce_on_plateau_rates` replays
  the vector's metric stream through ``optax.contrib.reduce_on_plateau``; under its profile
  (decision_timing = same) metric k is passed with update k and the scale it returns scales update
  k itself, so the rate of update k is η·scale_k (``update`` applied to the updates ``{w: η}``).

A combination optax has no form for (a hyperparameter the profile lists unsupported away from its
fixed value, a linear two-phase one-cycle, a 1-sqrt decay, ...) raises :class:`NotDriven`, the
adapter protocol's ``Unsupported`` (the case is a skip).  Imports jax and optax only when run.
"""
from __future__ import annotations

from collections import Counter

from optconform.reference.model import get

from .engine import declared_default, optional, pyvalue, resolve_api
from ..protocol import Unsupported

CODE_PATHS = ("jit", "eager", "scale_by_schedule")
DEFAULT_CODE_PATH = "jit"


def code_paths(algorithm: str) -> list:
    """The code paths of one schedule (reduce_on_plateau is a transformation: no scale_by_schedule)."""
    return ["jit", "eager"] if algorithm == "reduce_on_plateau" else list(CODE_PATHS)


class NotDriven(Unsupported, NotImplementedError):
    """optax has no form for this schedule or hyperparameter combination (the profile says so)."""


def _plain(fw_name: str) -> bool:
    """A profile name that is a keyword (not documentation such as ``boundaries_and_scales (keys)``)."""
    return fw_name.isidentifier()


# --- data-driven builders ---------------------------------------------------------------------------


def from_profile(h, profile):
    """``api(**kwargs)`` from the profile data: required keywords always, the others when they
    differ from the declared default (engine.optional)."""
    fn, extra = resolve_api(profile.api)
    names = {c: n for c, n in profile.names.items() if _plain(n) and c not in profile.unsupported}
    kwargs = {n: pyvalue(h[c]) for c, n in names.items() if c in profile.required}
    kwargs.update(optional(h, profile, {c: n for c, n in names.items() if c not in profile.required}))
    return fn(**{**kwargs, **extra})


# --- written-out builders -----------------------------------------------------------------------------


def _optax():
    import optax

    return optax


def multistep(h, profile):
    # boundaries_and_scales is a dict: a milestone listed n times decays by γⁿ there
    counts = Counter(int(m) for m in h.milestones)
    gamma = float(h.gamma)
    return _optax().piecewise_constant_schedule(
        init_value=float(h.lr), boundaries_and_scales={m: gamma ** n for m, n in sorted(counts.items())})


def piecewise_constant(h, profile):
    values = [float(h.lr)] + [float(v) for v in h["values"]]
    if any(a == 0 and b != 0 for a, b in zip(values, values[1:])):
        raise NotDriven("optax piecewise_constant_schedule takes cumulative scales: "
                        "a zero value cannot be followed by a non-zero one")
    scales = {int(b): (values[j + 1] / values[j] if values[j] != 0 else 0.0) for j, b in enumerate(h.boundaries)}
    return _optax().piecewise_constant_schedule(init_value=values[0], boundaries_and_scales=scales)


def cosine_restarts(h, profile):
    """sgdr_schedule lists every cycle i < cycles: peak η_min + (η − η_min)·mⁱ, length T₀·tⁱ."""
    lo, peak, m = float(h.eta_min), float(h.lr), float(h.m_mult)
    cycles = []
    for i in range(int(h.cycles)):
        length = h.first_cycle * h.t_mult ** i
        if length != int(length):
            raise NotDriven("optax sgdr_schedule needs integer cycle lengths (T₀·tⁱ)")
        top = peak if m == 1 else lo + (peak - lo) * m ** i
        cycles.append(dict(init_value=top, peak_value=top, warmup_steps=0, decay_steps=int(length), end_value=lo))
    return _optax().sgdr_schedule(cycles)


def one_cycle(h, profile):
    optax = _optax()
    common = dict(transition_steps=int(h.total_steps), peak_value=float(h.lr), pct_start=float(h.pct_start),
                  div_factor=float(h.div_factor), final_div_factor=float(h.final_div_factor))
    if h.anneal == "cos" and not h.three_phase:
        return optax.cosine_onecycle_schedule(**common)
    if h.anneal == "linear" and h.three_phase:
        return optax.linear_onecycle_schedule(pct_final=float(h.pct_final), **common)
    raise NotDriven(f"optax has no one-cycle constructor for anneal = {h.anneal}, "
                    f"{'three' if h.three_phase else 'two'} phases")


def warmup_linear(h, profile):
    optax = _optax()
    W, T, lr = int(h.warmup_steps), int(h.total_steps), float(h.lr)
    return optax.join_schedules([optax.linear_schedule(0.0, lr, W), optax.linear_schedule(lr, 0.0, T - W)],
                                boundaries=[W])


def wsd(h, profile):
    optax = _optax()
    W, D, T = int(h.warmup_steps), int(h.decay_steps), int(h.total_steps)
    lr, r = float(h.lr), float(h.min_lr_ratio)
    if h.decay_shape == "cosine":
        decay = optax.cosine_decay_schedule(lr, D, alpha=r)
    elif h.decay_shape == "linear":
        decay = optax.linear_schedule(lr, r * lr, D)
    else:
        raise NotDriven(f"optax has no {h.decay_shape} decay schedule")
    return optax.join_schedules([optax.linear_schedule(0.0, lr, W), optax.constant_schedule(lr), decay],
                                boundaries=[W, T - D])


def _factor(fn: str, c: float):
    """f(k) of lambda_lr / multiplicative as a jnp function of the (traced) count."""
    import jax.numpy as jnp

    table = {"constant": lambda k: jnp.asarray(c, jnp.float64),
             "power": lambda k: jnp.power(c, k.astype(jnp.float64)),
             "inverse": lambda k: 1.0 / (1.0 + c * k),
             "inverse_sqrt": lambda k: 1.0 / jnp.sqrt(1.0 + c * k)}
    if fn not in table:
        raise NotDriven(f"no optax form for the factor function {fn!r}")
    return table[fn]


def lambda_lr(h, profile=None):
    """η·f(k): what a user writes for a LambdaLR-style optax schedule."""
    import jax.numpy as jnp

    f, lr = _factor(h.fn, float(h.c)), float(h.lr)
    return lambda count: lr * f(jnp.asarray(count))


def multiplicative(h, profile=None):
    """η·∏_{i=1..k} f(i), multiplied in order by a ``lax.while_loop`` (the count may be traced); the
    loop functions are built once, so an eager caller compiles the loop once, not once per count."""
    import jax
    import jax.numpy as jnp

    f, lr = _factor(h.fn, float(h.c)), float(h.lr)

    def more(carry):
        i, _, count = carry
        return i <= count

    def times(carry):
        i, v, count = carry
        return i + 1, v * f(i), count

    def schedule(count):
        count = jnp.asarray(count)
        start = (jnp.ones_like(count), jnp.asarray(lr, jnp.float64), count)
        return jax.lax.while_loop(more, times, start)[1]

    return schedule


CHILDREN = {"lambda_lr": lambda_lr, "multiplicative": multiplicative}


def child(table: dict, lr):
    """A child table ``{"algorithm", "hyper"[, "profile"]}`` of sequential with base rate η: built by
    this module's builder under the child's optax profile (lambda_lr and multiplicative, which
    optax has no constructor for, as the jnp functions above)."""
    name = table["algorithm"]
    alg = get(name)
    hyper = dict(table.get("hyper", {}), lr=lr)
    if name in CHILDREN:
        return CHILDREN[name](alg.resolve("spec", hyper))
    if "optax" not in alg.profiles or name not in BUILDERS:
        raise NotDriven(f"no optax child schedule for {name}")
    profile = alg.profiles["optax"]
    return BUILDERS[name](alg.resolve("optax", hyper), profile)


def sequential(h, profile):
    children = [child(t, pyvalue(h.lr)) for t in h.children]
    return _optax().join_schedules(children, boundaries=[int(m) for m in h.milestones])


BUILDERS = {
    "constant": from_profile, "step": from_profile, "exponential": from_profile, "polynomial": from_profile,
    "cosine": from_profile, "warmup_cosine": from_profile, "linear_warmup": from_profile,
    "multistep": multistep, "piecewise_constant": piecewise_constant, "cosine_restarts": cosine_restarts,
    "one_cycle": one_cycle, "warmup_linear": warmup_linear, "wsd": wsd, "sequential": sequential,
}


def build(name: str, h, profile=None):
    """The optax schedule (``count -> value``) of canonical schedule ``name`` for resolved ``h``."""
    if name not in BUILDERS:
        raise NotDriven(f"no optax schedule builder for {name}")
    profile = profile if profile is not None else get(name).profile("optax")
    return BUILDERS[name](h, profile)


# --- running ------------------------------------------------------------------------------------------


def _evaluate(fn, counts: list, code_path: str) -> list:
    """The schedule's value at every count, as a Python float, on one code path."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    if code_path == "scale_by_schedule":
        import optax

        tx = optax.scale_by_schedule(fn)
        ones = {"w": jnp.ones(1, jnp.float64)}
        update = jax.jit(lambda state: tx.update(ones, state))
        state = tx.init(ones)
        values = {}
        for k in range(max(counts, default=-1) + 1):
            scaled, state = update(state)
            values[k] = float(np.asarray(scaled["w"][0], dtype=np.float64))
        return [values[k] for k in counts]
    call = jax.jit(fn) if code_path == "jit" else fn
    return [float(np.asarray(call(k), dtype=np.float64)) for k in counts]


def reduce_on_plateau_rates(h, profile, metrics: list, code_path: str) -> list:
    """η·scale_k for each metric m_k passed with update k (``update(updates, state, value=m_k)``)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from optax import contrib

    tx = contrib.reduce_on_plateau(**_plateau_kwargs(h, profile))
    lr = float(h.lr)
    params = {"w": jnp.zeros(1, jnp.float64)}
    updates = {"w": jnp.full(1, lr, jnp.float64)}
    state = tx.init(params)

    def update(state, value):
        scaled, state = tx.update(updates, state, params, value=value)
        return scaled["w"][0], state

    step = jax.jit(update) if code_path == "jit" else update
    out = []
    for m in metrics:
        rate, state = step(state, jnp.asarray(float(m), jnp.float64))
        out.append(float(np.asarray(rate, dtype=np.float64)))
    return out


def _plateau_kwargs(h, profile) -> dict:
    """optax.contrib.reduce_on_plateau keywords through the profile's names, those that differ from
    the declared default (lr is not one of them: it multiplies the scale)."""
    return optional(h, profile, {c: n for c, n in profile.names.items() if c not in profile.unsupported and _plain(n)})


def run_schedule(doc: dict, impl, builder=None) -> list:
    """Per update k of ``doc["steps"]``: ``{"k", "lr"}`` (optax schedules have no cycled momentum:
    a vector's momentum records are left unanswered, which the checker skips). ``builder(h)``:
    another schedule than optax's own (``optconform audit`` of a schedule factory), built for the
    resolved hyperparameters ``h`` of the vector's profile and evaluated on the same code paths."""
    name = doc["algorithm"]
    alg = get(name)
    pname = doc.get("profile") or "optax"
    if builder is None and (pname not in alg.profiles or not alg.profiles[pname].api.startswith("optax.")):
        raise Unsupported(f"{name} has no profile {pname!r} of an optax schedule (jax.example_libraries "
                          f"profiles run on the code path example_libraries)")
    profile = alg.profiles[pname]
    if impl.code_path not in code_paths(name):
        raise Unsupported(f"optax {name} has no code path {impl.code_path!r} (known: {', '.join(code_paths(name))})")
    if impl.dtype != "float64":
        raise Unsupported("optax schedules are checked in float64 (jax_enable_x64)")
    h = alg.resolve(pname, doc["inputs"]["groups"][0]["hyper"])
    for hyper in profile.unsupported if builder is None else ():
        if hyper in h and h[hyper] != declared_default(profile, hyper):
            raise NotDriven(f"optax {name} has no {hyper} (the profile lists it unsupported)")
    steps = [s["k"] for s in doc["steps"]]
    from .optax_adapter import precision_context  # the optax adapter's x64 and device context

    with precision_context("float64", impl.device):
        if builder is not None:
            rates = _evaluate(builder(h), steps, impl.code_path)
        elif name == "reduce_on_plateau":
            metrics = doc["inputs"].get("metrics")
            if metrics is None:
                raise ValueError("a reduce_on_plateau vector needs inputs.metrics")
            rates = reduce_on_plateau_rates(h, profile, metrics[:len(steps)], impl.code_path)
        else:
            rates = _evaluate(build(name, h, profile), steps, impl.code_path)
    return [{"k": k, "lr": lr} for k, lr in zip(steps, rates)]


__all__ = ["BUILDERS", "CODE_PATHS", "DEFAULT_CODE_PATH", "NotDriven", "code_paths", "build", "child", "from_profile",
           "reduce_on_plateau_rates", "run_schedule"]
