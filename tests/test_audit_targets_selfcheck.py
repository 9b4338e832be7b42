"""Self-check of the audit targets (tests/audit_targets), independent of the audit code.

Every target of tests/audit_targets/catalog.py runs next to its real counterpart (torch.optim,
torch.optim.lr_scheduler, optax) on a small problem, both given the same keyword arguments:

* a faulty target, on the problem its catalog entry names (chosen to expose the fault), in
  float64, must DIFFER from the counterpart (parameters, state entries or learning rates) by more
  than 1e-9 relative somewhere, or in where NaN or ±∞ appear;
* a faithful target (the reordered ones, and the bases every fault derives from on every problem)
  must agree within 1e-12 relative in float64 and 2⁻¹⁶ (512 float32 ulps) in float32, with the
  same state entries under the same names and NaN and ±∞ in the same places.

Differences are normwise: max|a − b| over an entry's elements, relative to the entry's largest
magnitude (an element passing near 0 does not inflate them).

The catalog itself is checked against the spec's data: an axis value a fault claims is one the
algorithm declares and not the one the framework's profile has, and every snake_case word of
``needs`` is a scenario of the algorithm or a state entry of the profile.

Problems (:func:`problem`): parameters ``w`` (2×3) and ``b`` (4) from N(0, 1), one N(0, 1)
gradient per step, 8 steps, learning rate 0.01 unless the options say otherwise, and
``zero_grad`` (every third element 0 at each step), ``inf_grad`` (g[w][1] = +∞ at step 3, 6
steps), ``param_groups`` (b in a second group at half the learning rate; optax runs every problem
as two groups through multi_transform, w and b, at one rate or, here, two), ``resume`` (state_dict
through torch.save after step 3, loaded into a fresh optimizer), ``scheduled`` (the learning rate
of every group multiplied by 1/4, 1/2, 3/4, 1, ... in turn), ``long`` (60 steps), ``same_shape``
(w and v, both 2×3); schedules: 40 updates.
"""
from __future__ import annotations

import importlib
import io
import re

import numpy as np
import pytest

from optconform.adapters.frameworks.engine import resolve_api, state_name
from optconform.reference.model import get
from optconform.reference.scenarios import SCENARIO_NAMES, SCHEDULE_SCENARIOS, VARIANT_PREFIX, optimizer_scenarios
from tests.audit_targets.catalog import BASES, CHECKS, TARGETS

DIFFERENT = 1e-9
AGREE = {"float64": 1e-12, "float32": 2.0 ** -16}
FLOOR = 1e-8  # differences are relative to the entry's largest magnitude, or FLOOR if larger
SHAPES = {"w": (2, 3), "b": (4,)}
STEPS = {"long": 60, "inf_grad": 6}
SCHEDULE_UPDATES = 40
BASE_CHECKS = {"torch": ("random", "zero_grad", "inf_grad", "param_groups", "resume", "scheduled", "same_shape"),
               "optax": ("random", "zero_grad", "inf_grad", "param_groups", "scheduled")}


def load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def counterpart(api: str):
    fn, extra = resolve_api(api)
    return lambda *args, **kwargs: fn(*args, **{**extra, **kwargs})


# --- the problems --------------------------------------------------------------------------------------


def problem(check: str):
    """(initial parameters, [gradients per step]) as float64 arrays."""
    rng = np.random.default_rng(11)
    shapes = {"w": (2, 3), "v": (2, 3)} if check == "same_shape" else SHAPES
    params = {n: rng.standard_normal(s) for n, s in shapes.items()}
    grads = [{n: rng.standard_normal(s) for n, s in shapes.items()} for _ in range(STEPS.get(check, 8))]
    for t, step in enumerate(grads, 1):
        if check == "zero_grad":
            for g in step.values():
                g.reshape(-1)[(np.arange(g.size) + t) % 3 == 0] = 0.0
        if check == "inf_grad" and t == 3:
            step["w"].reshape(-1)[1] = np.inf
    return params, grads


def lr_factor(check: str, t: int) -> float:
    return (1 + (t - 1) % 4) / 4 if check == "scheduled" else 1.0


