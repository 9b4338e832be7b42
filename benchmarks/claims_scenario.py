"""How far two semantics are apart on one shipped scenario, in exact arithmetic: the numbers the spec
pages quote ("0.16 relative difference of the final parameters on variant_dampening").

Runs the scenario's case of profile ON (its hyperparameters and inputs), then the same case with
the semantics of each OTHER profile (or ON with ``--axis NAME=VALUE`` changed), and prints the
largest relative difference of the final parameters, max |a − b| / |b| over the elements, b the
ON run (optimizers); for a schedule, of the learning rates of every update. Only the reference
runs: no framework is imported.

    python benchmarks/claims_scenario.py sgd scheduled --on keras --vs torch
    python benchmarks/claims_scenario.py sgd variant_dampening --on torch --axis first_momentum=dampened
"""
from __future__ import annotations

import argparse
import sys

from optconform.reference import UserError, get
from optconform.reference.catalog import final_values, relative_difference, with_semantics
from optconform.reference.numeric import precision
from optconform.reference.scenarios import cases


def _case(alg, profile, scenario):
    found = [c for c in cases(alg, alg.profiles[profile]) if c.scenario == scenario]
    if not found:
        raise UserError(f"{alg.name}/{profile} has no scenario {scenario!r}")
    return found[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("algorithm")
    ap.add_argument("scenario")
    ap.add_argument("--on", default="spec", help="the profile whose case (hyperparameters, inputs) runs")
    ap.add_argument("--vs", action="append", default=[], help="a profile whose semantics run the same case")
    ap.add_argument("--axis", action="append", default=[], help="NAME=VALUE: ON's semantics with this axis changed")
    args = ap.parse_args(argv)
    try:
        alg = get(args.algorithm)
        for name in [args.on, *args.vs]:
            if name not in alg.profiles:
                raise UserError(f"{alg.name} has no profile {name!r}; profiles: {', '.join(alg.profiles)}")
        base = _case(alg, args.on, args.scenario)
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
