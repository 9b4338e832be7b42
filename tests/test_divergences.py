"""The divergence catalog, the porting guide and the per-vector flags (reference/catalog.py,
reference/porting.py, reference/flags.py, adapters/divergences_cli.py).

The measured claims are checked against values derived here by hand (closed forms of one step, the
index at which two schedule forms part), not against the catalog's own output; the spec page must
be what the catalog renders now.
"""
from __future__ import annotations

import json

import mpmath
import pytest

from optconform.adapters.cli import main
from optconform.reference import catalog as C
from optconform.reference.catalog_page import algorithm_section
from optconform.reference.catalog_page import main as page_main
from optconform.reference.model import get
from optconform.reference.numeric import precision
from optconform.reference.porting import guide
from optconform.reference.scenarios import cases
from optconform.reference.vectors import vector_document


@pytest.fixture(scope="module")
def adam():
    return C.catalog(["adam"])["algorithms"][0]


def _step1_inputs(regime_name: str):
    """θ₀ and g₁ of a catalog regime (the inputs only; the expected values are computed below)."""
    alg = get("adam")
    regime = next(r for r in C.REGIMES if r.name == regime_name)
    case = C.optimizer_run_case(alg, alg.profiles["spec"], regime, True, {})
    return case.params["w"].data, case.grads[0]["w"].data, case.groups[0][1]


@pytest.mark.parametrize("regime", ["ordinary", "near_eps"])
def test_adam_hat_against_std_at_step_one_has_its_closed_form(adam, regime):
    """Step 1 of Adam: m̂ = g, v̂ = g², so std gives θ − ηg/(|g| + ε) and ε-hat gives
    θ − ηg/(|g| + ε/√(1 − β₂)); the catalog's size for keras's eps_placement after one step is the
    largest relative difference of the two."""
    theta, g, h = _step1_inputs(regime)
    with precision():
        std = [t - h.lr * x / (abs(x) + h.eps) for t, x in zip(theta, g)]
        hat = [t - h.lr * x / (abs(x) + h.eps / mpmath.sqrt(1 - h.beta2)) for t, x in zip(theta, g)]
        expected = max(abs(a - b) / abs(b) for a, b in zip(hat, std))
    keras = next(d for d in adam["differences"] if d["profile"] == "keras")
    row = next(a for a in keras["axes"] if a["axis"] == "eps_placement")
    assert row["effect"][regime]["1"] == pytest.approx(float(expected), rel=5e-3)


def test_a_learning_rate_that_must_be_positive_is_scheduled_from_and_to_a_sixteenth():
    """FTRL divides by η (n^{−p}/η): warmed up from 0 its first step divided by zero and every
    scheduled cell read 0 or non-finite. Its scheduled regime runs from η/16 up to η and back down
    to η/16; Adam's keeps the warmup from 0."""
    from optconform.reference.trajectory import schedule_lrs

    ftrl, adam_alg = get("ftrl"), get("adam")
    scheduled = next(r for r in C.REGIMES if r.name == "scheduled")
    case = C.optimizer_run_case(ftrl, ftrl.profiles["spec"], scheduled, True, {})
    eta = case.groups[0][1].lr
    with precision():
        lrs = schedule_lrs(case.schedule, case.steps)
        assert lrs[0] == eta / 16 and lrs[10] == eta and lrs[-1] > eta / 16 and min(lrs) == eta / 16
        adam_case = C.optimizer_run_case(adam_alg, adam_alg.profiles["spec"], scheduled, True, {})
        assert schedule_lrs(adam_case.schedule, adam_case.steps)[0] == 0
    entry = C.catalog(["ftrl"])["algorithms"][0]
    shipped = [row for d in entry["differences"] for row in d["axes"] if row["axis"] == "weight_decay"]
    cells = [row["effect"]["scheduled"][t] for row in shipped for t in ("10", "100")]
    assert cells and all(isinstance(c, float) and c > 0 for c in cells)