def discrepancy(ours: list, theirs: list) -> float:
    """The largest normwise relative difference max|a − b|/max(|a|, |b|) of any entry both record
    (a parameter, a state entry, a learning rate) at any step; inf where NaN or ±∞ are not in the
    same places."""
    worst = 0.0
    for a_row, b_row in zip(ours, theirs, strict=True):
        for key in a_row.keys() & b_row.keys():
            a, b = a_row[key], b_row[key]
            if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
                return np.inf
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            differ = a != b
            if (differ & ~(np.isfinite(a) & np.isfinite(b))).any():
                return np.inf
            if differ.any():
                scale = max(np.abs(a).max(), np.abs(b).max(), FLOOR)
                worst = max(worst, float(np.abs(a[differ] - b[differ]).max()) / scale)
    return worst


# --- torch ------------------------------------------------------------------------------------------------


def torch_snapshot(torch, opt, tensors) -> dict:
    row = {}
    for n, p in tensors.items():
        row[("param", n)] = p.detach().to(torch.float64).numpy().copy()
        for key, value in opt.state.get(p, {}).items():
            if torch.is_tensor(value):
                row[(key, n)] = value.detach().to(torch.float64).numpy().reshape(-1).copy()
    return row


def run_torch(factory, options: dict, check: str, dtype: str) -> list:
    torch = pytest.importorskip("torch")
    init, grads = problem(check)
    tensors = {n: torch.nn.Parameter(torch.tensor(v, dtype=getattr(torch, dtype))) for n, v in init.items()}
    kwargs = {"lr": 0.01, **options}

    def build():
        if check == "param_groups":
            groups = [{"params": [tensors["w"]]}, {"params": [tensors["b"]], "lr": kwargs["lr"] / 2}]
        else:
            groups = [{"params": list(tensors.values())}]
        return factory(groups, **kwargs)

    opt = build()
    base_lrs = [group["lr"] for group in opt.param_groups]
    rows = []
    for t, step in enumerate(grads, 1):
        for group, lr in zip(opt.param_groups, base_lrs):
            group["lr"] = lr * lr_factor(check, t)
        for n, p in tensors.items():
            p.grad = torch.tensor(step[n], dtype=p.dtype)
        opt.step()
        rows.append(torch_snapshot(torch, opt, tensors))
        if check == "resume" and t == 3:
            buffer = io.BytesIO()
            torch.save(opt.state_dict(), buffer)
            buffer.seek(0)
            opt = build()
            opt.load_state_dict(torch.load(buffer, weights_only=True))
    return rows


def run_torch_schedule(factory, options: dict) -> list:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=0.5)
    sched = factory(opt, **options)
    rows = []
    for _ in range(SCHEDULE_UPDATES):
        rows.append({("lr", None): np.array([float(opt.param_groups[0]["lr"])])})
        opt.step()
        sched.step()
    return rows


# --- optax ------------------------------------------------------------------------------------------------


def optax_snapshot(jax, params, state) -> dict:
    row = {("param", n): np.asarray(x, dtype=np.float64) for n, x in params.items()}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        names = [getattr(k, "name", getattr(k, "key", None)) for k in path]
        field = next((k.name for k in reversed(path) if isinstance(k, jax.tree_util.GetAttrKey)), None)
        param = names[-1] if names and names[-1] in params else None
        row[(field, param)] = np.asarray(leaf, dtype=np.float64).reshape(-1)
    return row


_STEPS: dict = {}


def optax_transform(optax, factory, options: dict, lrs: tuple):
    """Two groups through optax.multi_transform, as the optax adapter builds parameter groups: w with
    ``factory(**options, learning_rate=lrs[0])``, b with ``lrs[1]`` (every problem but
    ``param_groups`` gives both the same rate, so one compiled step serves every problem)."""
    return optax.multi_transform({"g0": factory(**{**options, "learning_rate": lrs[0]}),
                                  "g1": factory(**{**options, "learning_rate": lrs[1]})}, {"w": "g0", "b": "g1"})


def optax_step(jax, optax, name: str, factory, options: dict, dtype: str):
    """The jitted step θ, s ← apply(θ, update(g, s, θ)) with the learning rates as arguments, as a
    training step runs it (and as the audit's jit path does): compiled once per implementation,
    options and dtype."""
    key = (name, repr(sorted(options.items())), dtype)
    if key not in _STEPS:
        def step(params, state, grads, lrs):
            updates, state = optax_transform(optax, factory, options, lrs).update(grads, state, params)
            return optax.apply_updates(params, updates), state

        _STEPS[key] = jax.jit(step)
    return _STEPS[key]


