"""Keras's own golden trajectories as peer data (issue 8).

Keras ships golden trajectories in its optimizer tests: ``keras/src/optimizers/<name>_test.py``,
``test_correctness_with_golden``. Each builds an optimizer with some keywords, a variable θ₀, and
applies a first gradient, then repeated gradients, asserting between steps that

    |θ_t − golden_t| ≤ atol + rtol·|golden_t|          (numpy's assert_allclose, element-wise)

This module turns them into plain data and into optconform vectors, so that a Keras release that
changes its own numbers shows up, and so that Keras's numbers are a second, independent check of
the reference under the ``keras`` profile. Their tolerances are loose (rtol = atol = 5e-4 in
Keras 3.15.1, about one step of the default learning rate), so they tell apart only the grossest
semantic choices; the precise check stays the checker's comparison of the adapter's run of the
same inputs with the reference (tests/test_keras_peer.py does both):

* **Extraction** (:func:`extract_all`, imports Keras on its TensorFlow backend): every installed
  test file that has the method is imported and the method is run under unittest while recording
  what it does, instead of reading its numbers by hand: the optimizer's constructor keywords (as
  passed) and ``get_config()``, the variables' dtype and values before the first update, every
  gradient of every ``apply``/``apply_gradients`` call (cast to the variable's dtype, as every
  Keras ``update_step`` casts it), and every ``assertAllClose(variable, expected, atol, rtol)``:
  which variable, after how many updates, the expected array and Keras's tolerances. A test whose
  pattern does not fit (no optimizer or several, an assertion on something other than a variable
  the optimizer updates, an error) raises :class:`GoldenError` naming the file and what is wrong.
* **The snapshot** ``vectors/peer/keras_golden.json`` (:func:`write_snapshot`; ``python -m
  optconform.adapters.frameworks.keras_peer --write``): the extracted goldens with the Keras version
  they came from, reviewed as a diff like the vectors. It lies one level above the vectors'
  ``<algorithm>/<profile>/<scenario>.json`` files, so generation, ``generate --check`` and the
  manifest never see it.
* **Mapping** (:func:`map_golden`): the Keras class and its keywords are matched with the
  ``keras`` profile whose ``api`` names that class (literal keywords in the ``api`` must match the
  golden's: ``keras.optimizers.Adam(amsgrad=True)`` is the amsgrad algorithm), and each keyword is
  renamed to its canonical hyperparameter through that profile's ``names`` (the one copy of the
  renaming). Keywords the profile does not name are either declared inert (:data:`INERT`, with the
  source line that makes them so, and checked bit for bit by the tests) or make the golden
  :class:`NotCovered`, as does a class no profile names (Ftrl): the reason says which.
* **Conversion** (:func:`vector_of`): the golden's inputs as an optconform scenario
  (``keras_golden_<name>``: its θ₀, gradient stream, dtype and hyperparameters) whose exact
  trajectory the reference computes under the matched profile
  (reference.vectors.vector_document), so the keras adapter runs it and adapters.checker.compare
  judges it like any vector.

Run as a module: no argument lists every golden with its mapping (or why it is not covered);
``--write`` refreshes the snapshot from the installed Keras; ``--check`` compares the installed
Keras's goldens with the snapshot (exit 1 when they differ). Errors are one line, exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
import unittest
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from optconform.reference.errors import UserError
from optconform.reference.model import Namespace, algorithms
from optconform.reference.vectors import atomic_write, default_vector_dir, dumps, vector_document

from .engine import resolve_api

FORMAT = "optconform-keras-golden/1"
SNAPSHOT = Path("peer") / "keras_golden.json"  # under the vector folder
METHOD = "test_correctness_with_golden"
PACKAGE = "keras.src.optimizers"
FRAMEWORK = "keras"  # the profiles a golden is mapped to: those of this framework
SCENARIO_PREFIX = "keras_golden_"
REFRESH = "python -m optconform.adapters.frameworks.keras_peer --write"


class GoldenError(UserError):
    """An installed Keras test file whose golden test no longer fits the recorded pattern."""


class NotCovered(Exception):
    """A golden optconform cannot run: the reason says what is missing (a profile, a keyword's name)."""


@dataclass(frozen=True)
class Inert:
    """A Keras keyword with no canonical hyperparameter that cannot change the trajectory while the
    keywords of ``when`` have those values (the golden's effective ones: passed, or Keras's
    default from ``get_config()``). The vector is built without it; tests/test_keras_peer.py runs
    Keras with and without it on the golden's inputs and requires bit-identical parameters."""

    api: str
    keyword: str
    when: dict = field(default_factory=dict)
    reason: str = ""


INERT = (
    Inert("keras.optimizers.Adafactor", "relative_step", {},
          "keras/src/optimizers/adafactor.py update_step: relative_step=True only replaces lr by "
          "min(lr, 1/sqrt(t)) before rho_t = min(lr, 1/sqrt(t)) is taken anyway (min is idempotent)"),
    Inert("keras.optimizers.SGD", "nesterov", {"momentum": 0},
          "keras/src/optimizers/sgd.py update_step: the nesterov branch is inside `if self.momentum != 0`; "
          "with momentum 0 the step is θ − ηg either way (the canonical sgd rejects nesterov without momentum)"),
)


# --- Keras, imported once, quietly, on its TensorFlow backend ------------------------------------------


def _flavour():
    """The keras adapter's Keras 3 flavour: its quiet import, variables, tensors and numpy reads."""
    from .keras_adapter import KerasAdapter

    return KerasAdapter.flavour


def _keras():
    """Keras 3, imported once and quietly by the keras adapter (TensorFlow backend unless
    KERAS_BACKEND already says otherwise)."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return _flavour().module


def _keras_on_tensorflow():
    keras = _keras()
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise UserError(f"Keras's goldens are extracted on its TensorFlow backend, but Keras runs on {backend} "
                        "here (unset KERAS_BACKEND or set it to tensorflow)")
    return keras


# --- extraction ------------------------------------------------------------------------------------------


def golden_test_files() -> list[Path]:
    """The installed ``keras/src/optimizers/*_test.py`` files that define the golden test method."""
    _keras()  # finding the package imports Keras (and TensorFlow): quietly, first
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"{PACKAGE} is not installed (pip install keras)")
    folder = Path(list(spec.submodule_search_locations)[0])
    return [p for p in sorted(folder.glob("*_test.py")) if f"def {METHOD}(" in p.read_text(encoding="utf-8")]


def _plain(value):
    """A keyword or config value as JSON data (numbers, bools, strings, None, lists, dicts)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return {"unrepresentable": f"{type(value).__name__}: {value!r}"}


class _Recorder:
    """What one golden test method does, recorded while it runs (see the module docstring)."""

    def __init__(self, keras, where: str):
        import numpy as np

        from keras.src.backend import standardize_dtype

        self.np = np
        self.keras = keras
        self.numpy = _flavour().numpy  # a copy of a variable's or tensor's value
        self.standardize = standardize_dtype
        self.where = where
        self.optimizers: list = []  # (instance, class, keywords as passed)
        self.variables: list = []  # the updated variables, in the order of the first update
        self.initial: list = []
        self.grads: list = []  # per update: [array per variable]
        self.checks: list = []  # (variable index, after_step, expected array, atol, rtol)
        self.problems: list = []

    def constructor(self, cls):
        original = cls.__init__
        signature = inspect.signature(original)
        recorder = self

        def __init__(self, *args, **kwargs):
            if type(self) is cls:
                bound = signature.bind(self, *args, **kwargs)
                passed = {k: v for k, v in bound.arguments.items() if k != "self"}
                kw = passed.pop(next((p.name for p in signature.parameters.values()
                                      if p.kind is p.VAR_KEYWORD), ""), {})
                recorder.optimizers.append((self, cls, {**passed, **kw}))
            original(self, *args, **kwargs)

        return __init__

    def apply(self, original):
        recorder = self

        def apply(opt, grads, trainable_variables=None):
            grads = list(grads)
            variables = list(trainable_variables) if trainable_variables is not None else list(opt._trainable_variables)
            recorder.update(grads, variables)
            return original(opt, grads, trainable_variables if trainable_variables is None else variables)

        return apply

    def update(self, grads, variables) -> None:
        if not self.variables:
            self.variables = list(variables)
            self.initial = [self.numpy(v) for v in variables]
        elif [id(v) for v in variables] != [id(v) for v in self.variables]:
            self.problems.append("an update is applied to other variables than the first one")
            return
        self.grads.append([self.numpy(g).astype(self.standardize(v.dtype)) for g, v in zip(grads, variables)])

    def assert_all_close(self, original):
        signature = inspect.signature(original)
        recorder = self

        def assertAllClose(test, *args, **kwargs):  # noqa: N802 - Keras's name
            bound = signature.bind(test, *args, **kwargs)
            bound.apply_defaults()
            actual, desired = bound.arguments["actual"], bound.arguments["desired"]
            index = next((i for i, v in enumerate(recorder.variables) if v is actual), None)
            if index is None:
                recorder.problems.append("assertAllClose compares something other than a variable the optimizer "
                                         f"updates ({type(actual).__name__})")
                return
            recorder.checks.append((index, len(recorder.grads), recorder.np.asarray(recorder.numpy(desired),
                                                                                    dtype=recorder.np.float64),
                                    float(bound.arguments["atol"]), float(bound.arguments["rtol"])))

        return assertAllClose


def _public_name(keras, cls) -> str:
    if getattr(keras.optimizers, cls.__name__, None) is not cls:
        raise GoldenError(f"{cls.__module__}.{cls.__name__} is not keras.optimizers.{cls.__name__}")
    return f"keras.optimizers.{cls.__name__}"


def extract(path: Path) -> dict:
    """The golden of one installed test file, as plain data (see the module docstring)."""
    keras = _keras_on_tensorflow()
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    name = path.name
    where = f"keras/src/optimizers/{name}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the test file's pytest marks, unknown outside Keras's conftest
            module = importlib.import_module(f"{PACKAGE}.{path.stem}")
    except Exception as exc:  # noqa: BLE001 - any import failure of a test file is reported the same way
        raise GoldenError(f"{where}: cannot be imported ({type(exc).__name__}: {exc})") from None
    tests = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, unittest.TestCase) and METHOD in vars(c)]
    if len(tests) != 1:
        raise GoldenError(f"{where}: expected one TestCase with {METHOD}, found {len(tests)}")
    test_cls = tests[0]
    # every optimizer class the test can reach: its own imports and the public keras.optimizers
    reachable = list(vars(module).values()) + list(vars(keras.optimizers).values())
    classes = {c for c in reachable if isinstance(c, type) and issubclass(c, BaseOptimizer)}
    rec = _Recorder(keras, where)
    with contextlib.ExitStack() as stack:
        for cls in classes:
            stack.enter_context(mock.patch.object(cls, "__init__", rec.constructor(cls)))
        stack.enter_context(mock.patch.object(BaseOptimizer, "apply", rec.apply(BaseOptimizer.apply)))
        stack.enter_context(mock.patch.object(test_cls, "assertAllClose",
                                              rec.assert_all_close(test_cls.assertAllClose)))
        result = unittest.TestResult()
        test_cls(METHOD).run(result)
    for _, trace in result.errors + result.failures:
        last = [line for line in trace.strip().splitlines() if line.strip()][-1]
        raise GoldenError(f"{where}: {test_cls.__name__}.{METHOD} failed while recorded: {last.strip()}")
    if result.skipped:
        raise GoldenError(f"{where}: {test_cls.__name__}.{METHOD} skipped itself: {result.skipped[0][1]}")
    problems = list(rec.problems)
    if len(rec.optimizers) != 1:
        problems.append(f"expected one optimizer to be built, found {len(rec.optimizers)}")
    if not rec.grads:
        problems.append("no update was applied")
    if not rec.checks:
        problems.append("no assertAllClose on an updated variable")
    dtypes = {rec.standardize(v.dtype) for v in rec.variables}
    if len(dtypes) > 1:
        problems.append(f"variables of several dtypes ({', '.join(sorted(dtypes))})")
    if problems:
        raise GoldenError(f"{where}: {test_cls.__name__}.{METHOD} does not fit the golden pattern: "
                          + "; ".join(problems))
    opt, cls, keywords = rec.optimizers[0]
    names = [f"x{i}" for i in range(len(rec.variables))]
    return {
        "test": name,
        "method": f"{test_cls.__name__}.{METHOD}",
        "class": _public_name(keras, cls),
        "keywords": _plain(keywords),
        "config": _plain(opt.get_config()),
        "dtype": dtypes.pop(),
        "params": {n: {"shape": list(a.shape), "values": a.reshape(-1).astype(float).tolist()}
                   for n, a in zip(names, rec.initial)},
        "grads": [{n: g.reshape(-1).astype(float).tolist() for n, g in zip(names, step)} for step in rec.grads],
        "expected": [{"after_step": after, "param": names[i], "values": desired.reshape(-1).tolist(),
                      "atol": atol, "rtol": rtol} for i, after, desired, atol, rtol in rec.checks],
    }


def keras_version() -> str:
    return _keras().__version__


def extract_all() -> tuple[dict, dict]:
    """``({test file: golden}, {test file: GoldenError})`` of every installed golden test: one test
    that does not fit costs that test alone."""
    goldens, errors = {}, {}
    for path in golden_test_files():
        try:
            goldens[path.name] = extract(path)
        except GoldenError as exc:
            errors[path.name] = exc
    return goldens, errors


# --- the snapshot ------------------------------------------------------------------------------------


def snapshot_path(directory: Path | None = None) -> Path:
    return Path(directory or default_vector_dir()) / SNAPSHOT


def snapshot_document(goldens: dict) -> dict:
    return {"format": FORMAT, "keras": keras_version(), "backend": "tensorflow",
            "source": f"keras/src/optimizers/*_test.py: {METHOD}, recorded while run",
            "refresh": REFRESH, "goldens": [goldens[k] for k in sorted(goldens)]}


def snapshot_dumps(doc: dict) -> str:
    """Deterministic JSON: one key per line, one gradient step or one expectation per line."""
    def line(value):
        return json.dumps(value, separators=(", ", ": "))

    out = ["{"]
    for key, value in doc.items():
        if key != "goldens":
            out.append(f" {json.dumps(key)}: {line(value)},")
    out.append(' "goldens": [')
    for gi, golden in enumerate(doc["goldens"]):
        parts = []
        for key, value in golden.items():
            if key in ("grads", "expected"):
                body = ",\n    ".join(line(item) for item in value)
                parts.append(f'   {json.dumps(key)}: [\n    {body}\n   ]')
            else:
                parts.append(f"   {json.dumps(key)}: {line(value)}")
        out.append("  {\n" + ",\n".join(parts) + "\n  }" + ("," if gi < len(doc["goldens"]) - 1 else ""))
    out.append(" ]")
    out.append("}")
    return "\n".join(out) + "\n"


def write_snapshot(directory: Path | None = None) -> tuple[Path, int]:
    """Extract every golden from the installed Keras and write the snapshot; GoldenError when one
    does not fit (nothing is written then)."""
    goldens, errors = extract_all()
    if errors:
        raise GoldenError("; ".join(str(e) for e in errors.values()))
    path = snapshot_path(directory)
    atomic_write(path, snapshot_dumps(snapshot_document(goldens)).encode("utf-8"))
    return path, len(goldens)


def read_snapshot(directory: Path | None = None) -> dict:
    path = snapshot_path(directory)
    if not path.exists():
        raise UserError(f"{path}: the Keras golden snapshot is missing; create it with {REFRESH}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); refresh it with {REFRESH}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserError(f"{path}: not a Keras golden snapshot (expected format {FORMAT!r})")
    return doc


def differences(old, new, path: str = "", limit: int = 8) -> list[str]:
    """Where two goldens (plain data) differ, as ``path: old -> new`` lines (at most ``limit``)."""
    out: list = []

    def walk(a, b, where):
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                walk(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{where}.{k}" if where else k)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a != b:
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in a + b):
                changed = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
                i = changed[0]
                more = f" ({len(changed)} of {len(a)} values differ)" if len(changed) > 1 else ""
                out.append(f"{where}[{i}]: {json.dumps(a[i])} -> {json.dumps(b[i])}{more}")
            else:
                for i, (x, y) in enumerate(zip(a, b)):
                    walk(x, y, f"{where}[{i}]")
        elif a != b:
            out.append(f"{where}: {json.dumps(a)} -> {json.dumps(b)}")

    walk(old, new, path)
    return out


# --- mapping to a profile ---------------------------------------------------------------------------------


@dataclass
class Mapped:
    """A golden as optconform sees it: the algorithm and profile it runs under, its canonical
    hyperparameters (resolved: the profile's defaults where Keras's test passed nothing), the
    keywords the vector leaves out (with the reason) and the scenario name."""

    algorithm: str
    profile: str
    hyper: Namespace
    dropped: dict
    scenario: str


def _effective(golden: dict, keyword: str):
    """A keyword's value in the golden: as passed, else Keras's default as ``get_config()`` reports it."""
    if keyword in golden["keywords"]:
        return golden["keywords"][keyword]
    return golden["config"].get(keyword)


def inert_keyword(golden: dict, keyword: str) -> Inert | None:
    """The :data:`INERT` entry that makes ``keyword`` inert in this golden, if any."""
    for entry in INERT:
        if entry.api == golden["class"] and entry.keyword == keyword and all(
                _effective(golden, k) == v for k, v in entry.when.items()):
            return entry
    return None


def scenario_name(golden: dict) -> str:
    return SCENARIO_PREFIX + golden["test"].removesuffix("_test.py").removesuffix(".py")


def profile_for(golden: dict):
    """The (algorithm, profile, literal api keywords) of the keras profile whose api is the golden's
    class, the most specific one whose literal keywords all match (Adam(amsgrad=True) → amsgrad),
    among the profiles the keras adapter runs on its default code path (the TensorFlow backend the
    goldens are recorded on, not a ``keras_<backend>`` profile of another backend)."""
    from .keras_adapter import KerasAdapter

    _keras()
    adapter = KerasAdapter()
    cls, _ = resolve_api(golden["class"])
    found = []
    for alg in algorithms().values():
        if alg.kind != "optimizer":
            continue
        for prof in alg.profiles.values():
            if prof.framework != FRAMEWORK or not prof.api:
                continue
            if adapter.default_code_path(alg.name) not in adapter.paths_for(alg.name, prof.name):
                continue
            try:
                api_cls, extra = resolve_api(prof.api)
            except (ImportError, AttributeError):
                continue
            if api_cls is cls and all(_effective(golden, k) == v for k, v in extra.items()):
                found.append((len(extra), alg, prof, extra))
    if not found:
        raise NotCovered(f"no algorithm has a {FRAMEWORK} profile whose api is {golden['class']} "
                         "(reference/profiles/*.toml)")
    found.sort(key=lambda m: -m[0])
    if len(found) > 1 and found[0][0] == found[1][0]:
        raise NotCovered(f"{golden['class']} with {golden['keywords']} fits several profiles: "
                         + ", ".join(f"{a.name} [{p.name}]" for _, a, p, _ in found))
    return found[0][1:]


def map_golden(golden: dict) -> Mapped:
    """The golden's algorithm, profile and canonical hyperparameters (renamed through the profile's
    ``names``); NotCovered with the reason when optconform cannot run it."""
    alg, prof, extra = profile_for(golden)
    where = f"keras/src/optimizers/{golden['test']} under reference/profiles/{alg.name}.toml [profiles.{prof.name}]"
    canonical = {fw: name for name, fw in prof.names.items()}
    cls, _ = resolve_api(golden["class"])
    keras_defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}
    overrides, dropped = {}, {}
    for keyword, value in golden["keywords"].items():
        if keyword in extra:
            continue  # part of the profile's api: Adam(amsgrad=True)
        entry = inert_keyword(golden, keyword)
        if entry is not None:
            dropped[keyword] = entry.reason
            continue
        if value is None and keras_defaults.get(keyword, inspect.Parameter.empty) is None:
            continue  # Keras's own default, passed explicitly
        if keyword not in canonical:
            raise NotCovered(f"{where}: keyword {keyword}={value!r} has no canonical name in the profile's names")
        if isinstance(value, dict) or (value is not None and not isinstance(value, (bool, int, float, str))):
            raise NotCovered(f"{where}: keyword {keyword}={value!r} is not a number")
        overrides[canonical[keyword]] = value
    try:
        hyper = alg.resolve(prof.name, overrides, where)
    except UserError as exc:
        raise NotCovered(str(exc)) from None
    return Mapped(alg.name, prof.name, hyper, dropped, scenario_name(golden))


# --- conversion to a vector ---------------------------------------------------------------------------


def case_of(golden: dict, mapped: Mapped):
    """The golden's inputs as a reference Case under the mapped profile: θ₀, the gradient of every
    update (exact values of the golden's dtype, read from floats without rounding) and the
    hyperparameters, in the golden's dtype."""
    from optconform.reference.numeric import mpf, representable
    from optconform.reference.scenarios import Case
    from optconform.reference.tensor import Tensor

    alg = algorithms()[mapped.algorithm]
    names = list(golden["params"])
    shapes = {n: tuple(p["shape"]) for n, p in golden["params"].items()}
    params = {n: Tensor(shapes[n], [mpf(float(v)) for v in p["values"]]) for n, p in golden["params"].items()}
    grads = [{n: Tensor(shapes[n], [mpf(float(v)) for v in step[n]]) for n in names} for step in golden["grads"]]
    for x in [x for t in params.values() for x in t.data] + [x for s in grads for t in s.values() for x in t.data]:
        if not representable(x, golden["dtype"]):
            raise GoldenError(f"keras/src/optimizers/{golden['test']}: input {float(x)!r} is not a {golden['dtype']} value")
    doc = (f"Keras's own golden trajectory: keras/src/optimizers/{golden['test']} {golden['method']} "
           f"({golden['class']}, keywords {json.dumps(golden['keywords'])}).")
    return Case(alg, alg.profiles[mapped.profile], mapped.scenario, doc, len(grads), (golden["dtype"],),
                [(tuple(names), mapped.hyper)], params=params, grads=grads)


def vector_of(golden: dict, mapped: Mapped | None = None, effects: dict | None = None,
              base_spread: dict | None = None) -> dict:
    """The golden as an optconform vector document under its mapped profile: the exact reference
    trajectory (with ``effects``, the declared precision effects {name: format}, the checker's
    expected trajectory for an implementation that has them; ``base_spread``: the spread of the
    vector without them, as the harness keeps it)."""
    mapped = mapped or map_golden(golden)
    doc = vector_document([case_of(golden, mapped)], round_hypers=effects or None, base_spread=base_spread)
    return json.loads(dumps(doc))


def checked_values(golden: dict, trajectory) -> list:
    """``[(expectation, values after its step)]`` for each of the golden's expectations, with
    ``trajectory(t, name)`` the flat values of parameter ``name`` after update t (t = 0: θ₀)."""
    return [(e, trajectory(e["after_step"], e["param"])) for e in golden["expected"]]


def outside_keras_tolerance(golden: dict, trajectory) -> list[str]:
    """The expectations ``trajectory`` misses under Keras's own test: |y − golden| ≤ atol +
    rtol·|golden| element-wise (numpy's assert_allclose), one line per missed step."""
    import math

    out = []
    for e, values in checked_values(golden, trajectory):
        worst = None
        for i, (y, want) in enumerate(zip(values, e["values"])):
            allowed = e["atol"] + e["rtol"] * abs(want)
            if not abs(y - want) <= allowed or math.isnan(y) != math.isnan(want):
                if worst is None or abs(y - want) - allowed > worst[0]:
                    worst = (abs(y - want) - allowed, i, y, want, allowed)
        if len(values) != len(e["values"]):
            out.append(f"after step {e['after_step']}: {len(values)} values, Keras expects {len(e['values'])}")
        elif worst is not None:
            _, i, y, want, allowed = worst
            out.append(f"after step {e['after_step']}: {e['param']}[{i}] = {y!r}, Keras's golden {want!r} "
                       f"(|diff| {abs(y - want):.3g} > {allowed:.3g} = atol {e['atol']:g} + rtol {e['rtol']:g}·|golden|)")
    return out


# --- Keras run directly (for the inert-keyword check) --------------------------------------------------


def keras_trajectory(golden: dict, keywords: dict) -> list[dict]:
    """The golden's inputs run through ``<class>(**keywords)`` directly: the parameters after every
    update, ``[{name: numpy array}]`` (what an inert keyword must leave bit for bit unchanged)."""
    import numpy as np

    flavour = _flavour()
    _keras()
    cls, _ = resolve_api(golden["class"])
    opt = cls(**keywords)
    dtype = golden["dtype"]
    variables = {n: flavour.variable(np.asarray(p["values"], dtype=dtype).reshape(p["shape"]), n)
                 for n, p in golden["params"].items()}
    out = []
    for step in golden["grads"]:
        opt.apply_gradients([(flavour.tensor(np.asarray(step[n], dtype=dtype).reshape(tuple(v.shape))), v)
                             for n, v in variables.items()])
        out.append({n: flavour.numpy(v) for n, v in variables.items()})
    return out


# --- command line -----------------------------------------------------------------------------------------


def _list(doc: dict, directory: Path | None) -> int:
    print(f"Keras golden snapshot {snapshot_path(directory)} (Keras {doc['keras']}, {len(doc['goldens'])} goldens)")
    for golden in doc["goldens"]:
        label = f"{golden['test']:<20} {golden['class']}({', '.join(f'{k}={v!r}' for k, v in golden['keywords'].items())})"
        try:
            mapped = map_golden(golden)
        except NotCovered as exc:
            print(f"  {label}\n      not covered: {exc}")
            continue
        dropped = f"; without {', '.join(mapped.dropped)} (inert)" if mapped.dropped else ""
        print(f"  {label}\n      {mapped.algorithm} [{mapped.profile}] {golden['dtype']}, "
              f"{len(golden['grads'])} updates, {len(golden['expected'])} checks{dropped}")
    return 0


def snapshot_problems(doc: dict, goldens: dict, errors: dict, names=None) -> dict:
    """``{test file: one line}`` for every way the installed Keras's goldens (``extract_all``)
    differ from the snapshot ``doc``: a golden changed (which fields, old -> new), added, removed,
    or no longer extractable; only for the test files ``names`` when given. Empty when they are
    identical."""
    mine = {g["test"]: g for g in doc["goldens"]}
    where = f"the snapshot vectors/{SNAPSHOT.as_posix()} (Keras {doc['keras']})"
    selected = set(mine) | set(goldens) | set(errors) if names is None else set(names)
    out = {name: str(exc) for name, exc in errors.items() if name in selected}
    for name in sorted((set(mine) | set(goldens)) & selected):
        if name in errors:
            continue
        if name not in goldens:
            out[name] = f"{name}: in {where}, but the installed Keras's test file has no golden any more"
        elif name not in mine:
            out[name] = f"{name}: a golden of the installed Keras that {where} lacks"
        else:
            diff = differences(mine[name], json.loads(json.dumps(goldens[name])))
            if diff:
                out[name] = (f"keras/src/optimizers/{name}: the installed Keras {keras_version()} changed its golden "
                             f"against {where} (snapshot -> installed): " + "; ".join(diff))
    return {name: f"{line}. Review the change, then refresh the snapshot: {REFRESH}" for name, line in out.items()}


def _check(doc: dict) -> int:
    goldens, errors = extract_all()
    problems = snapshot_problems(doc, goldens, errors)
    for line in problems.values():
        print(line)
    if problems:
        return 1
    print(f"Keras {keras_version()}: {len(goldens)} goldens, identical to the snapshot")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optconform.adapters.frameworks.keras_peer",
                                     description="Keras's own golden optimizer trajectories as peer data.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="extract from the installed Keras, write the snapshot")
    group.add_argument("--check", action="store_true",
                       help="compare the installed Keras's goldens with the snapshot (exit 1 on a difference)")
    parser.add_argument("--vectors", type=Path, metavar="DIR",
                        help=f"the vector folder whose {SNAPSHOT.as_posix()} to use (default: the shipped vectors)")
    args = parser.parse_args(argv)
    try:
        if args.vectors is not None and not args.vectors.is_dir():
            raise UserError(f"{args.vectors}: vector folder does not exist")
        if args.write:
            path, count = write_snapshot(args.vectors)
            print(f"wrote {path}: {count} goldens from Keras {keras_version()}")
            return 0
        doc = read_snapshot(args.vectors)
        return _check(doc) if args.check else _list(doc, args.vectors)
    except UserError as exc:
        print(f"keras_peer: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"keras_peer: error: {exc} (pip install 'optconform[tensorflow]')", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
