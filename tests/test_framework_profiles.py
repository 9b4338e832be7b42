"""Every declared framework profile, confirmed against the real framework in float64.

For each (algorithm, framework profile) the framework runs every open-loop scenario that applies
to the profile (with the profile's own defaults for ``defaults``, built from the constructor's
defaults), and must match the reference under the *declared* semantics to within float64
rounding.  Then, for every axis, every other value must be *excluded*: some scenario must
separate it from the framework's trajectory.  That is what "confirmed numerically" means here: the
declared value fits and the alternatives do not.  Where a driver can read a state entry (the first
moment ``exp_avg``: ``drivers.Trajectory.states``), it is compared as well, for the declared value
and the alternatives alike: some axes (``first_moment``) change only the state once the parameters
are NaN either way.

Runs when the framework is installed, skips cleanly (one reason line) when it is not.
"""
from __future__ import annotations

import dataclasses
import importlib.util

import mpmath
import pytest

from optconform.reference.model import algorithms, precision_effects
from optconform.reference.scenarios import cases
from optconform.reference.tolerance import error_ulps, float64_bound
from optconform.reference.trajectory import run

FRAMEWORK_OF = {"torch": "torch", "optax": "optax", "keras": "keras", "tf_keras": "tf_keras"}
CLOSED_LOOP = ("quadratic", "rosenbrock")


def _params():
    out = []
    for alg in algorithms().values():
        for pname, profile in alg.profiles.items():
            if profile.framework in FRAMEWORK_OF:
                out.append(pytest.param(alg.name, pname, id=f"{alg.name}-{pname}",
                                        marks=pytest.mark.framework(FRAMEWORK_OF[profile.framework])))
    return out


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _backend():
    try:
        import keras

        return keras.backend.backend()
    except ImportError:
        return None


# the code path the drivers run (torch's default on CPU is the for-loop implementation)
DEFAULT_CODE_PATH = {"torch": "forloop"}


def rounding_for(profile) -> dict:
    """The declared precision effects that apply where this test runs: the framework's default
    code path, in float64, on the Keras backend installed (tf_keras always runs TensorFlow)."""
    backend = "tensorflow" if profile.framework == "tf_keras" else _backend() if profile.framework == "keras" else None
    return precision_effects(profile, code_path=DEFAULT_CODE_PATH.get(profile.framework), param_dtype="float64",
                             backend=backend)


def _ref_params(case, rounding):
    records = run(case, round_hypers=rounding)
    if case.algorithm.kind == "optimizer":
        return [{n: [float(x) for x in t.data] for n, t in r.params.items()} for r in records], records
    return [float(r.lr) for r in records], records


def optimizer_mismatch(case, fw_traj, ref_records) -> str | None:
    """First element outside the float64 bound of spec/tolerance.md, or None."""
    previous = {n: t.data for n, t in case.params.items()}
    for t, (fw, rec) in enumerate(zip(fw_traj, ref_records), 1):
        for n, tensor in rec.params.items():
            got = fw[n].reshape(-1)
            for i, exact in enumerate(tensor.data):
                scale = max(abs(float(exact)), abs(float(previous[n][i]))) if mpmath.isfinite(exact) else 0.0
                err = error_ulps(float(got[i]), exact, scale)
                if err > float64_bound(t):
                    return (f"step {t} {n}[{i}]: framework {got[i]!r}, reference {mpmath.nstr(exact, 17)} "
                            f"({err:.3g} ulps > {float64_bound(t)})")
        previous = {n: tn.data for n, tn in rec.params.items()}
    return None


def state_mismatch(fw_traj, ref_records) -> str | None:
    """First state element the driver read outside the float64 bound, at the scale of the entry's
    exact value and its previous value, or None (also when the driver reads no state)."""
    previous: dict = {}
    for t, (states, rec) in enumerate(zip(getattr(fw_traj, "states", []), ref_records), 1):
        for entry, per_param in states.items():
            for n, got in per_param.items():
                exact_tensor = rec.state.get(n, {}).get(entry)
                if exact_tensor is None or not hasattr(exact_tensor, "data"):
                    continue  # the reference keeps no such entry for this algorithm
                got = got.reshape(-1)
                for i, exact in enumerate(exact_tensor.data):
                    before = previous.get((n, entry, i), 0)
                    scale = (max(abs(float(exact)), abs(float(before)) if mpmath.isfinite(before) else 0.0)
                             if mpmath.isfinite(exact) else 0.0)
                    err = error_ulps(float(got[i]), exact, scale)
                    if err > float64_bound(t):
                        return (f"step {t} state {entry} of {n}[{i}]: framework {got[i]!r}, reference "
                                f"{mpmath.nstr(exact, 17)} ({err:.3g} ulps > {float64_bound(t)})")
                    previous[(n, entry, i)] = exact
    return None


