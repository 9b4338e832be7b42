"""Keras's own golden trajectories (keras/src/optimizers/*_test.py, test_correctness_with_golden)
as peer data: adapters/frameworks/keras_peer.py, snapshot vectors/peer/keras_golden.json.

For every golden of the snapshot:

(a) the installed Keras's golden, extracted by running its test method, equals the snapshot (a
    Keras release that changes its numbers fails here, naming the file, what changed and how to
    refresh the snapshot);
(b) the keras adapter, run on the golden's inputs (its default code path, the golden's dtype),
    meets Keras's golden within Keras's own rtol/atol;
(c) the exact reference under the matched keras profile meets Keras's golden within Keras's
    rtol/atol, and the adapter's run conforms to the reference under optconform's own checker
    (adapters.checker.compare, with the profile's declared precision effects, as the harness does).

Keras's expected values come from Keras's test files, the exact values from the reference: neither
from the code under test. Keywords a golden passes that the vector leaves out as inert are run
through Keras with and without them (bit-identical), and a golden optconform does not cover must
owe that to a missing profile alone. Skips only when TensorFlow or Keras is not installed.
"""
from __future__ import annotations

import copy
import importlib.util
import math

import pytest

if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
    pytest.skip("tensorflow and keras are not installed (pip install 'optconform[tensorflow]')",
                allow_module_level=True)

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.frameworks import keras_peer as P  # noqa: E402
from optconform.adapters.frameworks.keras_adapter import KerasAdapter  # noqa: E402
from optconform.adapters.protocol import Implementation  # noqa: E402

pytestmark = pytest.mark.framework("keras")

SNAPSHOT = P.read_snapshot()
GOLDENS = {g["test"]: g for g in SNAPSHOT["goldens"]}
P._keras()  # TensorFlow and Keras, imported once and quietly, before any mapping resolves a class


def _mapping(golden):
    try:
        return P.map_golden(golden)
    except P.NotCovered:
        return None


MAPPED = {name: _mapping(g) for name, g in GOLDENS.items()}
COVERED = [name for name, m in MAPPED.items() if m is not None]
NOT_COVERED = [name for name, m in MAPPED.items() if m is None]
INERT = [(name, keyword) for name in COVERED for keyword in MAPPED[name].dropped]


@pytest.fixture(scope="module")
def installed():
    """Every golden of the installed Keras, extracted once: ({file: golden}, {file: GoldenError})."""
    return P.extract_all()


@pytest.fixture(scope="module")
def adapter():
    adapter = KerasAdapter()
    ok, reason = adapter.available()
    if not ok:
        pytest.skip(reason)
    return adapter


_RUNS: dict = {}


def _run(adapter, name):
    """(vector, implementation, the adapter's run) of a covered golden, computed once."""
    if name not in _RUNS:
        golden, mapped = GOLDENS[name], MAPPED[name]
        vector = P.vector_of(golden, mapped)
        impl = Implementation(adapter.name, adapter.default_code_path(mapped.algorithm, mapped.profile), "cpu",
                              golden["dtype"])
        _RUNS[name] = (vector, impl, adapter.run(dict(vector, profile=mapped.profile), impl))
    return _RUNS[name]


def _from_run(golden, run):
    def trajectory(t, param):
        return run.steps[t - 1]["params"][param] if t else golden["params"][param]["values"]
    return trajectory


def _from_vector(golden, vector):
    def trajectory(t, param):
        values = vector["steps"][t - 1]["params"][param] if t else golden["params"][param]["values"]
        return [float(v) for v in values]
    return trajectory


# --- (a) the snapshot is what the installed Keras ships -------------------------------------------------


def test_snapshot_lists_every_installed_golden(installed):
    goldens, errors = installed
    extra = sorted((set(goldens) | set(errors)) - set(GOLDENS))
    missing = sorted(set(GOLDENS) - set(goldens) - set(errors))
    assert not extra and not missing, (
        f"golden test files of the installed Keras {P.keras_version()} not in the snapshot: {extra}; in the snapshot "
        f"(Keras {SNAPSHOT['keras']}) but no longer installed: {missing}. Review, then refresh: {P.REFRESH}")


@pytest.mark.parametrize("name", list(GOLDENS))
def test_snapshot_matches_installed_keras(name, installed):
    goldens, errors = installed
    problem = P.snapshot_problems(SNAPSHOT, goldens, errors, names=[name])
    assert not problem, problem[name]


def test_a_changed_golden_is_named_with_its_field(installed):
    goldens, _ = installed
    doc = copy.deepcopy(SNAPSHOT)
    doc["goldens"][0]["expected"][2]["values"][4] += 1e-4
    name = doc["goldens"][0]["test"]
    problems = P.snapshot_problems(doc, goldens, {}, names=[name])
    assert list(problems) == [name]
    assert "expected[2].values" in problems[name] and P.REFRESH in problems[name]


