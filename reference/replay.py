"""Rebuild a case from a vector, and rerun it exactly or with emulated rounding.

A vector is self-contained: its inputs (parameters, gradients or objective, parameter groups
with every hyperparameter, schedule, checkpoint) and its semantics determine the trajectory.
:func:`case_from_vector` turns it back into a :class:`~optconform.reference.scenarios.Case`;
:func:`emulated` reruns that case with every arithmetic operation rounded to ``p`` significand
bits (mpmath at ``prec = p``, round to nearest), which is how spec/tolerance.md measures the
rounding spread of a format.
"""
from __future__ import annotations

import dataclasses

from .model import Namespace, get
from .numeric import FORMATS, to_mpf
from .scenarios import Case
from .tensor import Tensor
from .trajectory import run


def _hyper(alg, raw: dict, where: str) -> Namespace:
    """The hyperparameters of a vector's group, parsed; one the vector does not list takes the
    algorithm's canonical default: a vector written before that hyperparameter existed was
    computed at it (a hyperparameter is only ever added with a default that keeps the old
    equations, as rmsprop's ``initial_square_avg`` = 0)."""
    values = {name: alg.hyper(name).parse(value, where) for name, value in raw.items()}
    for name, h in alg.hypers.items():
        if name not in values:
            values[name] = h.parse(h.default, where)
    return Namespace(values)


def case_from_vector(doc: dict, profile: str | None = None) -> Case:
    """The case a vector describes (``profile``: which of its profiles to attach; default the first)."""
    alg = get(doc["algorithm"])
    name = profile or doc["profiles"][0]
    lead = alg.profile(name)
    semantics = dict(lead.semantics, **doc["semantics"])
    prof = dataclasses.replace(lead, semantics=semantics)
    inputs = doc["inputs"]
    where = f"{doc['algorithm']}/{doc['scenario']}"
    groups = [(tuple(g["params"]), _hyper(alg, g["hyper"], where)) for g in inputs["groups"]]
    if alg.kind == "schedule":
        metrics = [to_mpf(m) for m in inputs["metrics"]] if "metrics" in inputs else None
        return Case(alg, prof, doc["scenario"], doc["description"], inputs["steps"], tuple(doc["dtypes"]),
                    groups, metrics=metrics)
    params = {n: Tensor.from_values(t["values"], t["shape"]) for n, t in inputs["params"].items()}
    grads = None
    if "grads" in inputs:
        grads = [{n: Tensor.from_values(v, params[n].shape) for n, v in step.items()} for step in inputs["grads"]]
    objective = None
    if "objective" in inputs:
        objective = {k: (v if k == "kind" else (tuple(to_mpf(x) for x in v) if isinstance(v, list) else to_mpf(v)))
                     for k, v in inputs["objective"].items()}
    schedule = None
    if "schedule" in inputs:
        s = inputs["schedule"]
        salg = get(s["algorithm"])
        schedule = {"algorithm": salg.name, "profile": s["profile"], "hyper": _hyper(salg, s["hyper"], where)}
    return Case(alg, prof, doc["scenario"], doc["description"], len(doc["steps"]), tuple(doc["dtypes"]), groups,
                params=params, grads=grads, objective=objective, schedule=schedule,
                checkpoint_at=inputs.get("checkpoint_at"))


def real_hypers(case: Case) -> list[str]:
    """Names of the real-valued hyperparameters of a case (those a framework may hold in a dtype)."""
    return [n for n, h in case.algorithm.hypers.items() if h.type == "real"]


def emulated(case: Case, dtype: str, round_hypers: bool = False):
    """Rerun ``case`` with every operation rounded to ``dtype``'s significand width.

    With ``round_hypers``, the real hyperparameters are rounded to ``dtype`` first (as a framework
    that holds them in the parameters' dtype does). The exponent range is not emulated.
    """
    rounding = {n: dtype for n in real_hypers(case)} if round_hypers else None
    return run(case, effects=rounding, bits=FORMATS[dtype].precision)


def exact(case: Case):
    """The exact trajectory (default working precision)."""
    return run(case)


__all__ = ["case_from_vector", "emulated", "exact", "real_hypers"]