def schedule_mismatch(fw, ref_records, base_lr) -> str | None:
    """Schedules: update k is step k + 1, at the scale max(|x_k|, |x_k-1|, |η|) (spec/tolerance.md)."""
    previous = abs(float(base_lr))
    for k, (got, rec) in enumerate(zip(fw, ref_records)):
        exact = rec.lr
        value = abs(float(exact)) if mpmath.isfinite(exact) else 0.0
        scale = max(value, previous, abs(float(base_lr)))
        err = error_ulps(float(got), exact, scale)
        if err > float64_bound(k + 1):
            return f"k={k}: framework {got!r}, reference {mpmath.nstr(exact, 17)} ({err:.3g} ulps)"
        previous = value
    return None


def _driveable(case):
    if case.algorithm.kind == "schedule":
        return True
    return case.scenario not in CLOSED_LOOP and case.checkpoint_at is None


def _with_semantics(case, semantics):
    profile = dataclasses.replace(case.profile, semantics=semantics)
    return dataclasses.replace(case, profile=profile)


@pytest.mark.parametrize("algorithm,profile", _params())
def test_profile_matches_framework(algorithm, profile):
    module = FRAMEWORK_OF[algorithms()[algorithm].profiles[profile].framework]
    if not _installed(module):
        pytest.skip(f"{module} is not installed")
    from .frameworks import drivers  # numpy comes with every framework, not with the reference

    alg = algorithms()[algorithm]
    prof = alg.profiles[profile]
    rounding = rounding_for(prof)
    hook = drivers.hooks(alg.name)
    skip = getattr(hook, "skip", None) if hook else None
    runs = []  # (case, framework trajectory)
    failures = []
    for case in cases(alg, prof):
        if not _driveable(case):
            continue
        reason = skip(profile, case) if skip else None
        if reason:
            continue
        try:
            if alg.kind == "optimizer":
                fw = drivers.RUNNERS[prof.framework](alg, prof, case, defaults_only=case.scenario == "defaults")
            else:
                fw = drivers.SCHEDULE_RUNNERS[prof.framework](alg, prof, case.groups[0][1], case.steps)
        except NotImplementedError:
            continue
        _, records = _ref_params(case, rounding)
        problem = ((optimizer_mismatch(case, fw, records) or state_mismatch(fw, records)) if alg.kind == "optimizer"
                   else schedule_mismatch(fw, records, case.groups[0][1].lr))
        if problem:
            failures.append(f"{case.scenario}: {problem}")
        runs.append((case, fw))
    assert runs, f"no scenario of {algorithm} could be driven through {profile}"
    assert not failures, f"{algorithm} [{profile}] does not match its declared semantics:\n" + "\n".join(failures)
    # every alternative value of every axis must be excluded by some scenario
    unexcluded = []
    for axis, values in alg.axes.items():
        declared = prof.semantics[axis]
        for alt in values:
            if alt == declared:
                continue
            semantics = dict(prof.semantics, **{axis: alt})
            excluded = False
            relevant = False
            for case, fw in runs:
                if not alg.axis_active(axis, [h for _, h in case.groups], case.has_nonfinite_inputs()):
                    continue
                relevant = True
                alt_case = _with_semantics(case, semantics)
                _, records = _ref_params(alt_case, rounding)
                problem = ((optimizer_mismatch(case, fw, records) or state_mismatch(fw, records))
                           if alg.kind == "optimizer" else schedule_mismatch(fw, records, case.groups[0][1].lr))
                if problem:
                    excluded = True
                    break
            if relevant and not excluded:
                unexcluded.append(f"{axis}={alt}")
    assert not unexcluded, (f"{algorithm} [{profile}]: no scenario tells the declared semantics from "
                            + ", ".join(unexcluded) + " — add a scenario or variant that separates them")
