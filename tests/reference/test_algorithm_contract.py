"""Every algorithm module keeps the contract of reference/algorithm.py, and every precision effect a
profile declares is a real hyperparameter or is modelled by a named variant of the module's step
(reference/effects.py), so a typo in a profile is an error when the profiles load."""
import importlib
import inspect
import itertools
import pickle
import pkgutil
import shutil

import pytest

from optconform.reference import optimizers, schedules
from optconform.reference.algorithm import (ClosedFormSchedule, OptimizerModule, RecursiveSchedule, StepContext,
                                            Validating, Variant, step_function, variants)
from optconform.reference.effects import EXACT, Effects, classify
from optconform.reference.errors import UserError
from optconform.reference.model import PROFILE_DIR, PrecisionEffect, _load_algorithm, algorithms, axes, get
from optconform.reference.numeric import mpf, round_to

OPTIMIZER_MODULES = [importlib.import_module(f"{optimizers.__name__}.{m.name}")
                     for m in pkgutil.iter_modules(optimizers.__path__)]
SCHEDULE_MODULES = [importlib.import_module(f"{schedules.__name__}.{m.name}")
                    for m in pkgutil.iter_modules(schedules.__path__)]
STEP_PARAMETERS = ["p", "g", "state", "h", "sem", "ctx"]


def _parameters(fn) -> list:
    return list(inspect.signature(fn).parameters)


def test_every_profile_algorithm_has_a_module_in_its_package():
    names = {m.__name__ for m in OPTIMIZER_MODULES + SCHEDULE_MODULES}
    for alg in algorithms().values():
        assert alg.impl.__name__ in names, alg.name


@pytest.mark.parametrize("module", OPTIMIZER_MODULES, ids=[m.__name__.rsplit(".", 1)[1] for m in OPTIMIZER_MODULES])
def test_optimizer_modules_keep_the_contract(module):
    assert isinstance(module, OptimizerModule)
    assert _parameters(module.init) == ["p", "h", "sem"]
    assert _parameters(module.step) == STEP_PARAMETERS
    if isinstance(module, Validating):
        assert _parameters(module.validate) == ["h", "where"]
    table = variants(module)
    assert isinstance(table, dict)
    for name, variant in table.items():
        assert isinstance(variant, Variant), name
        assert _parameters(variant.step) == STEP_PARAMETERS, name
        assert variant.step is not module.step, name
        assert variant.effects and all(isinstance(e, str) for e in variant.effects), name
        assert variant.doc, f"{module.__name__}.{name}: say what the framework does"


@pytest.mark.parametrize("module", SCHEDULE_MODULES, ids=[m.__name__.rsplit(".", 1)[1] for m in SCHEDULE_MODULES])
def test_schedule_modules_keep_the_contract(module):
    assert isinstance(module, ClosedFormSchedule) or isinstance(module, RecursiveSchedule)
    assert _parameters(module.horizon) == ["h"]
    if isinstance(module, ClosedFormSchedule):
        assert _parameters(module.value) == ["k", "h", "sem"]
    if isinstance(module, RecursiveSchedule):
        assert _parameters(module.run) == ["h", "sem", "steps", "metrics"]
    if isinstance(module, Validating):
        assert _parameters(module.validate) == ["h", "where"]
    assert not variants(module), "schedules have no step variants: their effects round hyperparameters"


def test_a_module_missing_step_is_not_an_optimizer_module():
    assert not isinstance(schedules_module("cosine"), OptimizerModule)


def schedules_module(name):
    return importlib.import_module(f"{schedules.__name__}.{name}")


def _declared():
    for alg in algorithms().values():
        for profile in alg.profiles.values():
            for effect in profile.precision:
                for name in effect.hypers:
                    yield alg, profile, effect, name


