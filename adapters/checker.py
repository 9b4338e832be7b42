"""The checker: spec/tolerance.md, implemented exactly, and nothing else.

For each element (parameter, state entry, learning rate) after step t, with exact value x_t from
the vector and the implementation's value y_t in dtype d:

    σ_t = max(|x_t|, |x_{t−1}|)             (schedules: also |η|, the base learning rate)
    err_t = |y_t − x_t| / ulp_d(σ_t)         rel_t = |y_t − x_t| / max(|x_t|, ulp_d(0))
    bound_t = max(8t, 4·S_t)   float64       bound_t = max(2t, 4·S_t)   other dtypes

S_t is the rounding spread the vector carries for d (``spread``, computed when it was generated:
see reference/vectors.py and spec/tolerance.md). Exact values are held as double-double pairs, so
float64 errors are measured to far below an ulp. NaN must meet NaN and an infinity the
same infinity. The verdict is ``pass``, ``fail`` (with the first failing step and element, and
whether the parameters, the state or the learning rate diverged first), ``error`` or ``skip``.

Imports no framework.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field

import mpmath

from optconform.reference import disk_cache
from optconform.reference.numeric import precision, to_mpf
from optconform.reference.tolerance import bound, ulp, ulp_float  # bound: the one bound of spec/tolerance.md

from .protocol import AdapterRun, Implementation

disk_cache.also_depends_on(__file__)  # the prepared comparisons it caches are computed here


@dataclass
class CaseResult:
    """One case's verdict; ``as_json`` is the DESIGN.md case object."""

    algorithm: str
    profile: str
    scenario: str
    adapter: str
    code_path: str
    device: str
    dtype: str
    mode: str = "trajectory"
    verdict: str = "pass"
    max_ulp: float | None = None
    max_rel: float | None = None
    first_failing_step: int | None = None
    first_failing_element: str | None = None
    diverged_first: str | None = None
    bound_ulp: float | None = None
    first_failures: dict = field(default_factory=dict)  # {params|state|lr: {step, element}}: where each first failed
    compared: dict = field(default_factory=dict)  # {params|state|lr: number of values compared}
    message: str = ""
    diagnosis: dict | None = None
    declared_divergences: list = field(default_factory=list)
    precision_effects: dict = field(default_factory=dict)  # declared effects applied to the reference
    known_finding: str = ""  # the profile's note when a declared finding covers this fail/error
    vector: str = ""
    seconds: float = 0.0
    notes: list = field(default_factory=list)  # the adapter's notes, the case's Python warnings and log records
    errors_by_step: list = field(default_factory=list)  # max ulp error per step (for plots)
    bounds_by_step: list = field(default_factory=list)

    @property
    def id(self) -> str:
        suffix = "" if self.mode == "trajectory" else f"-{self.mode}"
        return (f"{self.algorithm}-{self.profile}-{self.scenario}-{self.adapter}-{self.code_path}-{self.device}-"
                f"{self.dtype}{suffix}")

    def as_json(self) -> dict:
        out = asdict(self)
        out["id"] = self.id
        for key in ("max_ulp", "max_rel", "bound_ulp"):
            v = out[key]
            if v is not None and not math.isfinite(v):
                out[key] = str(v)
        out["errors_by_step"] = [e if e is None or math.isfinite(e) else str(e) for e in out["errors_by_step"]]
        return out


# --- exact values of a vector, parsed once ----------------------------------------------------


def _flat_steps(doc: dict) -> list:
    """Per step: (kind, label) of every value, in vector order (reference.tolerance.flatten)."""
    out = []
    for step in doc["steps"]:
        items = []
        if doc["kind"] == "optimizer":
            for name, values in step["params"].items():
                items += [("params", f"{name}[{i}]", v) for i, v in enumerate(values)]
            for name, entries in step["state"].items():
                for entry, values in entries.items():
                    if isinstance(values, list):
                        items += [("state", f"{name}.{entry}[{i}]", v) for i, v in enumerate(values)]
                    else:
                        items.append(("state", f"{name}.{entry}", values))
            items += [("lr", f"lr[{g}]", v) for g, v in enumerate(step["lr"])]
        else:
            items.append(("lr", "lr", step["lr"]))
            if "momentum" in step:
                items.append(("state", "momentum", step["momentum"]))
        out.append(items)
    return out


def _observed(doc: dict, run: AdapterRun) -> list:
    """The implementation's values in the same order as :func:`_flat_steps` (None where absent)."""
    out = []
    for step, mine in zip(doc["steps"], run.steps):
        items = []
        if doc["kind"] == "optimizer":
            for name, values in step["params"].items():
                got = mine.get("params", {}).get(name)
                items += [got[i] if got is not None and i < len(got) else None for i in range(len(values))]
            for name, entries in step["state"].items():
                state = mine.get("state", {}).get(name, {})
                for entry, values in entries.items():
                    got = state.get(entry)
                    if isinstance(values, list):
                        items += [got[i] if isinstance(got, (list, tuple)) and i < len(got) else None
                                  for i in range(len(values))]
                    else:
                        items.append(got if not isinstance(got, (list, tuple)) else None)
            lr = mine.get("lr")
            items += [lr[g] if lr is not None and g < len(lr) else None for g in range(len(step["lr"]))]
        else:
            items.append(mine.get("lr"))
            if "momentum" in step:
                items.append(mine.get("momentum"))
        out.append(items)
    return out