def test_a_test_file_without_the_pattern_fails_clearly():
    """An installed Keras optimizer test file without the golden method (loss_scale_optimizer_test.py,
    muon_test.py, ...) is refused with the file's name and what is missing."""
    goldens = P.golden_test_files()
    path = next(p for p in sorted(goldens[0].parent.glob("*_test.py")) if p not in goldens)
    with pytest.raises(P.GoldenError, match=rf"{path.name}: expected one TestCase with test_correctness_with_golden"):
        P.extract(path)


# --- coverage -------------------------------------------------------------------------------------------


def test_goldens_are_covered():
    assert len(COVERED) >= 10, f"only {COVERED} of the Keras goldens map to a keras profile"


@pytest.mark.parametrize("name", NOT_COVERED)
def test_not_covered_only_for_want_of_a_profile(name):
    """A golden optconform does not run must lack a keras profile for its class (Ftrl): any other
    reason (a keyword the profile does not name, a value the reference rejects) is a gap to fix."""
    with pytest.raises(P.NotCovered, match="no algorithm has a keras profile"):
        P.profile_for(GOLDENS[name])


@pytest.mark.parametrize("name,keyword", INERT)
def test_inert_keyword_leaves_keras_unchanged(name, keyword):
    import numpy as np

    golden = GOLDENS[name]
    with_it = P.keras_trajectory(golden, golden["keywords"])
    without = P.keras_trajectory(golden, {k: v for k, v in golden["keywords"].items() if k != keyword})
    assert any(not np.array_equal(with_it[-1][n], np.asarray(p["values"]).reshape(p["shape"]))
               for n, p in golden["params"].items()), "the trajectory never moved: nothing was checked"
    for t, (a, b) in enumerate(zip(with_it, without), start=1):
        for n in a:
            assert np.array_equal(a[n], b[n], equal_nan=True), (
                f"{name}: {keyword}={golden['keywords'][keyword]!r} changes Keras's step {t} ({n}): it is not inert "
                f"here: fix its entry in keras_peer.INERT")


# --- (b) the adapter meets Keras's golden ----------------------------------------------------------------


@pytest.mark.parametrize("name", COVERED)
def test_adapter_meets_keras_golden(name, adapter):
    golden = GOLDENS[name]
    _, impl, run = _run(adapter, name)
    missed = P.outside_keras_tolerance(golden, _from_run(golden, run))
    assert not missed, f"{name} through the keras adapter ({impl.id}) misses Keras's own golden:\n" + "\n".join(missed)


# --- (c) the reference meets Keras's golden, and the adapter conforms to the reference ---------------------


@pytest.mark.parametrize("name", COVERED)
def test_reference_meets_keras_golden(name, adapter):
    golden, mapped = GOLDENS[name], MAPPED[name]
    vector, _, _ = _run(adapter, name)
    missed = P.outside_keras_tolerance(golden, _from_vector(golden, vector))
    assert not missed, (f"{name}: the exact reference under {mapped.algorithm} [{mapped.profile}] misses Keras's "
                        "golden:\n" + "\n".join(missed))


@pytest.mark.parametrize("name", COVERED)
def test_adapter_conforms_to_reference(name, adapter):
    golden, mapped = GOLDENS[name], MAPPED[name]
    vector, impl, run = _run(adapter, name)
    effects = adapter.precision_effects(mapped.algorithm, impl, mapped.profile)
    expected = P.vector_of(golden, mapped, effects, base_spread=vector["spread"]) if effects else vector
    verdict = compare(expected, run, impl, mapped.profile)
    assert verdict.verdict == "pass", (f"{name} [{mapped.algorithm}/{mapped.profile}] on {impl.id}: {verdict.message} "
                                       f"(max {verdict.max_ulp} ulp)")


def test_keras_tolerance_check_can_fail(adapter):
    """The golden comparison is not vacuous: the reference with a learning rate off by 10% misses
    Keras's golden (sgd_test.py: θ − ηg, where η is all there is)."""
    golden = GOLDENS["sgd_test.py"]
    mapped = copy.deepcopy(MAPPED["sgd_test.py"])
    mapped.hyper["lr"] = mapped.hyper["lr"] * 11 / 10
    vector = P.vector_of(golden, mapped, base_spread={})
    missed = P.outside_keras_tolerance(golden, _from_vector(golden, vector))
    assert missed and all(math.isfinite(float(v)) for v in vector["steps"][-1]["params"]["x0"])