def test_every_declared_effect_is_a_real_hyperparameter_or_modelled_by_a_variant():
    seen = 0
    for alg, profile, _effect, name in _declared():
        kind = classify(name, alg)
        if kind == "hyper":
            assert alg.hypers[name].type == "real"
        else:
            base = name.removesuffix("@checkpoint")
            assert any(base in v.effects for v in alg.step_variants.values()), (alg.name, profile.name, name)
        seen += 1
    assert seen > 50


def test_every_variant_is_selected_by_some_profile():
    # a variant no profile selects is dead code: it emulates nothing a framework was found to do
    selected = set()
    for alg in algorithms().values():
        for profile in alg.profiles.values():
            named = {key: set() for key in PrecisionEffect.CLAUSES}
            for effect in profile.precision:
                for key, values in effect.clauses().items():
                    named[key].update(values)
            for combo in itertools.product(*[sorted(v) + [None] for v in named.values()]):
                have = dict(zip(named, combo))
                fx = {n: "float32" for e in profile.precision
                      if e.applies(have["code_path"], have["backend"], have["device"], have["dtype"]) for n in e.hypers}
                chosen = Effects.build(fx, alg).variant
                if chosen:
                    selected.add((alg.impl.__name__, chosen))
    offered = {(m.__name__, name) for m in OPTIMIZER_MODULES for name in variants(m)}
    # adamw shares adam's module table; a variant counts once it is selected through either
    by_table = {}
    for m in OPTIMIZER_MODULES:
        for name, v in variants(m).items():
            by_table.setdefault(id(v), set()).add((m.__name__, name))
    unselected = [names for names in by_table.values() if not names & selected]
    assert offered and not unselected, unselected


@pytest.mark.parametrize("algorithm, profile, code_path, backend, variant", [
    ("adam", "torch", "forloop", None, None),
    ("adam", "torch", "differentiable", None, "torch_tensor_scalars"),
    ("adam", "torch", "compiled", None, "torch_compiled_scalars"),
    ("adam", "keras", "eager", "tensorflow", "rounded_powers"),
    ("adam", "keras", "eager", "jax", None),
    ("adam", "tf_v1", "v1", None, "running_powers"),
    ("adam", "tf_keras_legacy", "legacy", None, None),
    ("amsgrad", "torch", "fused", None, "torch_fused_cpu"),
    ("nadam", "torch", "forloop", None, "torch_mu_product"),
    ("nadam", "torch", "capturable", None, "torch_tensor_scalars"),
    ("nadam", "keras", "eager", "tensorflow", "float32_casts"),
    ("nadam", "tf_keras", "eager", "tensorflow", "float32_casts"),
    ("adafactor", "optax", "jit", None, "rounded_decay"),
    ("adafactor", "torch", "forloop", None, "cast_clamp_bounds"),
])
def test_the_declared_effects_select_the_variant(algorithm, profile, code_path, backend, variant):
    from optconform.reference.model import precision_effects

    alg = get(algorithm)
    fx = Effects.build(precision_effects(alg.profile(profile), code_path, "float32", backend, "cpu"), alg)
    assert fx.variant == variant
    assert step_function(alg.impl, fx) is (alg.impl.step if variant is None else alg.step_variants[variant].step)


def test_effects_keep_hyperparameters_and_internal_quantities_apart():
    alg = get("nadam")
    fx = Effects.build({"lr": "float32", "mu_product": "float32", "mu_product@checkpoint": "float64",
                        "scalars": "float32"}, alg)
    assert dict(fx.hypers) == {"lr": "float32"}
    assert dict(fx.formats) == {"mu_product": "float32", "scalars": "float32"}
    assert dict(fx.at_checkpoint) == {"mu_product": "float64"}
    assert fx.after_checkpoint().format("mu_product") == "float64"
    h = alg.resolve("torch")
    rounded = fx.round_hypers(h)
    assert set(rounded) == set(h)  # h holds only hyperparameters
    assert rounded.lr != h.lr and rounded.beta1 == h.beta1
    assert pickle.loads(pickle.dumps(fx)) == fx  # it travels to worker processes


