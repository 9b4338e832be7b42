"""The one engine every framework adapter shares: everything about driving a framework that does
not depend on which framework it is. Imports no framework.

* Building from profile data — a profile's ``names`` map canonical hyperparameters to the
  framework's keyword names (``betas[0]``-style entries assemble tuples); ``api`` names the
  callable, optionally with literal keyword arguments (``torch.optim.Adam(amsgrad=True)``):
  :func:`renamed_kwargs`, :func:`resolve_api`, :func:`optimizer_kwargs` (the ``defaults`` scenario
  builds the optimizer from the framework's own defaults: only ``required`` keywords are passed),
  :func:`optional` (schedules: only the values that differ from the declared default).
* The inputs of a vector — :func:`gradient_stream` (every step's gradient, per tensor),
  :func:`step_lrs` (the learning rate of every step and group, where a schedule drives it).
* The closed-loop gradient of spec/vectors.md on any array library, in the parameters' dtype:
  :func:`closed_loop_gradient`.
* Optimizer state read by the profile's ``state_names``: :func:`read_state`.
"""
from __future__ import annotations

import ast
import functools
import importlib
import re

_INDEX = re.compile(r"^(\w+)\[(\d+)\]$")
_CALL = re.compile(r"^([\w.]+)\((.*)\)$", re.S)


def pyvalue(v):
    """A resolved hyperparameter as the plain Python value a framework takes."""
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, tuple):
        return [pyvalue(x) for x in v]
    return float(v)


def renamed_kwargs(h, profile, only_required: bool = False) -> dict:
    """Framework keyword arguments from canonical hyperparameters through ``profile.names``."""
    out: dict = {}
    tuples: dict = {}
    for canonical, fw_name in profile.names.items():
        if canonical in profile.unsupported or canonical not in h:
            continue
        if only_required and canonical not in profile.required:
            continue
        value = pyvalue(h[canonical])
        m = _INDEX.match(fw_name)
        if m:
            tuples.setdefault(m.group(1), {})[int(m.group(2))] = value
        elif " " in fw_name or "(" in fw_name:
            continue  # documentation, not a keyword: the adapter handles it
        else:
            out[fw_name] = value
    for name, parts in tuples.items():
        out[name] = tuple(parts[i] for i in sorted(parts))
    return out


def resolve_api(api: str):
    """``(callable, literal keyword arguments)`` for a profile's ``api`` string.

    ``torch.optim.SGD`` → (SGD, {}); ``torch.optim.Adam(amsgrad=True)`` → (Adam, {"amsgrad": True}).
    Parenthesised text that is not literal keywords (documentation) is ignored.
    """
    text = api.strip()
    extra: dict = {}
    m = _CALL.match(text)
    if m:
        text = m.group(1)
        try:
            call = ast.parse(f"f({m.group(2)})", mode="eval").body
            if isinstance(call, ast.Call) and not call.args:
                extra = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords
                         if not isinstance(kw.value, ast.Name)}  # a name ties keywords: api_ties
        except (SyntaxError, ValueError):
            extra = {}
    else:
        text = text.split("(", 1)[0]
    module, _, attr = text.rpartition(".")
    return getattr(importlib.import_module(module), attr), extra


def api_ties(api: str) -> dict:
    """{keyword: the keyword whose value it takes} for the keywords a profile's ``api`` writes as
    another keyword's name: ``torch.optim.SGD(dampening=momentum)`` → {"dampening": "momentum"}."""
    m = _CALL.match(api.strip())
    if not m:
        return {}
    try:
        call = ast.parse(f"f({m.group(2)})", mode="eval").body
    except SyntaxError:
        return {}
    return {kw.arg: kw.value.id for kw in call.keywords if isinstance(kw.value, ast.Name)}


def tie(kwargs: dict, ties: dict) -> dict:
    """``kwargs`` with each tied keyword set to the value of the keyword it names (:func:`api_ties`)."""
    return dict(kwargs, **{kw: kwargs[source] for kw, source in ties.items() if source in kwargs})


def declared_default(profile, name):
    """The profile's declared default of hyperparameter ``name``, parsed."""
    from optconform.reference.model import get

    hyper = get(profile.algorithm).hypers[name]
    return hyper.parse(profile.defaults.get(name, hyper.default))


def optional(h, profile, mapping, convert=None) -> dict:
    """Keyword arguments ``{framework_name: value}`` for the hyperparameters of ``mapping``
    (canonical → framework name) whose value differs from the profile's declared default: the
    others are left out, so the framework's own default is used (the ``defaults`` scenario then
    checks the declared default against the framework's)."""
    out = {}
    for canonical, fw_name in mapping.items():
        if h[canonical] != declared_default(profile, canonical):
            out[fw_name] = (convert or {}).get(canonical, pyvalue)(h[canonical])
    return out


DEFAULTS_SCENARIO = "defaults"