def test_adam_catalog_names_the_keras_epsilon_default_and_the_weight_decay_forms(adam):
    eps = next(r for r in adam["hyperparameters"] if r["name"] == "eps")
    assert eps["defaults_differ"]
    assert eps["profiles"]["keras"]["keyword"] == "epsilon"
    wd = next(r for r in adam["axes"] if r["axis"] == "weight_decay")
    assert (wd["values"]["torch"], wd["values"]["keras"], wd["values"]["torch_decoupled"]) == \
        ("l2", "decoupled_lr", "decoupled_lr")
    finite = next(r for r in adam["axes"] if r["axis"] == "first_moment")
    assert finite["finite_only"]


def test_equivalences_hold_only_in_the_arithmetic_the_frameworks_do(adam):
    pairs = {tuple(e["profiles"]): e for e in adam["equivalences"]}
    # optax.adam and jax.example_libraries' adam: the same equations, no precision effect
    assert pairs[("optax", "jax_example")]["verdict"] == "up_to_rounding"
    # tf_keras with adaptive_epsilon computes torch's decoupled Adam in exact arithmetic, but Keras
    # holds the learning rate in float32: not equal in float64
    e = pairs[("torch_decoupled", "tf_keras_adaptive")]
    assert e["verdict"] == "exact_only" and "lr" in e["precision_differs"]
    worst = max(v for row in e["float64"].values() for v in row.values())
    assert worst > C.rounding_limit(100)
    # torch and keras differ in exact arithmetic (ε-hat): never claimed equivalent
    assert ("torch", "keras") not in pairs


def test_rounding_limit_is_twice_the_float64_bound():
    assert C.rounding_limit(10) == pytest.approx(2 * 80 * 2.0 ** -52)


def test_porting_adam_torch_to_keras():
    g = guide("adam", "torch", "keras")
    assert "epsilon=1e-8" in g["calls"]["to"]["code"] and "epsilon=1e-7" in g["calls"]["to_defaults"]["code"]
    assert g["calls"]["from"]["code"].startswith("torch.optim.Adam(params, lr=0.001, betas=(0.9, 0.999)")
    axes = {a["axis"]: a for a in g["axes"]}
    assert axes["eps_placement"]["verdict"] == "approximately"
    assert axes["weight_decay"]["verdict"] == "not_at_all"
    assert axes["weight_decay"]["switch"] == "weight_decay" and not axes["weight_decay"]["switch_on"]
    assert g["verdict_at_defaults"] == "approximately" and g["verdict"] == "not_at_all"


def test_porting_adamw_paper_to_torch_translates_the_decay_exactly():
    """θ(1 − s_t λ) = θ(1 − η_t·λ/η): the paper's decay is torch's with weight_decay = λ/η, even
    under a schedule (residual 0), and not without the translation."""
    g = guide("adamw", "spec", "torch")
    row = next(a for a in g["axes"] if a["axis"] == "weight_decay")
    assert row["verdict"] == "exact"
    at = row["rule"]["checked_at"]
    with precision():
        assert mpmath.mpf(row["rule"]["set"]["weight_decay"]) == mpmath.mpf(at["weight_decay"]) / mpmath.mpf(at["lr"])
    assert C.largest(row["rule"]["residual"]) == 0.0
    assert C.largest(row["residual"]) > 0.0


def test_porting_adamw_torch_to_optax_is_exact_up_to_rounding():
    g = guide("adamw", "torch", "optax")
    assert g["verdict"] == "exact" and g["translated"] is None
    assert g["float64"]["verdict"] == "up_to_rounding"
    wd = next(h for h in g["hyper"] if h["name"] == "weight_decay")
    assert wd["status"] == "default differs: pass it"


def test_sgd_torch_to_optax_float64_statement_is_not_the_weight_decay_difference():
    """torch.optim.SGD has coupled L2 decay, optax.sgd none: with λ > 0 the two differ in exact
    arithmetic (θ − η(g + λθ) against θ − ηg), so a float64 comparison with λ on measures that
    semantic difference, not rounding. The guide's float64 statement leaves that feature off (the
    source's λ = 0): plain SGD in both, bit-identical; with λ on the comparison says ``differ``."""
    g = guide("sgd", "torch", "optax")
    assert g["float64"]["verdict"] == "up_to_rounding" and "weight_decay" not in g["float64"]["hyper"]
    alg = get("sgd")
    torch, optax = alg.profiles["torch"], alg.profiles["optax"]
    assert C.float64_agreement(alg, torch, optax)["verdict"] == "up_to_rounding"
    # Adam's ε placement (torch ε outside the root, keras ε-hat) is active at every step: no rounding claim
    adam = get("adam")
    f = C.float64_agreement(adam, adam.profiles["torch"], adam.profiles["keras"])
    assert f["verdict"] == "differ" and C.largest(f["exact"]) > 0


