"""How far two semantics are apart on one shipped scenario, in exact arithmetic: the numbers the spec
pages quote ("0.16 relative difference of the final parameters on variant_dampening").

Runs the scenario's case of profile ON (its hyperparameters and inputs), then the same case with
the semantics of each OTHER profile (or ON with ``--axis NAME=VALUE`` changed), and prints the
largest relative difference of the final parameters, max |a − b| / |b| over the elements, b the
ON run (optimizers); for a schedule, of the learning rates of every update. Only the reference
runs: no framework is imported.

With ``--effects CODE_PATH --without NAME``, a counterfactual of one declared precision effect: ON's
case runs in float64 with ON's declared effects for that code path (what the framework computes,
every other real hyperparameter held in float64), then again without the effects NAME, and the
first steps print the largest difference of the parameters in float64 ulps of the first run,
max |a − b| / ulp(a): how far a float64 run of the framework would be from the reference had the
profile not declared the effect; then the final parameters' largest relative difference,
max |a − b| / |b| (b the run without), and the same difference against each element's
displacement, max |a − b| / |b − θ₀| (θ₀ the initial parameters): the size of the effect.

    python benchmarks/claims_scenario.py sgd scheduled --on keras --vs torch
    python benchmarks/claims_scenario.py sgd variant_dampening --on torch --axis first_momentum=dampened
    python benchmarks/claims_scenario.py adam defaults --on tf_v1 --effects v1 --without running_power_beta1 \
        --without running_power_beta2
"""
from __future__ import annotations

import argparse
import math
import sys

from optconform.reference import UserError, get
from optconform.reference.catalog import final_values, relative_difference, with_semantics
from optconform.reference.model import precision_effects
from optconform.reference.numeric import precision
from optconform.reference.replay import real_hypers
from optconform.reference.scenarios import cases
from optconform.reference.trajectory import run

SHOWN_STEPS = 3  # steps the counterfactual prints


def _case(alg, profile, scenario):
    found = [c for c in cases(alg, alg.profiles[profile]) if c.scenario == scenario]
    if not found:
        raise UserError(f"{alg.name}/{profile} has no scenario {scenario!r}")
    return found[0]


def _counterfactual(base, code_path: str, without: list) -> None:
    """ON's case in float64 with its declared effects for ``code_path``, and without ``without``:
    the largest parameter difference of each of the first steps, in float64 ulps of the first."""
    effects = {**{n: "float64" for n in real_hypers(base)}, **precision_effects(base.profile, code_path, "float64")}
    missing = [n for n in without if n not in effects]
    if missing:
        raise UserError(f"{base.profile.name} declares no effect {', '.join(missing)} for code path {code_path!r}; "
                        f"declared: {', '.join(sorted(effects))}")
    less = {n: ("float64" if n in real_hypers(base) else None) for n in without}
    reduced = {k: v for k, v in {**effects, **less}.items() if v is not None}
    declared, counter = run(base, effects=effects), run(base, effects=reduced)
    for a, b in list(zip(declared, counter))[:SHOWN_STEPS]:
        ulps = max(abs(float(x - y)) / math.ulp(float(x)) for name in a.params
                   for x, y in zip(a.params[name].data, b.params[name].data))
        print(f"step {a.t}: without {', '.join(without)}: parameters {ulps:.2g} float64 ulps off")
    names = sorted(declared[-1].params)
    ours = [x for n in names for x in declared[-1].params[n].data]
    theirs = [x for n in names for x in counter[-1].params[n].data]
    start = [x for n in names for x in base.params[n].data]
    of_displacement = relative_difference([a - x0 for a, x0 in zip(ours, start)],
                                          [b - x0 for b, x0 in zip(theirs, start)])
    print(f"final (step {declared[-1].t}): without {', '.join(without)}: largest relative difference "
          f"{float(relative_difference(ours, theirs)):.2g}, of the displacement {float(of_displacement):.2g}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("algorithm")
    ap.add_argument("scenario")
    ap.add_argument("--on", default="spec", help="the profile whose case (hyperparameters, inputs) runs")
    ap.add_argument("--vs", action="append", default=[], help="a profile whose semantics run the same case")
    ap.add_argument("--axis", action="append", default=[], help="NAME=VALUE: ON's semantics with this axis changed")
    ap.add_argument("--effects", metavar="CODE_PATH", help="the counterfactual: ON's declared effects for this code path")
    ap.add_argument("--without", action="append", default=[], metavar="NAME",
                    help="with --effects: a declared effect the counterfactual leaves out (repeatable)")
    args = ap.parse_args(argv)
    if bool(args.effects) != bool(args.without):
        ap.error("--effects and --without go together")
    try:
        alg = get(args.algorithm)
        for name in [args.on, *args.vs]:
            if name not in alg.profiles:
                raise UserError(f"{alg.name} has no profile {name!r}; profiles: {', '.join(alg.profiles)}")
        base = _case(alg, args.on, args.scenario)
        if args.effects:
            with precision():
                _counterfactual(base, args.effects, args.without)
            return 0
        others = [(f"{name} semantics", alg.profiles[name].semantics) for name in args.vs]
        if args.axis:
            sem = dict(alg.profiles[args.on].semantics)
            for item in args.axis:
                axis, _, value = item.partition("=")
                if axis not in sem:
                    raise UserError(f"{alg.name} has no axis {axis!r}")
                sem[axis] = value
            others.append((f"{args.on} with {', '.join(args.axis)}", sem))
        with precision():
            ours = final_values(base)
            print(f"{alg.name} {args.scenario} ({base.steps} steps, {args.on}'s case): final values "
                  f"[{', '.join(f'{float(x):.6g}' for x in ours[:4])}{', ...' if len(ours) > 4 else ''}]")
            for label, sem in others:
                other = base.__class__(**{**base.__dict__, "profile": with_semantics(base.profile, sem)})
                size = relative_difference(final_values(other), ours)
                print(f"{label}: largest relative difference {float(size):.2g}")
    except UserError as exc:
        print(f"claims_scenario: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
