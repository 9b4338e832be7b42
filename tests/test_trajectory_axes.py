"""``optconform trajectory --axis`` runs every value of every axis of every algorithm: the exact
calculator covers the whole semantic space, not only the declared profiles."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import pytest

from optconform.adapters.cli import main
from optconform.reference.model import algorithms
from optconform.reference.numeric import to_decimal, to_mpf
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

POINTS = [(alg, axis, value) for alg in algorithms().values() for axis, values in alg.axes.items()
          for value in values]
PARAMS, GRADS, STEPS = ["1", "-2"], ["0.5", "0.25"], 3


def _trajectory(*argv) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["trajectory", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


def _schedule_settings(alg) -> dict:
    """The hyperparameters a schedule's scenarios must give (no usable default), as --set text."""
    out = {}
    for name, value in alg.scenario_hyper.get("defaults", {}).items():
        out[name] = (json.dumps(value) if isinstance(value, (list, dict)) else
                     str(value).lower() if isinstance(value, bool) else str(value))
    return out


@pytest.mark.parametrize("alg,axis,value", POINTS, ids=[f"{a.name}-{x}={v}" for a, x, v in POINTS])
def test_every_axis_value_runs_and_is_the_reference_at_that_point(alg, axis, value):
    spec = alg.profiles["spec"]
    settings = {} if alg.kind == "optimizer" else _schedule_settings(alg)
    given = [arg for name, text in settings.items() for arg in ("--set", f"{name}={text}")]
    if alg.kind == "optimizer":
        given += ["--params", ",".join(PARAMS), "--grads", ",".join(GRADS)]
    doc = _trajectory(alg.name, "--axis", f"{axis}={value}", *given, "--steps", str(STEPS), "--digits", "30")
    assert doc["semantics"] == {**spec.semantics, axis: value}
    assert doc["axes"] == ({} if spec.semantics[axis] == value else {axis: value})
    # the same point of the semantic space, computed directly by the reference
    profile = dataclasses.replace(spec, semantics={**spec.semantics, axis: value})
    h = alg.resolve("spec", settings)
    if alg.kind == "optimizer":
        case = Case(alg, profile, "t", "", STEPS, (), [(("x",), h)],
                    params={"x": Tensor((2,), [to_mpf(v) for v in PARAMS])},
                    grads=[{"x": Tensor((2,), [to_mpf(v) for v in GRADS])}] * STEPS)
        want = [[to_decimal(x, 30) for x in r.params["x"].data] for r in run(case)]
        assert [s["params"] for s in doc["steps"]] == want
    else:
        case = Case(alg, profile, "t", "", STEPS, (), [((), h)],
                    metrics=alg.impl.metrics(STEPS) if hasattr(alg.impl, "metrics") else None)
        assert [s["lr"] for s in doc["steps"]] == [to_decimal(r.lr, 30) for r in run(case)]


def test_a_value_off_the_profiles_changes_the_answer():
    """bias_correction = off, which no framework profile of Adam takes, gives another first step."""
    on = _trajectory("adam", "--params", "1", "--grads", "0.5", "--set", "lr=0.1")
    off = _trajectory("adam", "--axis", "bias_correction=off", "--params", "1", "--grads", "0.5", "--set", "lr=0.1")
    assert on["steps"][0]["params"][0].startswith("0.900000001999")
    assert off["steps"][0]["params"][0].startswith("0.683772433")