def test_sgd_torch_to_optax_terminal_says_no_exact_arithmetic_only(capsys):
    code, out, _ = _run(capsys, "divergences", "sgd", "--from", "torch", "--to", "optax")
    assert code == 0 and "equal in exact arithmetic only" not in out
    assert "in float64 (every operation rounded to 53 bits, declared precision effects applied) at the source's " \
           "values: bit-identical parameters" in out


def test_required_hyperparameters_show_required_not_a_default():
    """optax.lion(learning_rate, ...) has no default: the table says required, and optax's
    "default" no longer makes the lr defaults of optax and keras look different."""
    entry = C.catalog(["lion"])["algorithms"][0]
    lr = next(r for r in entry["hyperparameters"] if r["name"] == "lr")
    assert lr["profiles"]["optax"]["required"] and not lr["profiles"]["keras"]["required"]
    page = algorithm_section(entry, [r.name for r in C.REGIMES])
    assert "| `lr` | 0.0001 | `learning_rate` = required | `learning_rate` = 0.001 | `learning_rate` = 0.0001 |" in page
    g = guide("lion", "keras", "optax")
    row = next(h for h in g["hyper"] if h["name"] == "lr")
    assert row["to_required"] and row["status"].startswith("required by the target")
    # the port passes the source's learning rate: "nothing changed" then differs by optax's
    # weight_decay = 1e-3 alone (keras 0), not by a learning rate optax does not have
    assert "learning_rate=0.001" in g["calls"]["to_defaults"]["code"]


def test_adafactor_optax_shows_its_own_keyword_and_value():
    """optax.adafactor(decay_rate=0.8) is β̂₂ = 1 − t^(−0.8), torch's beta2_decay = −0.8: the table
    and the constructor call show optax's keyword with optax's value, the negative of the canonical."""
    entry = C.catalog(["adafactor"])["algorithms"][0]
    row = next(r for r in entry["hyperparameters"] if r["name"] == "beta2_decay")
    cell = row["profiles"]["optax"]
    assert (cell["keyword"], cell["value"], cell["default"]) == ("decay_rate", "0.8", "-0.8")
    page = algorithm_section(entry, [r.name for r in C.REGIMES])
    assert "`decay_rate` = 0.8" in page and "(= −beta2_decay)" not in page
    g = guide("adafactor", "torch", "optax")
    assert "decay_rate=0.8" in g["calls"]["to"]["code"] and "beta2_decay=-0.8" in g["calls"]["from"]["code"]


def test_a_wrappers_inner_optimizer_gets_its_own_call():
    """optax.lookahead takes the fast optimizer as a GradientTransformation and torch-optimizer's
    Lookahead a torch optimizer: the inner SGD's lr and momentum belong inside those calls, not
    among the wrapper's keywords; torch's AveragedModel takes the model, with the SGD beside it."""
    g = guide("lookahead", "torch_optimizer", "optax")
    assert g["calls"]["from"]["code"] == \
        "torch_optimizer.Lookahead(torch.optim.SGD(params, lr=0.001, momentum=0), k=5, alpha=0.5)"
    assert g["calls"]["to"]["code"] == ("optax.lookahead(fast_optimizer=optax.sgd(learning_rate=0.001, "
                                        "momentum=0), sync_period=5, slow_step_size=0.5)")
    assert {h["name"]: h["to"] for h in g["hyper"]}["lr"] == "optax.sgd(learning_rate)"
    ema = guide("update_ema", "torch", "optax")["calls"]
    assert ema["from"]["code"] == "torch.optim.SGD(params, dampening=0.9, lr=0.001, momentum=0.9)"
    assert ema["to"]["code"] == \
        "optax.chain(optax.ema(decay=0.9), optax.scale_by_learning_rate(learning_rate=0.001))"
    swa = guide("swa", "torch", "spec")["calls"]["from"]
    assert (swa["code"], swa["beside"]) == ("torch.optim.swa_utils.AveragedModel(model)",
                                            ["torch.optim.SGD(params, lr=0.001)"])


