"""jax.example_libraries.optimizers as a second JAX implementation: every shipped vector of its
``jax_example`` profiles (optimizers and schedules), run through jax_example_libraries.run and
judged by the checker.

In float64 every vector must pass (several parameter groups are a skip: the library has one step
size for the whole pytree); optimizers in float32 too, against the reference with the profile's
declared precision effects, as ``optconform check`` computes it. What the library does in its own way is
checked directly, not only through the reference: Adagrad's zero-accumulator guard and its momentum
default, the bfloat16 Adam finding (the parameters never move), a resumed run equal to an
uninterrupted one. An optimizer fed the wrong step index (one update ahead) must fail. Skips
cleanly when jax is not installed. A schedule switching one update early (piecewise_constant at
k = b instead of k = b + 1) must fail.
"""
from __future__ import annotations

import functools

import pytest

from optconform.reference.model import algorithms, get, precision_effects
from optconform.reference.vectors import default_vector_dir, load_vector, read_manifest

jax = pytest.importorskip("jax")

from optconform.adapters.checker import compare  # noqa: E402
from optconform.adapters.frameworks import jax_example_libraries as J  # noqa: E402
from optconform.adapters.harness import VectorCache  # noqa: E402
from optconform.adapters.protocol import Implementation, Unsupported  # noqa: E402

pytestmark = pytest.mark.framework("optax")


def impl(dtype: str) -> Implementation:
    return Implementation("optax", J.CODE_PATH, "cpu", dtype)


def _vectors() -> list[str]:
    manifest = read_manifest(default_vector_dir())
    return sorted(rel for rel, entry in manifest["files"].items()
                  if J.PROFILES.get(rel.split("/", 1)[0]) in entry["profiles"])


VECTORS = _vectors()


@pytest.fixture(scope="module")
def vectors():
    return VectorCache(default_vector_dir())


def _doc(rel: str, vectors) -> dict:
    doc, _ = vectors.doc(rel)
    return dict(doc, profile=J.PROFILES[doc["algorithm"]])


def _check(rel: str, dtype: str, vectors):
    """(verdict, result) as optconform check computes them: the declared effects applied."""
    doc = _doc(rel, vectors)
    profile = get(doc["algorithm"]).profiles[doc["profile"]]
    effects = precision_effects(profile, J.CODE_PATH, dtype, device="cpu")
    expected, text = vectors.expected_doc(rel, doc["profile"], effects)
    return compare(expected, J.run(doc, impl(dtype)), impl(dtype), doc["profile"], doc_json=text), profile


def test_profiles_are_declared_for_optax_and_have_vectors():
    for name, pname in J.PROFILES.items():
        profile = algorithms()[name].profiles[pname]
        assert profile.framework == "optax" and profile.api.startswith("jax.example_libraries.optimizers.")
        assert J.dtypes(name) == (("float64",) if get(name).kind == "schedule" else J.DTYPES)
    assert {rel.split("/", 1)[0] for rel in VECTORS} == set(J.PROFILES)


CASES = [(rel, dtype) for rel in VECTORS for dtype in ("float64", "float32")
         if dtype in J.dtypes(rel.split("/", 1)[0])]


@pytest.mark.parametrize("rel,dtype", CASES)
def test_vector(rel, dtype, vectors):
    doc = _doc(rel, vectors)
    if len(doc["inputs"]["groups"]) > 1:
        with pytest.raises(Unsupported, match="no parameter groups"):
            J.run(doc, impl(dtype))
        return
    result, profile = _check(rel, dtype, vectors)
    assert profile.finding_for(doc["scenario"], J.CODE_PATH, "cpu", dtype, "fail") is None
    assert result.verdict == "pass", f"{rel} {dtype}: {result.message}"


def test_adagrad_zero_accumulator_gives_a_zero_step(vectors):
    """zero_grad: element 3 has g = 0 at step 1, so its accumulator is 0: the library's
    where(s > 0, 1/√s, 0) leaves θ there, where g/√(s + 0) would be NaN."""
    doc = _doc("adagrad/jax_example/zero_grad.json", vectors)
    run = J.run(doc, impl("float64"))
    assert doc["inputs"]["grads"][0]["w"][3] == "0"
    assert run.steps[0]["params"]["w"][3] == float(doc["inputs"]["params"]["w"]["values"][3])


