"""The optax adapter (adapters/frameworks/optax_adapter.py), on hand-made vectors whose results are
worked out here by hand: precision (float64 really float64, float32 really float32), one
compilation per structure, one-step state injection, the resume round trip, the fidelity of traced
hyperparameters, every optax profile implemented. Skips cleanly without jax/optax.
"""
from __future__ import annotations

import math

import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from optconform.adapters.frameworks import optax_adapter  # noqa: E402
from optconform.adapters.frameworks.optax_adapter import NO_EAGER, OptaxAdapter  # noqa: E402
from optconform.adapters.protocol import Implementation, Unsupported  # noqa: E402
from optconform.reference.model import algorithms  # noqa: E402

pytestmark = pytest.mark.framework("optax")

ADAPTER = OptaxAdapter()


def impl(dtype: str, code_path: str = "jit") -> Implementation:
    return Implementation("optax", code_path, "cpu", dtype)


def vector(algorithm: str, params: dict, grads: list, hyper: dict, groups=None, **inputs) -> dict:
    """A minimal optimizer vector (the fields the adapter reads): ``params`` {name: flat values}
    (1-d tensors unless ``shapes`` is given), ``grads`` one {name: values} per step."""
    shapes = inputs.pop("shapes", {})
    doc_inputs = {
        "groups": groups or [{"params": list(params), "hyper": hyper}],
        "params": {n: {"shape": list(shapes.get(n, (len(v),))), "values": [repr(float(x)) for x in v]}
                   for n, v in params.items()},
        **inputs,
    }
    if grads is not None:
        doc_inputs["grads"] = [{n: [repr(float(x)) for x in g] for n, g in step.items()} for step in grads]
    steps = len(grads) if grads is not None else inputs.get("steps", 1)
    return {"algorithm": algorithm, "kind": "optimizer", "scenario": "handmade", "profile": "optax",
            "inputs": doc_inputs, "steps": [{"t": t} for t in range(1, steps + 1)]}


# --- precision ------------------------------------------------------------------------------------


def _tiny_step(dtype: str) -> float:
    # θ = 1, g = 2⁻³⁰, η = 1: θ − ηg = 1 − 2⁻³⁰, a float64 number that float32 cannot hold (its
    # spacing below 1 is 2⁻²⁴), so float32 arithmetic gives exactly 1.
    doc = vector("sgd", {"w": [1.0]}, [{"w": [2.0 ** -30]}], {"lr": "1"})
    return ADAPTER.run(doc, impl(dtype)).steps[0]["params"]["w"][0]


@pytest.mark.parametrize("code_path", ["jit", "eager"])
def test_float64_computes_in_float64(code_path):
    doc = vector("sgd", {"w": [1.0]}, [{"w": [2.0 ** -30]}], {"lr": "1"})
    assert ADAPTER.run(doc, impl("float64", code_path)).steps[0]["params"]["w"][0] == 1.0 - 2.0 ** -30


@pytest.mark.parametrize("code_path", ["jit", "eager"])
def test_float32_computes_in_float32(code_path):
    doc = vector("sgd", {"w": [1.0]}, [{"w": [2.0 ** -30]}], {"lr": "1"})
    assert ADAPTER.run(doc, impl("float32", code_path)).steps[0]["params"]["w"][0] == 1.0


def test_float32_after_float64_in_one_process():
    # the x64 switch is a context per case: a float64 case does not leave x64 on for the next
    assert _tiny_step("float64") == 1.0 - 2.0 ** -30
    assert _tiny_step("float32") == 1.0
    assert _tiny_step("float64") == 1.0 - 2.0 ** -30