def test_a_power_effect_casts_the_declared_hyperparameter():
    # β₂ = 0.999 held in bfloat16 is 1; the framework's float32 cast for β₂ᵗ still sees 0.999
    alg = get("adam")
    h = alg.resolve("spec")
    fx = Effects.build({"power_beta2": "float32", "beta2": "bfloat16"}, alg)
    assert fx.round_hypers(h).beta2 == 1
    bound = fx.bind(h)
    assert bound.rounded("power_beta2", fx.round_hypers(h).beta2) == round_to(h.beta2, "float32") != 1
    assert fx.rounded("power_beta2", mpf("0.1")) == round_to(mpf("0.1"), "float32")  # unbound: casts x


@pytest.mark.parametrize("algorithm, effects, message", [
    ("adam", {"scalarz": "float32"}, "neither a real hyperparameter of adam"),
    ("adam", {"power_beta3": "float32"}, "neither a real hyperparameter"),
    ("sgd", {"nesterov": "float32"}, "bool hyperparameter"),
    ("adam", {"lr": "float24"}, "unknown format"),
    ("adam", {"scalars": "float32", "power_beta1": "float32"}, "no variant of adam models"),
    ("adagrad", {"mu_product": "float32"}, "neither a real hyperparameter of adagrad"),
])
def test_effects_that_name_nothing_are_errors(algorithm, effects, message):
    with pytest.raises(ValueError, match=message):
        Effects.build(effects, get(algorithm))


def test_no_effects_is_the_exact_step():
    alg = get("adam")
    assert Effects.build({}, alg) is EXACT and Effects.build(None, alg) is EXACT
    assert step_function(alg.impl, EXACT) is alg.impl.step
    assert StepContext(t=1, lr=1).effects is EXACT


def _profile_copy(tmp_path, name: str, old: str, new: str):
    text = (PROFILE_DIR / name).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_typo_in_a_declared_effect_name_is_a_load_time_error(tmp_path):
    path = _profile_copy(tmp_path, "adam.toml", 'hypers = ["scalars"]', 'hypers = ["scalar"]')
    with pytest.raises(UserError, match=r"reference/profiles/adam.toml: profile 'torch': precision effect 'scalar'"):
        _load_algorithm(path, axes())


def test_a_typo_in_a_where_clause_is_a_load_time_error(tmp_path):
    path = _profile_copy(tmp_path, "adam.toml", 'where = "code_path=compiled"', 'where = "code_pth=compiled"')
    with pytest.raises(UserError, match=r"adam.toml: profile 'torch': precision effect \['scalars_compiled'\] "
                                        r"where 'code_pth=compiled': 'code_pth=compiled' is not one of"):
        _load_algorithm(path, axes())


def test_prose_in_a_where_is_a_load_time_error(tmp_path):
    path = _profile_copy(tmp_path, "adam.toml", 'where = "everywhere"', 'where = "all backends"')
    with pytest.raises(UserError, match=r"adam.toml: profile 'keras': .*'all' is not one of .*prose goes in the note"):
        _load_algorithm(path, axes())


def test_effects_that_can_apply_together_without_a_variant_are_a_load_time_error(tmp_path):
    # max_tail (fused, cpu) and scalars on the same code path: no AMSGrad variant models both
    path = _profile_copy(tmp_path, "amsgrad.toml", 'where = "code_path=fused device=cpu"',
                         'where = "code_path=differentiable device=cpu"')
    with pytest.raises(UserError, match=r"amsgrad.toml: profile 'torch': at code_path=differentiable.*"
                                        r"no variant of amsgrad models the precision effects max_tail, scalars"):
        _load_algorithm(path, axes())


def test_the_shipped_profiles_load(tmp_path):
    # the copies used above differ from the shipped files only by the typo
    shutil.copy(PROFILE_DIR / "adam.toml", tmp_path / "adam.toml")
    assert _load_algorithm(tmp_path / "adam.toml", axes()).name == "adam"
