"""Small third-party-style adapters for the checker and command-line tests (no framework).

``ExactAdapter`` replays the reference itself: as exact values rounded to float64, or — with
``bits`` — the reference recomputed with every operation rounded to 53 bits (a faithful float64
implementation whose arithmetic is ordered differently). ``PerturbedAdapter`` makes a semantic
change of relative size ``rel`` from step ``at`` on. ``BrokenAdapter`` raises on one scenario.
"""
from optconform.adapters.protocol import AdapterRun, Implementation, Unsupported
from optconform.reference.replay import case_from_vector
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run


def _steps_from_records(records):
    out = []
    for r in records:
        out.append({"t": r.t, "lr": [float(x) for x in r.lr],
                    "params": {n: [float(x) for x in p.data] for n, p in r.params.items()},
                    "state": {n: {k: ([float(x) for x in v.data] if isinstance(v, Tensor) else float(v))
                                  for k, v in s.items()} for n, s in r.state.items()}})
    return out


class ExactAdapter:
    name = "exact"
    framework = "reference"
    algorithms = ("adam", "sgd")
    bits = None

    def available(self):
        return True, ""

    def version(self):
        return "0"

    def profiles(self):
        return {a: "spec" for a in self.algorithms}

    def implementations(self, algorithm):
        return [Implementation(self.name, "replay", "cpu", "float64")]

    def records(self, doc):
        return run(case_from_vector(doc, "spec"), bits=self.bits)

    def run(self, doc, impl):
        return AdapterRun(_steps_from_records(self.records(doc)))


class ReorderedAdapter(ExactAdapter):
    name = "reordered"
    bits = 53


class PerturbedAdapter(ExactAdapter):
    name = "perturbed"
    rel = 1e-12
    at = 3

    def run(self, doc, impl):
        steps = _steps_from_records(self.records(doc))
        for step in steps:
            if step["t"] >= self.at:
                for values in step["params"].values():
                    values[:] = [v * (1 + self.rel) for v in values]
        return AdapterRun(steps)


class BrokenAdapter(ExactAdapter):
    name = "broken"

    def run(self, doc, impl):
        if doc["scenario"] == "probe":
            raise RuntimeError("kernel exploded")
        if doc["scenario"] == "maximize":
            raise Unsupported("no maximize here")
        return super().run(doc, impl)


class OneStepAdapter(ExactAdapter):
    """Injects state: each step of ``doc["inject"]`` recomputed by the reference with every operation
    rounded to 53 bits (a faithful float64 implementation), the resulting parameters scaled by
    1 + ``rel`` from step ``at`` on (``rel`` = 0: no change)."""

    name = "onestep"
    can_inject_state = True
    rel = 0.0
    at = 3

    def run_one_step(self, doc, impl):
        import mpmath

        from optconform.reference.onestep import _one_step, _parse_state
        from optconform.reference.tensor import Tensor as T

        case = case_from_vector(doc, "spec")
        shapes = {n: t.shape for n, t in case.params.items()}
        impl_ = case.algorithm.impl
        templates = {n: impl_.init(p, case.groups[0][1], case.semantics) for n, p in case.params.items()}
        steps = []
        for record, inject in zip(doc["steps"], doc["inject"]):
            t = record["t"]
            params = {n: T.from_values(v, shapes[n]) for n, v in inject["params"].items()}
            if inject["state"] is None:
                state = {n: impl_.init(params[n], case.groups[0][1], case.semantics) for n in params}
            else:
                state = _parse_state(inject["state"], templates, shapes)
            grads = {n: T.from_values(v, shapes[n]) for n, v in inject["grads"].items()}
            scale = 1 + (self.rel if t >= self.at else 0)
            lrs = [mpmath.mpf(x) for x in inject["lr"]]
            p, s, used = _one_step(impl_, case.groups, case, case.semantics, params, state, grads, lrs, t, {}, 53)
            steps.append({"t": t, "lr": [float(x) for x in record["lr"]],
                          "params": {n: [float(x * scale) for x in v.data] for n, v in p.items()},
                          "state": {n: {k: ([float(x) for x in v.data] if isinstance(v, T) else float(v))
                                        for k, v in e.items()} for n, e in s.items()}})
        return AdapterRun(steps, mode="one-step")


class PerturbedOneStepAdapter(OneStepAdapter):
    name = "onestep_perturbed"
    rel = 1e-12


class Float32ArithmeticAdapter(ExactAdapter):
    """Reports float64 but computes every operation at float32's 24-bit significand (as an
    implementation that casts to float32 internally): diagnosis names the precision."""

    name = "float32_inside"
    bits = 24


class StepShiftedAdapter(ExactAdapter):
    """Computes the spec's Adam with the step count one ahead (bias corrections 1 − βᵗ⁺¹)."""

    name = "step_shifted"

    def records(self, doc):
        return run(case_from_vector(doc, "spec"), t_shift=1)