def optimizer_kwargs(doc: dict, h, profile) -> dict:
    """The framework keywords for one parameter group of ``doc``: every hyperparameter through
    ``profile.names``, except in the ``defaults`` scenario, where only the profile's ``required``
    ones are passed, so that the framework's own defaults are what the vector checks."""
    return renamed_kwargs(h, profile, only_required=doc.get("scenario") == DEFAULTS_SCENARIO)


# --- the inputs of a vector -------------------------------------------------------------------------


def gradient_stream(doc: dict) -> list | None:
    """Every step's gradient of an open-loop vector as Python floats, ``[{name: [float]}]`` (None
    for a closed-loop vector, whose gradient the adapter computes: :func:`closed_loop_gradient`)."""
    grads = doc["inputs"].get("grads")
    if grads is None:
        return None
    return [{n: [float(v) for v in values] for n, values in step.items()} for step in grads]


def step_lrs(doc: dict) -> list | None:
    """The learning rate of every step and parameter group, ``[[float per group] per step]``,
    when a schedule drives the vector (None otherwise: the optimizer keeps its own ``lr``).

    The vector records η_t for every step (the schedule's value times the group's base rate,
    exactly), so an adapter sets these rounded to the nearest float64 before each step rather than
    running a second implementation of the schedule."""
    if "schedule" not in doc["inputs"]:
        return None
    return [[float(v) for v in step["lr"]] for step in doc["steps"]]


def initial_params(doc: dict) -> dict:
    """``{name: (shape, [float])}`` of an optimizer vector's initial parameters."""
    return {n: (tuple(t["shape"]), [float(v) for v in t["values"]]) for n, t in doc["inputs"]["params"].items()}


# --- the closed-loop gradient -------------------------------------------------------------------------


def closed_loop_gradient(objective: dict, x, constant, interleave):
    """∇f at the flat parameter array ``x`` of a vector's closed-loop objective (spec/vectors.md),
    computed with ``x``'s own array library and dtype, as a model's backward pass would:

    * ``quadratic``  — f = ½ Σ a_i (x_i − c_i)²:  ∂f/∂x_i = a_i (x_i − c_i), with a and c repeated
      cyclically over the elements;
    * ``rosenbrock`` — over consecutive pairs (x, y), f = s Σ (1 − x)² + b (y − x²)²:
      ∂f/∂x = s(−2(1 − x) − 4bx(y − x²)),  ∂f/∂y = 2sb(y − x²).

    ``constant(values)`` makes an array of ``x``'s dtype and device from Python floats (a scalar
    for one value); ``interleave(gx, gy)`` lays out the pair gradients as x0, y0, x1, y1, ...
    The exact definition the vectors hold is reference.trajectory.objective_gradient.
    """
    kind = objective["kind"]
    n = int(x.shape[0])
    if kind == "quadratic":
        a = [float(v) for v in objective["a"]]
        c = [float(v) for v in objective["c"]]
        return constant([a[i % len(a)] for i in range(n)]) * (x - constant([c[i % len(c)] for i in range(n)]))
    if kind == "rosenbrock":
        if n % 2:
            raise ValueError("rosenbrock needs an even number of elements per tensor")
        s, b = constant(float(objective["scale"])), constant(float(objective["b"]))
        xs, ys = x[0::2], x[1::2]
        r = ys - xs * xs
        return interleave(s * (-2 * (1 - xs) - 4 * b * xs * r), s * 2 * b * r)
    from ..protocol import Unsupported

    raise Unsupported(f"unknown objective {kind!r}")


# --- optimizer state ----------------------------------------------------------------------------------


_STATE_NAME = re.compile(r"\s*(-?)([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=None)
def state_name(text: str) -> tuple[str, int]:
    """``(name, sign)`` of a profile's ``state_names`` value: the leading identifier is the
    framework's name of the entry (what follows is documentation: ``nu_max (of the bias-corrected
    v̂)``), and a leading ``-`` (sign −1) says the framework holds the canonical entry negated
    (Keras SGD's ``-momentums``: m = −b; optax's ``-trace`` after scale_by_learning_rate)."""
    m = _STATE_NAME.match(text)
    if not m:
        raise ValueError(f"state name {text!r} does not start with an identifier")
    return m.group(2), -1 if m.group(1) else 1


def read_state(profile, lookup) -> dict:
    """The optimizer state by canonical names, driven by ``profile.state_names`` (canonical →
    the framework's name, :func:`state_name`): ``{canonical: value}`` for every name
    ``lookup(name)`` finds (it returns None for an entry the framework does not hold, e.g. before
    the first step or in a factored form), negated where the profile says the framework holds it
    negated."""
    out = {}
    for canonical, text in profile.state_names.items():
        name, sign = state_name(text)
        value = lookup(name)
        if value is not None:
            out[canonical] = -value if sign < 0 else value
    return out