@dataclass
class _Prepared:
    """A vector's exact values as double-double pairs (hi + lo), and the exponent of σ of every
    element, from which ulp_d(σ) follows for any dtype (tolerance.ulp_float)."""

    labels: list
    hi: list
    lo: list
    finite: list
    exponents: list  # tolerance.lead_exponent(σ), None where σ = 0
    ulps: dict = field(default_factory=dict)

    def ulp_table(self, dtype: str) -> list:
        if dtype not in self.ulps:
            self.ulps[dtype] = [[ulp_float(e, dtype) for e in row] for row in self.exponents]
        return self.ulps[dtype]


@functools.lru_cache(maxsize=2048)
def _prepare(doc_json: str) -> _Prepared:
    """The comparison's view of a vector document (its JSON text): computed once per text and
    kept on disk (disk_cache), since every code path and dtype of the vector needs the same."""
    data = disk_cache.cached("prepared", disk_cache.key(doc_json), lambda: _prepare_exact(doc_json))
    labels, hi, lo, finite, exponents = data
    return _Prepared([[tuple(pair) for pair in row] for row in labels], hi, lo, finite, exponents)


def _prepare_exact(doc_json: str) -> tuple:
    """(labels, hi, lo, finite, exponents) of a vector document, from its decimal strings."""
    import json

    from optconform.reference.tolerance import lead_exponent, scales

    doc = json.loads(doc_json)
    flat = _flat_steps(doc)
    with precision():
        exact = [[to_mpf(v) for _, _, v in items] for items in flat]
        if doc["kind"] == "optimizer":
            initial = [to_mpf(v) for t in doc["inputs"]["params"].values() for v in t["values"]]
            sigma = scales(initial, exact)
        else:
            sigma = scales([], exact, base_lr=to_mpf(doc["inputs"]["groups"][0]["hyper"]["lr"]))
        hi = [[float(x) for x in row] for row in exact]
        lo = [[float(x - h) if mpmath.isfinite(x) else 0.0 for x, h in zip(row, hrow)]
              for row, hrow in zip(exact, hi)]
        finite = [[bool(mpmath.isfinite(x)) for x in row] for row in exact]
        exponents = [[lead_exponent(s) for s in row] for row in sigma]
    labels = [[(kind, label) for kind, label, _ in items] for items in flat]
    return labels, hi, lo, finite, exponents


# --- the comparison ---------------------------------------------------------------------------


def compare(doc: dict, run: AdapterRun, impl: Implementation, profile: str, key: str = "",
            doc_json: str | None = None) -> CaseResult:
    """Compare an adapter's run of a vector with it; returns the case's verdict and metrics.

    The rounding spread S_t comes with the vector (``spread``, computed when it was generated);
    a vector without one is held to the floor of the bound alone.
    """
    import json

    text = doc_json if doc_json is not None else json.dumps(doc)
    result = CaseResult(doc["algorithm"], profile, doc["scenario"], impl.adapter, impl.code_path, impl.device,
                        impl.dtype, mode=run.mode, vector=key)
    prep = _prepare(text)
    observed = _observed(doc, run)
    if len(observed) < len(prep.hi):
        result.verdict = "fail"
        result.first_failing_step = len(observed) + 1 if doc["kind"] == "optimizer" else len(observed)
        result.message = f"the implementation returned {len(observed)} of {len(prep.hi)} steps"
        return result
    spreads = doc.get("spread", {}).get(impl.dtype, [])
    one_step = doc.get("mode") == "one-step"
    ulps = prep.ulp_table(impl.dtype)
    floor_ulp = float(ulp(0, impl.dtype))
    max_ulp = max_rel = 0.0
    first_by_kind: dict = {}
    compared = {"params": 0, "state": 0, "lr": 0}
    for i, ys in enumerate(observed):
        t = i + 1
        # one-step mode: every step starts from the exact state, so the floor is that of one step
        b = bound(1 if one_step else t, spreads[i] if i < len(spreads) else 0.0, impl.dtype)
        step_worst = 0.0
        for (kind, label), hi, lo, fin, u, y in zip(prep.labels[i], prep.hi[i], prep.lo[i], prep.finite[i],
                                                     ulps[i], ys):
            if y is None:
                continue
            compared[kind] += 1
            y = float(y)
            if not fin or not math.isfinite(y):
                same = (math.isnan(hi) and math.isnan(y)) or (math.isinf(hi) and hi == y)
                err = rel = 0.0 if same else math.inf
            else:
                diff = abs((y - hi) - lo)
                err = diff / u
                rel = diff / max(abs(hi), floor_ulp)
            if err > step_worst:
                step_worst = err
            if rel > max_rel:
                max_rel = rel
            if err > b and kind not in first_by_kind:
                first_by_kind[kind] = (t, label, err, b, hi, y)
        max_ulp = max(max_ulp, step_worst)
        result.errors_by_step.append(step_worst)
        result.bounds_by_step.append(b)
    result.max_ulp, result.max_rel = max_ulp, max_rel
    result.compared = compared
    if first_by_kind:
        kind, (t, label, err, b, x, y) = min(first_by_kind.items(), key=lambda kv: (kv[1][0], _ORDER[kv[0]]))
        result.first_failures = {k: {"step": v[0] if doc["kind"] == "optimizer" else v[0] - 1, "element": v[1]}
                                 for k, v in first_by_kind.items()}
        result.verdict = "fail"
        result.first_failing_step = t if doc["kind"] == "optimizer" else t - 1
        result.first_failing_element = label
        result.diverged_first = kind
        result.bound_ulp = b
        where = f"step {t}" if doc["kind"] == "optimizer" else f"k={t - 1}"
        result.message = (f"{where}, {kind} {label}: got {y!r}, exact {x!r} ({err:.3g} ulps > bound {b:.3g})")
    return result


_ORDER = {"params": 0, "state": 1, "lr": 2}
