"""The command line: outputs, exit codes and one-line error messages (run as a real subprocess)."""
import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest

ENV = dict(os.environ, PYTHONWARNINGS="ignore")


def cli(*args, check=None):
    proc = subprocess.run([sys.executable, "-m", "optconform.adapters", *args], capture_output=True, text=True,
                          env=ENV, timeout=300)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_list_text_and_json():
    out = cli("list", check=0).stdout
    assert "optimizers:" in out and "adam" in out and "schedules:" in out
    doc = json.loads(cli("list", "--json", check=0).stdout)
    names = {a["name"]: a for a in doc["algorithms"]}
    assert names["adam"]["kind"] == "optimizer"
    assert "torch" in names["adam"]["profiles"]
    assert names["adam"]["axes"]["eps_placement"] == ["std", "hat", "inside"]


def test_trajectory_worked_adam_step_is_exact():
    """θ=1, g=0.5, lr=0.1: θ₁ = 1 − 0.1·0.5/(0.5+1e-8), computed here with fractions."""
    doc = json.loads(cli("trajectory", "adam", "--params", "1", "--grads", "0.5", "--set", "lr=0.1", "--json",
                         check=0).stdout)
    exact = 1 - Fraction(1, 10) * Fraction(1, 2) / (Fraction(1, 2) + Fraction(1, 10 ** 8))
    got = Fraction(doc["steps"][0]["params"][0])
    assert abs(got - exact) < Fraction(1, 10 ** 39)
    assert doc["steps"][0]["params"][0].startswith("0.900000001999999960000000799999984")
    assert doc["algorithm"] == "adam" and doc["profile"] == "spec" and doc["steps"][0]["t"] == 1
    assert doc["steps"][0]["lr"] == "0.1"
    assert doc["hyper"]["lr"] == "0.1"


def test_trajectory_constant_gradient_repeats_and_steps_form():
    doc = json.loads(cli("trajectory", "adam", "--params", "1,2", "--grads", "0.5,-1", "--steps", "3",
                         "--json", check=0).stdout)
    assert [s["t"] for s in doc["steps"]] == [1, 2, 3]
    doc2 = json.loads(cli("trajectory", "adam", "--params", "1,2", "--grads", "0.5,-1;0.5,-1;0.5,-1",
                          "--json", check=0).stdout)
    assert doc["steps"] == doc2["steps"]


def test_trajectory_profile_changes_the_answer():
    spec = json.loads(cli("trajectory", "adam", "--params", "1", "--grads", "1e-7", "--json", check=0).stdout)
    keras = json.loads(cli("trajectory", "adam", "--profile", "keras", "--set", "eps=1e-8", "--params", "1",
                           "--grads", "1e-7", "--json", check=0).stdout)
    assert spec["steps"][0]["params"] != keras["steps"][0]["params"]


def test_trajectory_axis_point_and_effects_in_json():
    off = json.loads(cli("trajectory", "adam", "--axis", "bias_correction=off", "--params", "1", "--grads", "0.5",
                         "--set", "lr=0.1", "--json", check=0).stdout)
    assert off["profile"] == "spec" and off["axes"] == {"bias_correction": "off"}
    assert off["semantics"]["bias_correction"] == "off" and off["effects"] == {}
    # θ₁ = 1 − 0.1·0.05/(√0.00025 + 1e-8), m₁ = 0.05, v₁ = 0.00025 (no bias correction)
    assert off["steps"][0]["params"][0].startswith("0.68377243")
    assert off["steps"][0]["state"]["exp_avg"] == ["0.05"]
    confirmed = json.loads(cli("trajectory", "adam", "--profile", "torch", "--axis", "first_moment=lerp",
                               "--params", "1", "--grads", "0.5", "--json", check=0).stdout)
    assert confirmed["axes"] == {} and confirmed["profile"] == "torch"
    args = ("trajectory", "radam", "--profile", "torch", "--set", "beta2=0.8397685748659791", "--set", "lr=0.1",
            "--params", "1", "--grads", "0.5", "--steps", "6", "--json")
    exact = json.loads(cli(*args, check=0).stdout)
    framework = json.loads(cli(*args, "--effects", "forloop", check=0).stdout)
    assert framework["effects"] == {"rho": "float64"} and exact["effects"] == {}
    # float64 ρ₆ is exactly 5.0: torch's ρ_t > 5 fails, so the sixth step is SGD's 0.1·0.5
    assert framework["steps"][5]["params"] == ["0.7"] and exact["steps"][5]["params"][0].startswith("0.71883785")


def test_trajectory_schedule():
    out = cli("trajectory", "warmup_cosine", "--set", "total_steps=10", "--set", "warmup_steps=2", "--steps", "3",
              "--json", check=0).stdout
    doc = json.loads(out)
    assert [s["lr"] for s in doc["steps"]] == ["0", "0.05", "0.1"]


