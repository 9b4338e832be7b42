"""The declared data is consistent: every profile file loads, covers its axes, and its values mean something."""
import dataclasses

import mpmath
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import PROFILE_DIR, PROFILE_ORDER, algorithms, axes, get
from optconform.reference.numeric import representable
from optconform.reference.scenarios import cases
from optconform.reference.trajectory import run

ALGORITHMS = list(algorithms().values())
IDS = [a.name for a in ALGORITHMS]


def test_every_algorithm_has_a_spec_profile_and_known_profile_names():
    for alg in ALGORITHMS:
        assert "spec" in alg.profiles
        # a profile is spec, a framework's, or (framework = "spec" in the TOML: framework "") a point of
        # the semantic space no installed framework runs (adam no_bias_correction, adamw bert), which
        # documents what computes it
        assert all(p.name == "spec" or p.framework in PROFILE_ORDER[1:] or (not p.framework and p.api and p.source)
                   for p in alg.profiles.values()), alg.name
        assert alg.citation, f"{alg.name}: cite the original definition"
        assert alg.profiles["spec"].source, f"{alg.name}: spec profile needs a source"


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_probe_values_are_float32_exact(alg):
    for name, h in alg.hypers.items():
        if h.probe is None or h.type not in ("real", "list"):
            continue
        values = h.parse(h.probe)
        for v in values if isinstance(values, tuple) else (values,):
            assert representable(v, "float32"), f"{alg.name}.{name} probe {h.probe} is not float32-exact"


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_every_profile_default_is_valid(alg):
    for pname in alg.profiles:
        alg.resolve(pname)  # parses and validates every default


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_framework_profiles_document_their_source(alg):
    for p in alg.profiles.values():
        if p.name == "spec":
            continue
        assert p.api and p.version and p.source, f"{alg.name} [{p.name}] needs api, version and source"


@pytest.mark.parametrize("alg", ALGORITHMS, ids=IDS)
def test_every_axis_value_is_implemented_and_changes_something(alg):
    """Each value of each axis runs, and differs from the spec value on some scenario (parameters or state)."""
    spec = alg.profiles["spec"]
    scenario_cases = [c for c in cases(alg, spec)]
    for axis, values in alg.axes.items():
        for value in values:
            if value == spec.semantics[axis]:
                continue
            profile = dataclasses.replace(spec, semantics=dict(spec.semantics, **{axis: value}))
            differs = False
            for case in scenario_cases:
                if not alg.axis_active(axis, [h for _, h in case.groups], case.has_nonfinite_inputs()):
                    continue
                a = run(case, dps=30)
                b = run(dataclasses.replace(case, profile=profile), dps=30)
                if _values(a) != _values(b):
                    differs = True
                    break
            assert differs, f"{alg.name}: {axis}={value} computes the same as {spec.semantics[axis]} on every scenario"


def _values(records):
    out = []
    for r in records:
        if hasattr(r, "params"):
            out += [mpmath.nstr(x, 25) for n in sorted(r.params) for x in r.params[n].data]
            # the state too: an axis may change only the state (first_moment once θ is NaN either way)
            for n in sorted(r.state):
                for key in sorted(r.state[n]):
                    value = r.state[n][key]
                    out += [mpmath.nstr(x, 25) for x in getattr(value, "data", [value])]
        else:
            out.append(mpmath.nstr(r.lr, 25))
    return out


def test_axis_catalogue_documents_every_value():
    for axis in axes().values():
        assert axis.doc
        assert all(text for text in axis.values.values())


def test_findings_match_their_where_clauses():
    from optconform.reference.model import Finding

    f = Finding("code_path=compiled scenario=param_groups,resume", "error", "crashes")
    assert f.matches("param_groups", "compiled", "cpu", "float32")
    assert f.matches("resume", "compiled", "cuda", "bfloat16")
    assert not f.matches("param_groups", "forloop", "cpu", "float32")
    assert not f.matches("probe", "compiled", "cpu", "float32")
    with pytest.raises(ValueError, match="backend=x"):
        Finding("backend=x", "error", "").clauses()


def test_a_finding_may_name_the_checking_mode():
    from optconform.reference.model import Finding

    f = Finding("dtype=bfloat16 mode=trajectory", "fail", "accumulates over a trajectory")
    assert f.matches("nan_grad", "jit", "cpu", "bfloat16")  # trajectory is the default mode
    assert not f.matches("nan_grad", "jit", "cpu", "bfloat16", "one-step")
    assert Finding("dtype=bfloat16", "fail", "").matches("probe", "jit", "cpu", "bfloat16", "one-step")