def test_hyperparameters_stay_weakly_typed_in_bfloat16():
    # β₁ = 0.75 is a Python float: β₁·m stays bfloat16 (weakly typed), as in a user's optax.adam.
    # m₁ = (1 − β₁)·g with g = 1 + 2⁻⁷ (bfloat16: 8 significant bits) is 0.25 + 2⁻⁹; a float32
    # promotion would keep it, and m₂ = β₁m₁ + (1 − β₁)g = 0.4375 + 7·2⁻¹¹ needs 10 bits, so
    # bfloat16 rounds it to 0.4375 + 2⁻⁸ (per operation or once: both give it), where a float32
    # promotion (a strongly typed β₁) would hold it exactly in a float32 state.
    g = 1.0 + 2.0 ** -7
    doc = vector("adam", {"w": [0.0]}, [{"w": [g]}, {"w": [g]}],
                 {"lr": "0.0078125", "beta1": "0.75", "beta2": "0.5", "eps": "0.25"})
    run = ADAPTER.run(doc, impl("bfloat16"))
    assert run.steps[0]["state"]["w"]["exp_avg"] == [0.25 + 2.0 ** -9]
    assert run.steps[1]["state"]["w"]["exp_avg"] == [0.4375 + 2.0 ** -8]


# --- compilation ----------------------------------------------------------------------------------


def test_one_compilation_per_structure():
    # two cases of one structure (a shape no other test uses), different hyperparameters and step
    # counts: one compilation; a third dtype is another structure
    shape_values = [0.5, -1.0, 1.5, 2.0, -0.25]
    before = optax_adapter.stats()
    a = vector("adam", {"w": shape_values}, [{"w": [1.0] * 5}] * 3,
               {"lr": "0.125", "beta1": "0.875", "beta2": "0.75", "eps": "0.0625"})
    b = vector("adam", {"w": shape_values}, [{"w": [-0.5] * 5}] * 7,
               {"lr": "0.25", "beta1": "0.5", "beta2": "0.9375", "eps": "0.5"})
    ra = ADAPTER.run(a, impl("float32"))
    rb = ADAPTER.run(b, impl("float32"))
    after = optax_adapter.stats()
    assert after["compilations"] - before["compilations"] == 1
    assert after["traces"] - before["traces"] == 1
    # and each case used its own hyperparameters: at t = 1, m̂ = g and v̂ = g², so
    # θ₁ = θ₀ − η·g/(|g| + ε): 0.5 − 0.125/1.0625 and 0.5 + 0.25·0.5/(0.5 + 0.5)
    assert ra.steps[0]["params"]["w"][0] == pytest.approx(0.5 - 0.125 / 1.0625, rel=1e-6)
    assert rb.steps[0]["params"]["w"][0] == pytest.approx(0.625, rel=1e-6)
    ADAPTER.run(a, impl("float64"))
    assert optax_adapter.stats()["compilations"] - after["compilations"] == 1


def test_a_long_lived_process_keeps_a_bounded_number_of_compiled_steps(monkeypatch):
    """Past MAX_PROGRAMS kept steps the least recently used half is dropped (their executables'
    memory mappings with them); a dropped structure is compiled again and still right."""
    monkeypatch.setattr(optax_adapter, "MAX_PROGRAMS", 4)
    monkeypatch.setattr(optax_adapter, "_COMPILED", {})
    before = optax_adapter.stats()
    lengths = range(11, 18)  # seven structures no other test uses
    for n in lengths:
        ADAPTER.run(vector("sgd", {"w": [1.0] * n}, [{"w": [0.5] * n}], {"lr": "0.25"}), impl("float32"))
        assert len(optax_adapter._COMPILED) <= 4
    after = optax_adapter.stats()
    assert after["compilations"] - before["compilations"] == 7 and after["evictions"] - before["evictions"] >= 2
    again = ADAPTER.run(vector("sgd", {"w": [1.0] * 11}, [{"w": [0.5] * 11}], {"lr": "0.25"}), impl("float32"))
    assert optax_adapter.stats()["compilations"] - after["compilations"] == 1  # it had been dropped
    assert again.steps[0]["params"]["w"] == [0.875] * 11  # θ − ηg = 1 − 0.25·0.5


def test_eager_path_compiles_no_step():
    before = optax_adapter.stats()["compilations"]
    doc = vector("sgd", {"w": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}, [{"w": [1.0] * 7}], {"lr": "0.5"})
    assert ADAPTER.run(doc, impl("float32", "eager")).steps[0]["params"]["w"][0] == 0.5
    assert optax_adapter.stats()["compilations"] == before