def test_porting_cosine_torch_to_optax_parts_one_update_past_the_horizon():
    """torch's CosineAnnealingLR is periodic, optax's clamped; at k = T both are at the floor, so
    the first update index that differs is T + 1. The floor η_min becomes optax's alpha = η_min/η."""
    g = guide("cosine", "torch", "optax")
    T = int(get("cosine").defaults("torch")["total_steps"])
    horizon = next(a for a in g["axes"] if a["axis"] == "past_horizon")
    assert horizon["verdict"] == "not_at_all"
    assert horizon["residual"]["lr"]["first_k"] == T + 1
    assert horizon["residual"]["lr"]["within"] == 0.0
    floor = next(a for a in g["axes"] if a["axis"] == "floor")
    assert floor["verdict"] == "exact" and floor["rule"]["keywords"] == {"eta_min": "alpha"}
    assert "index" in g and "scheduler.step()" in g["index"]["from"]


def test_piecewise_constant_boundary_parts_at_the_first_boundary():
    """'at' switches at k = b, 'after' at k = b + 1: they first differ at k = b."""
    entry = C.catalog(["piecewise_constant"])["algorithms"][0]
    keras = next(d for d in entry["differences"] if d["profile"] == "keras")
    row = next(a for a in keras["axes"] if a["axis"] == "boundary")
    alg = get("piecewise_constant")
    with precision():  # the measured run's hyperparameters (the spec's defaults)
        b = C.schedule_run_case(alg, alg.profiles["spec"], True).groups[0][1].boundaries[0]
    assert row["effect"]["lr"]["first_k"] == int(b)


def test_every_framework_pair_has_a_guide():
    from optconform.reference.porting import families

    for name in ("adagrad", "rmsprop", "step"):
        fams = list(families(get(name)))
        for a in fams:
            for b in fams:
                if a != b:
                    g = guide(name, a, b)
                    assert g["verdict"] in ("exact", "approximately", "not_at_all")