def test_a_finding_with_an_unknown_mode_is_refused_at_load(tmp_path):
    from optconform.reference.model import _load_algorithm, load_axes

    text = (PROFILE_DIR / "lion.toml").read_text()
    text = text.replace('[profiles.optax]', '[profiles.optax]\nfindings = [{ where = "mode=onestep", verdict = "fail", note = "x" }]', 1)
    (tmp_path / "lion.toml").write_text(text)
    with pytest.raises(UserError, match="mode= is one of trajectory, one-step"):
        _load_algorithm(tmp_path / "lion.toml", load_axes())


def test_the_torch_sgd_profile_declares_the_compile_crash_as_a_finding():
    sgd = get("sgd").profiles["torch"]
    finding = sgd.finding_for("param_groups", "compiled", "cpu", "float64", "error")
    assert finding is not None and "SpeculationLogDivergence" in finding.note
    assert sgd.finding_for("param_groups", "compiled", "cpu", "float64", "fail") is None  # verdict must match
    assert sgd.finding_for("param_groups", "forloop", "cpu", "float64", "error") is None


def test_precision_effect_where_clauses_select_implementations():
    from optconform.reference.model import PrecisionEffect

    scalars = PrecisionEffect(("scalars",), "float32", "code_path=differentiable,capturable")
    assert scalars.applies("differentiable") and scalars.applies("capturable", device="cuda")
    assert not scalars.applies("forloop") and not scalars.applies(None)
    tail = PrecisionEffect(("max_tail",), "param", "code_path=fused device=cpu")
    assert tail.applies("fused", device="cpu") and not tail.applies("fused", device="cuda")
    assert tail.applies("fused")  # an implementation that does not say its device is not excluded
    tf = PrecisionEffect(("lr",), "float32", "backend=tensorflow")
    assert tf.applies("eager", backend="tensorflow") and not tf.applies("eager", backend="jax")
    low = PrecisionEffect(("lr",), "float32", "dtype=bfloat16,float16")
    assert low.applies("jit", dtype="bfloat16") and not low.applies("jit", dtype="float64")
    assert PrecisionEffect(("lr",), "float32", "everywhere").applies(None, "jax", "cuda", "float64")


@pytest.mark.parametrize("where", ["all backends", "all", "default dtype float32 (torch's default)",
                                   "code_path=", "code-path=fused", "scenario=probe", "code_path=a,,b",
                                   "backend=tensorflow backend=jax"])
def test_a_precision_effect_where_takes_clauses_or_everywhere_and_nothing_else(where):
    from optconform.reference.model import PrecisionEffect

    with pytest.raises(ValueError, match="not one of|given twice"):
        PrecisionEffect(("lr",), "float32", where).clauses()


def test_precision_effects_resolve_the_param_dtype_and_the_dtype_clause():
    from optconform.reference.model import PrecisionEffect, Profile, precision_effects

    profile = Profile("p", "adam", {}, precision=(
        PrecisionEffect(("lr",), "float32", "everywhere"),
        PrecisionEffect(("weight_decay",), "param", "dtype=bfloat16"),
        PrecisionEffect(("power_beta1",), "float32", "code_path=eager backend=tensorflow"),
    ))
    assert precision_effects(profile, "eager", "float64") == {"lr": "float32", "power_beta1": "float32"}
    assert precision_effects(profile, "eager", "bfloat16", backend="jax") == {"lr": "float32", "weight_decay": "bfloat16"}


def test_every_shipped_precision_effect_where_parses():
    for alg in ALGORITHMS:
        for profile in alg.profiles.values():
            for effect in profile.precision:
                assert isinstance(effect.clauses(), dict)
                assert effect.where == "everywhere" or effect.clauses(), (alg.name, profile.name, effect.where)


# --- axes a profile declares not applicable --------------------------------------------------------


def _same(a, b) -> bool:
    """Equal to 40 digits, NaN where the other is NaN, the same infinity."""
    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if mpmath.isinf(a) or mpmath.isinf(b):
        return a == b
    return abs(a - b) <= mpmath.mpf(10) ** -40 * max(1, abs(a))


def _flat(records) -> list:
    out = []
    for r in records:
        out += [x for n in sorted(r.params) for x in r.params[n].data]
        for n in sorted(r.state):
            for key in sorted(r.state[n]):
                out += list(getattr(r.state[n][key], "data", [r.state[n][key]]))
    return out


def _cases_an_axis_value_changes(alg, profile, axis) -> list:
    """The scenarios of ``profile`` on which some value of ``axis`` computes another trajectory
    (parameters or state) than the profile's own value."""
    out = []
    for case in cases(alg, profile):
        mine = _flat(run(case))
        for value in alg.axes[axis]:
            if value == profile.semantics[axis]:
                continue
            other = dataclasses.replace(profile, semantics=dict(profile.semantics, **{axis: value}))
            theirs = _flat(run(dataclasses.replace(case, profile=other)))
            if not all(_same(a, b) for a, b in zip(mine, theirs)):
                out.append(f"{case.scenario}: {axis}={value}")
                break
    return out