# --- state ----------------------------------------------------------------------------------------


def one_step_vector(algorithm: str, hyper: dict, inject: list) -> dict:
    """A one-step document: per step the injected params, state (None: fresh), grads and lr."""
    params = {n: [float(v) for v in values] for n, values in inject[0]["params"].items()}
    doc = vector(algorithm, params, [step["grads"] for step in inject], hyper)
    doc["mode"] = "one-step"
    doc["inject"] = [{"params": {n: [repr(float(v)) for v in vs] for n, vs in s["params"].items()},
                      "state": s["state"], "grads": {n: [repr(float(v)) for v in vs] for n, vs in s["grads"].items()},
                      "lr": [repr(float(x)) for x in s["lr"]]} for s in inject]
    return doc


@pytest.mark.parametrize("code_path", ["jit", "eager"])
def test_injected_momentum_buffer(code_path):
    # optax.sgd: b ← g + μb, θ ← θ − ηb. With θ = 1, b = 2, g = 0.5, μ = 0.5, η = 0.25:
    # b = 1.5, θ = 0.625 (a fresh state, b = 0, would give b = 0.5, θ = 0.875)
    inject = [{"params": {"w": [1.0]}, "state": {"w": {"momentum_buffer": ["2"]}}, "grads": {"w": [0.5]},
               "lr": [0.25]}]
    run = ADAPTER.run_one_step(one_step_vector("sgd", {"lr": "0.25", "momentum": "0.5"}, inject),
                               impl("float64", code_path))
    assert run.mode == "one-step"
    assert run.steps[0]["params"]["w"] == [0.625]
    assert run.steps[0]["state"]["w"]["momentum_buffer"] == [1.5]


def test_injected_negated_trace():
    # optax.rmsprop keeps its momentum trace after scale_by_learning_rate: the trace is −b for the
    # canonical buffer b. ν ← ρν + (1 − ρ)g², d = g/√(ν + ε) (eps inside), b ← μb + ηd, θ ← θ − b.
    # ν = 0.5·0.5 + 0.5·1 = 0.75 (ε = 0.25: √1 = 1, d = 1), b = 0.5·1 + 0.5·1 = 1, θ = 2 − 1 = 1
    inject = [{"params": {"w": [2.0]}, "state": {"w": {"square_avg": ["0.5"], "momentum_buffer": ["1"]}},
               "grads": {"w": [1.0]}, "lr": [0.5]}]
    doc = one_step_vector("rmsprop", {"lr": "0.5", "rho": "0.5", "eps": "0.25", "momentum": "0.5"}, inject)
    step = ADAPTER.run_one_step(doc, impl("float64")).steps[0]
    assert step["state"]["w"]["square_avg"] == [0.75]
    assert step["state"]["w"]["momentum_buffer"] == [1.0]
    assert step["params"]["w"] == [1.0]


def test_injected_step_count():
    # Adam at t = 3 from m = 0.5, v = 0.25: the bias corrections use the injected count (t − 1 = 2
    # steps done). β₁ = 0.5, β₂ = 0.5, g = 1: m = 0.75, v = 0.625; m̂ = 0.75/(1 − 0.125) = 6/7,
    # v̂ = 0.625/0.875 = 5/7; θ = 1 − η·m̂/(√v̂ + ε)
    inject = [{"params": {"w": [1.0]}, "state": None, "grads": {"w": [1.0]}, "lr": [0.5]},
              {"params": {"w": [1.0]}, "state": None, "grads": {"w": [1.0]}, "lr": [0.5]},
              {"params": {"w": [1.0]}, "state": {"w": {"exp_avg": ["0.5"], "exp_avg_sq": ["0.25"]}},
               "grads": {"w": [1.0]}, "lr": [0.5]}]
    doc = one_step_vector("adam", {"lr": "0.5", "beta1": "0.5", "beta2": "0.5", "eps": "0.125"}, inject)
    step = ADAPTER.run_one_step(doc, impl("float64")).steps[2]
    assert step["state"]["w"]["exp_avg"] == [0.75]
    assert step["state"]["w"]["exp_avg_sq"] == [0.625]
    expected = 1.0 - 0.5 * (6 / 7) / (math.sqrt(5 / 7) + 0.125)
    assert step["params"]["w"][0] == pytest.approx(expected, rel=4e-16)
    # from a fresh state the same step differs (m = 0.5, m̂ = 1): the injection mattered
    fresh = ADAPTER.run_one_step(doc, impl("float64")).steps[0]["params"]["w"][0]
    assert abs(fresh - expected) > 1e-3