def test_adagrad_momentum_default_is_the_library_default(vectors):
    """defaults passes only step_size: the library's own momentum 0.9 drives it, which the profile
    declares (the momentum buffer is compared too)."""
    doc = _doc("adagrad/jax_example/defaults.json", vectors)
    assert doc["inputs"]["groups"][0]["hyper"]["momentum"] == "0.9"
    assert "momentum_buffer" in doc["steps"][0]["state"]["w"]
    result, _ = _check("adagrad/jax_example/defaults.json", "float64", vectors)
    assert result.verdict == "pass", result.message


def test_adam_in_bfloat16_never_moves(vectors):
    """β₂ is 1 in bfloat16 where the bias correction raises it, so 1 − β₂ᵗ = 0, v̂ = ∞ and every
    step is 0 — measured on the library itself — and the declared precision effect (β₁, β₂ in the
    powers rounded to bfloat16, IEEE division) predicts exactly that: the case passes, no finding."""
    doc = _doc("adam/spec/probe.json", vectors)
    run = J.run(doc, impl("bfloat16"))
    start = [float(v) for v in doc["inputs"]["params"]["w"]["values"]]
    assert all(step["params"]["w"] == start for step in run.steps)
    result, profile = _check("adam/spec/probe.json", "bfloat16", vectors)
    assert result.verdict == "pass", result.message
    assert profile.finding_for("probe", J.CODE_PATH, "cpu", "bfloat16", "fail") is None


def test_resume_continues_exactly(vectors):
    """Saving and loading the state (unpack/pack_optimizer_state) changes nothing in float64."""
    doc = _doc("adam/spec/resume.json", vectors)
    whole = J.run(dict(doc, inputs={k: v for k, v in doc["inputs"].items() if k != "checkpoint_at"}),
                  impl("float64"))
    resumed = J.run(doc, impl("float64"))
    assert doc["inputs"]["checkpoint_at"] is not None
    assert [s["params"] for s in whole.steps] == [s["params"] for s in resumed.steps]


def test_a_step_index_one_ahead_is_caught(vectors, monkeypatch):
    """Adam fed i = t instead of t − 1 (bias corrections one step late) must fail."""
    from jax.example_libraries import optimizers

    real = optimizers.adam

    @functools.wraps(real)
    def ahead(*args, **kwargs):
        init, update, get_params = real(*args, **kwargs)
        return optimizers.Optimizer(init, lambda i, g, state: update(i + 1, g, state), get_params)

    monkeypatch.setattr(optimizers, "adam", ahead)
    doc = _doc("adam/spec/probe.json", vectors)
    result = compare(doc, J.run(doc, impl("float64")), impl("float64"), doc["profile"])
    assert result.verdict == "fail" and result.first_failing_step == 1


def test_unsupported_cases_speak_to_the_user(vectors):
    with pytest.raises(Unsupported, match="no parameter groups"):
        J.run(_doc("adam/spec/param_groups.json", vectors), impl("float64"))
    doc = _doc("adam/spec/probe.json", vectors)
    with pytest.raises(Unsupported, match="under no profile 'optax'"):
        J.run(dict(doc, profile="optax"), impl("float64"))


def test_piecewise_constant_switches_one_update_after_the_boundary(vectors):
    """values[sum(i > boundaries)]: the library's run fits boundary = after (the Keras vector it
    shares) and fails the optax/spec vector, where the new value starts at k = b."""
    after = _doc("piecewise_constant/keras/probe.json", vectors)
    at = dict(load_vector(default_vector_dir(), "piecewise_constant/spec/probe.json"), profile="jax_example")
    assert after["semantics"] == {"boundary": "after"} and at["semantics"] == {"boundary": "at"}
    run = J.run(after, impl("float64"))
    assert compare(after, run, impl("float64"), "jax_example").verdict == "pass"
    result = compare(at, J.run(at, impl("float64")), impl("float64"), "jax_example")
    first_boundary = int(at["inputs"]["groups"][0]["hyper"]["boundaries"][0])
    assert result.verdict == "fail" and result.first_failing_step == first_boundary


def test_schedules_are_float64_only(vectors):
    with pytest.raises(Unsupported, match="float64"):
        J.run(_doc("constant/spec/probe.json", vectors), impl("float32"))