NOT_APPLICABLE = [(alg, profile, axis) for alg in ALGORITHMS for profile in alg.profiles.values()
                  for axis in profile.not_applicable]


@pytest.mark.parametrize("alg,profile,axis", NOT_APPLICABLE,
                         ids=[f"{a.name}-{p.name}-{x}" for a, p, x in NOT_APPLICABLE])
def test_a_not_applicable_axis_changes_nothing_on_any_case_of_its_profile(alg, profile, axis):
    """The declaration is a claim the reference can refute: every value of the axis computes the
    same trajectory on every case of the profile (so the profile test has nothing to exclude)."""
    assert _cases_an_axis_value_changes(alg, profile, axis) == []
    assert not any(alg.axis_active(axis, [h for _, h in c.groups], c.has_nonfinite_inputs(), profile)
                   for c in cases(alg, profile))


def test_tf_v1_adagrad_declares_eps_root_not_applicable_and_other_profiles_keep_it():
    adagrad = get("adagrad")
    assert set(adagrad.profiles["tf_v1"].not_applicable) == {"eps_root"}
    assert [p for p in adagrad.profiles.values() if p.not_applicable] == [adagrad.profiles["tf_v1"]]
    h = [adagrad.resolve("tf_v1")]
    assert adagrad.axis_active("eps_root", h) and not adagrad.axis_active("eps_root", h, profile=adagrad.profiles["tf_v1"])
    assert adagrad.axis_active("eps_root", h, profile=adagrad.profiles["torch"])


def test_the_not_applicable_check_can_fail():
    """ε fixed at 0 is not enough: jax.example_libraries' Adagrad has no ε either, but its
    accumulator starts at 0, and a zero accumulator tells none (a zero step) from the others
    (0/0 = NaN); with ε ≠ 0 (torch) every value differs."""
    adagrad = get("adagrad")
    assert any(c.startswith("zero_grad") for c in _cases_an_axis_value_changes(adagrad, adagrad.profiles["jax_example"], "eps_root"))
    assert _cases_an_axis_value_changes(adagrad, adagrad.profiles["torch"], "eps_root")


@pytest.mark.parametrize("section,entry,message", [
    ("[profiles.torch]", 'not_applicable = { eps_rot = "typo" }', "names an axis of adagrad"),
    ("[profiles.torch]", 'not_applicable = { eps_root = "" }', "with the reason"),
    ("[profiles.spec]", 'not_applicable = { eps_root = "no" }', "spec profile defines every axis"),
])
def test_a_not_applicable_declaration_is_checked_at_load(tmp_path, section, entry, message):
    from optconform.reference.model import _load_algorithm, load_axes

    text = (PROFILE_DIR / "adagrad.toml").read_text(encoding="utf-8")
    assert section in text
    (tmp_path / "adagrad.toml").write_text(text.replace(section, f"{section}\n{entry}", 1), encoding="utf-8")
    with pytest.raises(UserError, match=message):
        _load_algorithm(tmp_path / "adagrad.toml", load_axes())


@pytest.mark.parametrize("entry,message", [
    ('inner = { api = "torch.optim.SGD", at = "first", hypers = ["lrr"] }', "unknown hyperparameters"),
    ('inner = { api = "torch.optim.SGD", hypers = ["lr"] }', "inner = "),
    ('inner = { api = "torch.optim.SGD", at = "first", hypers = ["lr"], where = "x" }', "inner = "),
])
def test_an_inner_optimizer_declaration_is_checked_at_load(tmp_path, entry, message):
    from optconform.reference.model import _load_algorithm, load_axes

    text = (PROFILE_DIR / "lookahead.toml").read_text(encoding="utf-8")
    section = "[profiles.torch_optimizer]"
    (tmp_path / "lookahead.toml").write_text(
        text.replace(section, f"{section}\n{entry}", 1).replace(
            'inner = { api = "torch.optim.SGD", at = "first", hypers = ["lr", "momentum"] }\n', "", 1),
        encoding="utf-8")
    with pytest.raises(UserError, match=message):
        _load_algorithm(tmp_path / "lookahead.toml", load_axes())


def test_evaluated_weights_are_state_entries():
    """``evaluated`` (the weights a user evaluates, which the divergence catalog measures) names
    state entries of the algorithm, and exactly the averaging algorithms declare it."""
    from optconform.reference.model import algorithms

    declared = {name: alg.evaluated for name, alg in algorithms().items() if alg.evaluated}
    for name, entries in declared.items():
        assert set(entries) <= set(algorithms()[name].state), name
    assert {"ema", "swa", "lookahead", "schedule_free_sgd", "schedule_free_adamw"} <= set(declared)