def run_optax(name: str, factory, options: dict, check: str, dtype: str) -> list:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    init, grads = problem(check)
    lr = options.get("learning_rate", 0.01)
    lrs = (lr, lr / 2 if check == "param_groups" else lr)
    rows = []
    with jax.enable_x64(dtype == "float64"):
        step = optax_step(jax, optax, name, factory, options, dtype)
        params = {n: jax.numpy.asarray(v, dtype=dtype) for n, v in init.items()}
        state = optax_transform(optax, factory, options, lrs).init(params)
        for t, g in enumerate(grads, 1):
            grads_t = {n: jax.numpy.asarray(x, dtype=dtype) for n, x in g.items()}
            params, state = step(params, state, grads_t, tuple(x * lr_factor(check, t) for x in lrs))
            rows.append(optax_snapshot(jax, params, state))
    return rows


def run_optax_schedule(factory, options: dict) -> list:
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        schedule = factory(**options)
        return [{("lr", None): np.asarray(schedule(k), dtype=np.float64).reshape(1)} for k in range(SCHEDULE_UPDATES)]


# --- both ----------------------------------------------------------------------------------------------


def run_pair(target, check: str, dtype: str) -> tuple:
    """(target's rows, counterpart's rows) on one problem."""
    ours, theirs = load(target.target), counterpart(target.counterpart)
    if target.kind == "schedule":
        runner = run_torch_schedule if target.framework == "torch" else run_optax_schedule
        return runner(ours, target.options), runner(theirs, target.options)
    if target.framework == "torch":
        return run_torch(ours, target.options, check, dtype), run_torch(theirs, target.options, check, dtype)
    return (run_optax(target.target, ours, target.options, check, dtype),
            run_optax(target.counterpart, theirs, target.options, check, dtype))


FAULTS = [t for t in TARGETS if not t.faithful]
FAITHFUL = [t for t in TARGETS if t.faithful]


def _id(target) -> str:
    return f"{target.framework}:{target.target.rpartition('.')[2]}"


@pytest.mark.parametrize("target", FAULTS, ids=_id)
def test_the_fault_is_real(target):
    ours, theirs = run_pair(target, target.check, "float64")
    assert discrepancy(ours, theirs) > DIFFERENT, \
        f"{target.target} agrees with {target.counterpart} on the {target.check!r} problem: no fault shows"


def _faithful_cases():
    for target in FAITHFUL:
        for dtype in AGREE:
            yield pytest.param(target, target.check, dtype, id=f"{_id(target)}-{target.check}-{dtype}")
    for target in BASES:
        for check in BASE_CHECKS[target.framework]:
            for dtype in AGREE:
                yield pytest.param(target, check, dtype, id=f"{_id(target)}-{check}-{dtype}")


@pytest.mark.parametrize("target, check, dtype", list(_faithful_cases()))
def test_the_faithful_agree(target, check, dtype):
    ours, theirs = run_pair(target, check, dtype)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys(), f"state entries differ: {sorted(map(str, a.keys() ^ b.keys()))}"
    worst = discrepancy(ours, theirs)
    assert worst <= AGREE[dtype], f"{target.target} differs from {target.counterpart} by {worst:.3g} relative"


# --- the catalog against the spec's data -------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS + BASES, ids=_id)
def test_the_catalog_entry_matches_the_spec(target):
    alg = get(target.algorithm)
    profile = alg.profiles[target.framework]
    assert (target.axis is None) == (target.value is None)
    assert target.check in CHECKS
    if target.axis is not None:
        assert target.value in alg.axes[target.axis], f"{target.algorithm} has no {target.axis} = {target.value}"
        assert profile.semantics[target.axis] != target.value, "the framework itself computes this value"
    if target.kind == "schedule":
        scenarios = {s.name for s in SCHEDULE_SCENARIOS} | {VARIANT_PREFIX + v for v in alg.variants}
    else:
        scenarios = set(SCENARIO_NAMES) | {s.name for s in optimizer_scenarios(alg)}
    states = set(profile.state_names) | {state_name(v)[0] for v in profile.state_names.values()}
    for word in re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", target.needs):
        assert word in scenarios | states, f"needs names {word!r}: neither a scenario of {alg.name} nor a state entry"
    pytest.importorskip("torch" if target.framework == "torch" else "optax")
    load(target.target)  # importable as module:Name