def test_trajectory_says_which_value_it_used_for_a_required_hyperparameter():
    """optax.lion(learning_rate, ...) has no default learning rate: the calculator uses the spec's
    (Chen et al.: 1e-4) and says so, on stderr and in the JSON; --set silences it."""
    proc = cli("trajectory", "lion", "--profile", "optax", "--params", "1", "--grads", "1", check=0)
    assert "note: lr: required by optax (no default there), the spec default 0.0001 used" in proc.stderr
    doc = json.loads(cli("trajectory", "lion", "--profile", "optax", "--params", "1", "--grads", "1", "--json",
                         check=0).stdout)
    assert doc["required_filled"] == {"lr": "0.0001"} and doc["hyper"]["lr"] == "0.0001"
    assert doc["notes"] and "required by optax" in doc["notes"][0]
    given = cli("trajectory", "lion", "--profile", "optax", "--set", "lr=0.5", "--params", "1", "--grads", "1",
                "--json", check=0)
    assert json.loads(given.stdout)["required_filled"] == {} and "note:" not in given.stderr
    # Lion's first step is θ(1 − ηλ) − η·sign(g) (optax's λ = 0.001, decoupled): 1 − 0.0005 − 0.5 = 0.4995
    assert json.loads(given.stdout)["steps"][0]["params"] == ["0.4995"]


@pytest.mark.parametrize("args,fragments", [
    (("trajectory", "adamm", "--params", "1", "--grads", "1"), ["unknown algorithm 'adamm'", "did you mean 'adam'"]),
    (("trajectory", "adam", "--profile", "jax", "--params", "1", "--grads", "1"), ["no profile 'jax'"]),
    (("trajectory", "adam", "--set", "gamma=1", "--params", "1", "--grads", "1"), ["no hyperparameter 'gamma'"]),
    (("trajectory", "adam", "--set", "lr=-1", "--params", "1", "--grads", "1"), ["lr must be >= 0"]),
    (("trajectory", "adam", "--set", "beta1=1", "--params", "1", "--grads", "1"), ["beta1 must be < 1"]),
    (("trajectory", "adam", "--set", "eps=-1e-8", "--params", "1", "--grads", "1"), ["eps must be >= 0"]),
    (("trajectory", "adam", "--set", "lr=abc", "--params", "1", "--grads", "1"), ["lr must be a real"]),
    (("trajectory", "adam", "--set", "lr", "--params", "1", "--grads", "1"), ["NAME=VALUE"]),
    (("trajectory", "adam", "--params", "1,x", "--grads", "1,1"), ["--params", "'x' is not a number"]),
    (("trajectory", "adam", "--params", "1,2", "--grads", "1"), ["--grads step 1 has 1 values"]),
    (("trajectory", "adam", "--params", "1", "--grads", "1;2", "--steps", "3"), ["--grads gives 2 steps"]),
    (("trajectory", "adam", "--params", "1"), ["give --params and --grads"]),
    (("trajectory", "adam", "--params", "1", "--grads", ""), ["--grads is empty"]),
    (("trajectory", "warmup_cosine", "--params", "1"), ["takes no --params"]),
    (("trajectory", "warmup_cosine", "--set", "total_steps=0"), ["total_steps must be > 0"]),
    (("trajectory", "warmup_cosine", "--set", "total_steps=3", "--set", "warmup_steps=5"), ["greater than warmup_steps"]),
    (("trajectory", "adam", "--axis", "bias_correction", "--params", "1", "--grads", "1"), ["--axis expects NAME=VALUE"]),
    (("trajectory", "adam", "--axis", "nesterov=on", "--params", "1", "--grads", "1"),
     ["adam has no axis 'nesterov'", "axes: eps_placement, weight_decay, bias_correction"]),
    (("trajectory", "adam", "--axis", "bias_correction=maybe", "--params", "1", "--grads", "1"),
     ["axis bias_correction has no value 'maybe'", "values: on, off"]),
    (("trajectory", "adam", "--profile", "torch", "--axis", "bias_correction=off", "--params", "1", "--grads", "1"),
     ["--axis bias_correction=off contradicts --profile torch (bias_correction=on)"]),
    (("trajectory", "adam", "--axis", "bias_correction=off", "--axis", "bias_correction=on", "--params", "1",
      "--grads", "1"), ["--axis bias_correction is given twice"]),
    (("trajectory", "constant", "--axis", "floor=relative"), ["constant has no semantic axis"]),
    # optax.adafactor has no ε₂ keyword (scale_by_param_block_rms fixes min_scale at 1e-3)
    (("trajectory", "adafactor", "--profile", "optax", "--set", "eps2=0", "--params", "1", "--grads", "1"),
     ["optax adafactor has no eps2 argument", "fixed at 0.001"]),
    (("generate", "nosuch"), ["unknown algorithm 'nosuch'"]),
    (("generate", "--jobs", "0"), ["--jobs must be at least 1"]),
    (("frobnicate",), ["invalid choice"]),
    (("trajectory",), ["required"]),
])
def test_bad_input_is_one_line_and_exit_2(args, fragments):
    assert_one_line_error(cli(*args), *fragments)


@pytest.mark.parametrize("command", ["list", "generate", "trajectory", "check"])
def test_help_on_every_command_has_examples(command):
    out = cli(command, "--help", check=0).stdout
    assert "examples:" in out and f"optconform {command}" in out


def test_check_help_states_the_time_limit_and_why():
    out = " ".join(cli("check", "--help", check=0).stdout.split())
    assert "--timeout SECONDS" in out and "default 300" in out and "torch.compile" in out and "0: no limit" in out


def test_top_level_help_and_version():
    assert "examples:" in cli("--help", check=0).stdout
    assert cli("--version", check=0).stdout.startswith("optconform ")