def test_vector_flags_name_the_axes_a_vector_separates():
    alg = get("adam")
    spec = alg.profiles["spec"]
    by = {c.scenario: c for c in cases(alg, spec)}
    doc = vector_document([by["inf_grad"]], separations=True)
    assert doc["separates"]["first_moment"] == ["lerp"]
    assert doc["separates"]["second_moment"] == ["delta"]
    assert "FirstMomentForm" in doc["flags"]
    assert list(doc).index("flags") == list(doc).index("semantics") + 1
    probe = vector_document([by["probe"]], separations=True)
    assert "weight_decay" not in probe["separates"]  # λ = 0 there: the axis is not active
    assert "first_moment" not in probe["separates"]  # finite gradients: lerp = mix
    assert "flags" not in vector_document([by["probe"]])  # the checker's documents stay as they were


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ("divergences", "no_such_algorithm"),
    ("divergences", "adam", "--from", "torch", "--to", "mxnet"),
    ("divergences", "adabound", "--from", "spec", "--to", "torch"),
    ("divergences", "adam", "--from", "torch"),
    ("divergences", "adam", "sgd", "--from", "torch", "--to", "keras"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, _out, err = _run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_json_output(capsys):
    code, out, _ = _run(capsys, "divergences", "step", "--json", "-")
    assert code == 0
    doc = json.loads(out)
    assert doc["format"] == C.FORMAT and [a["name"] for a in doc["algorithms"]] == ["step"]
    code, out, _ = _run(capsys, "divergences", "step", "--from", "torch", "--to", "keras", "--json", "-")
    assert code == 0 and json.loads(out)["to"]["profile"] == "keras"


def test_terminal_guide(capsys):
    code, out, _ = _run(capsys, "divergences", "adam", "--from", "pytorch", "--to", "keras")
    assert code == 0
    assert "keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8" in out


def test_spec_divergences_page_is_not_stale():
    assert page_main(["--check"]) == 0, \
        "spec/divergences.md or spec/divergences.json is stale: run python -m optconform.reference.catalog_page"


def test_the_shipped_catalog_is_read_only_for_the_reference_it_was_computed_from(tmp_path):
    from optconform.reference.model import algorithms

    assert set(C.read_seed()) == {f"algorithm:{name}" for name in algorithms()}
    other = tmp_path / "other.json"  # the same catalog, computed from another reference
    other.write_text(C.SEED.read_text(encoding="utf-8").replace(C.disk_cache.reference_fingerprint(), "0" * 24, 1),
                     encoding="utf-8")
    assert C.read_seed(other) == {}
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"fingerprint": ', encoding="utf-8")
    assert C.read_seed(damaged) == {} and C.read_seed(tmp_path / "absent.json") == {}


def test_a_first_run_reads_the_shipped_catalog_instead_of_computing(tmp_path, monkeypatch):
    from optconform.reference.model import algorithms

    monkeypatch.setenv("OPTCONFORM_CACHE", str(tmp_path))  # an empty cache: a first run on a machine
    monkeypatch.setattr(C, "algorithm_entry", lambda alg: pytest.fail(f"{alg.name} was computed"))
    assert [e["name"] for e in C.catalog()["algorithms"]] == list(algorithms())


# --- --confirm: the guide's statements on the real frameworks --------------------------------------


@pytest.mark.framework("torch")
@pytest.mark.framework("optax")
def test_confirm_adamw_torch_to_optax_measures_what_the_reference_says():
    """torch.optim.AdamW → optax.adamw with the source's values passed: the reference says exactly;
    torch and optax, float64 on their default code paths, end within float64 rounding of each other
    (twice the float64 bound of spec/tolerance.md after t steps); nothing changed (optax's
    weight_decay = 1e-4 against torch's 1e-2), they differ by what the reference predicts."""
    pytest.importorskip("torch")
    pytest.importorskip("optax")
    from optconform.adapters.porting_confirm import confirm

    c = confirm(guide("adamw", "torch", "optax"))
    checks = {e["id"]: e for e in c["checks"]}
    same = checks["translated"]
    assert same["claim"] == "exactly" and same["verdict"] == "agree", same["note"]
    for regime, sizes in same["measured"].items():
        assert C.largest({regime: same["predicted"][regime]}) == 0.0
        for t, v in sizes.items():
            assert v <= C.rounding_limit(int(t)), (regime, t, v)
    unchanged = checks["unchanged"]
    assert unchanged["verdict"] == "agree", unchanged["note"]
    # one step of AdamW moves θ by ηλθ in the decay: (1e-2 − 1e-4)·η = 9.9e-6 relative
    assert unchanged["predicted"]["ordinary"]["1"] == pytest.approx(9.9e-6, rel=0.01)
    for regime, sizes in unchanged["measured"].items():
        for t, v in sizes.items():
            assert v == pytest.approx(unchanged["predicted"][regime][t], rel=1e-6, abs=C.rounding_limit(int(t)))


def test_confirm_says_not_installed_for_an_unavailable_framework(monkeypatch, capsys):
    """A framework whose adapter reports it unavailable (registry.availability) is not installed:
    each statement says so, the reference's prediction is still given, and the command succeeds."""
    from optconform.adapters.frameworks import optax_adapter
    from optconform.adapters.porting_confirm import confirm

    monkeypatch.setattr(optax_adapter.OptaxAdapter, "available",
                        lambda self: (False, "jax is not installed (pip install 'optconform[jax]')"))
    c = confirm(guide("lion", "optax", "spec"))
    assert c["frameworks"]["optax"]["available"] is False
    assert c["checks"] and all(e["verdict"] == "not_installed" for e in c["checks"])
    assert all("optax is not installed here (jax is not installed" in e["note"] for e in c["checks"])
    assert all(e["predicted"] and not e["measured"] for e in c["checks"])
    code, out, err = _run(capsys, "divergences", "lion", "--from", "optax", "--to", "spec", "--confirm")
    assert code == 0 and "Traceback" not in err
    assert "optax (not installed)" in out and "**not installed**" in out