def test_adafactor_statistics_follow_the_reference_axes():
    # optax factors over the two largest dims and v_row is the mean over the largest: for a (3, 2)
    # matrix that is the reference's column statistic. At t = 1 the decay β̂₁ is 0, so the row
    # statistic is the mean of g² over each row (the last axis): g² = [[1, 9], [4, 4], [0, 16]]
    # gives rows [5, 4, 8] and columns [5/3, 29/3] (ε₁ = 1e-30 is below their float64 ulp).
    g = [1.0, 3.0, 2.0, 2.0, 0.0, 4.0]
    doc = vector("adafactor", {"w": [1.0] * 6}, [{"w": g}], {"lr": "0.5", "min_dim_size_to_factor": 0},
                 shapes={"w": (3, 2)})
    state = ADAPTER.run(doc, impl("float64")).steps[0]["state"]["w"]
    assert state["exp_avg_sq_row"] == [5.0, 4.0, 8.0]
    assert state["exp_avg_sq_col"] == pytest.approx([5 / 3, 29 / 3], rel=1e-15)


def test_state_read_by_canonical_names():
    # every state entry the profile names is read back, after every step
    doc = vector("rmsprop", {"w": [1.0, 2.0]}, [{"w": [0.5, -0.5]}] * 2,
                 {"lr": "0.125", "rho": "0.5", "eps": "0.25", "momentum": "0.5", "centered": True})
    run = ADAPTER.run(doc, impl("float32"))
    for step in run.steps:
        assert set(step["state"]["w"]) == {"square_avg", "grad_avg", "momentum_buffer"}
        assert all(len(v) == 2 for v in step["state"]["w"].values())
        assert step["lr"] == [0.125]
    assert run.steps[0]["state"]["w"]["square_avg"] == [0.125, 0.125]  # (1 − ρ)g²
    assert run.steps[0]["state"]["w"]["grad_avg"] == [0.25, -0.25]  # (1 − ρ)g


@pytest.mark.parametrize("code_path", ["jit", "eager"])
def test_resume_round_trip(code_path, monkeypatch):
    grads = [{"w": [0.5, -1.0, 0.25]}, {"w": [-0.75, 0.5, 1.0]}, {"w": [1.0, 0.125, -0.5]}, {"w": [0.25, 0.25, 0.25]}]
    hyper = {"lr": "0.125", "beta1": "0.875", "beta2": "0.75", "eps": "0.0625"}
    straight = ADAPTER.run(vector("adam", {"w": [1.0, -2.0, 0.5]}, grads, hyper), impl("float32", code_path))
    calls = []
    original = optax_adapter._OptimizerRun.resume

    def spy(self, params, state):
        calls.append(state)
        return original(self, params, state)

    monkeypatch.setattr(optax_adapter._OptimizerRun, "resume", spy)
    resumed = ADAPTER.run(vector("adam", {"w": [1.0, -2.0, 0.5]}, grads, hyper, checkpoint_at=2),
                          impl("float32", code_path))
    assert len(calls) == 1
    assert resumed.steps == straight.steps  # the count, the moments and θ survive the round trip


def test_resume_restores_bfloat16_bytes():
    # the checkpoint stores each leaf's raw bytes with its dtype: bfloat16 survives exactly
    grads = [{"w": [0.5, -1.0]}, {"w": [0.75, 0.5]}, {"w": [-1.0, 0.125]}]
    hyper = {"lr": "0.125", "beta1": "0.875", "beta2": "0.75", "eps": "0.0625"}
    straight = ADAPTER.run(vector("adam", {"w": [1.0, -2.0]}, grads, hyper), impl("bfloat16"))
    resumed = ADAPTER.run(vector("adam", {"w": [1.0, -2.0]}, grads, hyper, checkpoint_at=1), impl("bfloat16"))
    assert resumed.steps == straight.steps


# --- fidelity of traced hyperparameters ------------------------------------------------------------


@pytest.mark.parametrize("code_path", ["jit", "eager"])
def test_zero_weight_decay_stays_a_constant(code_path):
    # optax.adadelta(weight_decay=0.0) skips add_decayed_weights (a constant zero); a traced zero
    # would add 0·θ = NaN once θ is NaN. After an infinite gradient θ becomes NaN; the next finite
    # gradient must still enter E[g²] as g² (E[g²] stays +∞, not NaN).
    doc = vector("adadelta", {"w": [1.0]}, [{"w": [math.inf]}, {"w": [1.0]}, {"w": [1.0]}],
                 {"lr": "0.5", "rho": "0.875", "eps": "0.0625", "weight_decay": "0"})
    run = ADAPTER.run(doc, impl("float32", code_path))
    assert math.isnan(run.steps[1]["params"]["w"][0])
    assert run.steps[2]["state"]["w"]["square_avg"] == [math.inf]


def test_parameter_groups_get_their_own_hyperparameters():
    # optax.multi_transform: group 0 with η = 0.5, group 1 with η = 0.25 (plain SGD)
    groups = [{"params": ["w"], "hyper": {"lr": "0.5"}}, {"params": ["b"], "hyper": {"lr": "0.25"}}]
    doc = vector("sgd", {"w": [1.0], "b": [1.0]}, [{"w": [1.0], "b": [1.0]}], {}, groups=groups)
    step = ADAPTER.run(doc, impl("float64")).steps[0]
    assert step["params"] == {"w": [0.5], "b": [0.75]}
    assert step["lr"] == [0.5, 0.25]


def test_unsupported_hyperparameter_is_a_skip():
    doc = vector("adam", {"w": [1.0]}, [{"w": [1.0]}], {"lr": "0.5", "weight_decay": "0.25"})
    with pytest.raises(Unsupported):
        ADAPTER.run(doc, impl("float32"))


def test_closed_loop_gradient_in_the_dtype():
    # f = ½·a(x − c)², a = 2, c = 0.5: g = 2(x − 0.5); SGD η = 0.25 from x = 1.5: g = 2, x = 1;
    # then g = 1, x = 0.75
    doc = vector("sgd", {"w": [1.5]}, None, {"lr": "0.25"}, objective={"kind": "quadratic", "a": ["2"], "c": ["0.5"]},
                 steps=2)
    run = ADAPTER.run(doc, impl("bfloat16"))
    assert [s["params"]["w"] for s in run.steps] == [[1.0], [0.75]]


# --- coverage -------------------------------------------------------------------------------------


def test_every_optax_optimizer_profile_has_implementations():
    claimed = ADAPTER.profiles()
    for name, alg in algorithms().items():
        for pname, profile in alg.profiles.items():
            if profile.framework != "optax" or alg.kind != "optimizer":
                continue
            if pname == "optax":
                assert "optax" in claimed.get(name, ()), name
                impls = ADAPTER.implementations_for(name, pname)
                paths = ("jit",) if name in NO_EAGER else ("jit", "eager")  # Muon: jit only (its docstring)
                assert {(i.code_path, i.dtype) for i in impls if i.device == "cpu"} == {
                    (p, d) for p in paths for d in ("float64", "float32", "bfloat16", "float16")}, name
                assert ADAPTER.default_code_path(name, pname) == "jit"


def test_run_prints_nothing(capfd):
    ADAPTER.run(vector("lion", {"w": [1.0, 2.0]}, [{"w": [1.0, -1.0]}], {"lr": "0.5"}), impl("float16"))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
