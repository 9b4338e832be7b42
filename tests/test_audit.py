"""``optconform audit`` of torch targets through the real command line: verdicts, the report card,
not-applicable vectors, and one-line errors for what cannot run (exit 2).

The targets are torch.optim's own classes (which must conform to their declared torch profiles)
and a few small hand-written optimizers in a scratch folder, each with one known difference.
"""
import collections
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.test_cli import assert_one_line_error

pytest.importorskip("torch")

ENV = dict(os.environ, PYTHONWARNINGS="ignore")

EPS_INSIDE = '''
import torch

class EpsInside(torch.optim.Optimizer):
    """Adam with ε inside the square root: m̂/√(v̂ + ε); no maximize keyword; it scales the
    gradient it is given in place (a side effect)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, touch_grad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, touch_grad=touch_grad))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                st["exp_avg"].mul_(b1).add_(g, alpha=1 - b1)
                st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
                mhat = st["exp_avg"] / (1 - b1 ** t)
                vhat = st["exp_avg_sq"] / (1 - b2 ** t)
                p.sub_(group["lr"] * mhat / (vhat + group["eps"]).sqrt())
                if group["touch_grad"]:
                    p.grad.mul_(0.5)
'''


DECAY_AFTER = '''

class DecayAfter(torch.optim.Optimizer):
    """AdamW with the decoupled decay applied after the update, as the AdamW of transformers
    v2–v4 did: θ ← (θ − η·m̂/(√v̂ + ε))·(1 − ηλ)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                st["exp_avg"].mul_(b1).add_(g, alpha=1 - b1)
                st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["exp_avg_sq"] / (1 - b2 ** t)).sqrt().add_(group["eps"])
                p.addcdiv_(st["exp_avg"] / (1 - b1 ** t), denom, value=-group["lr"])
                p.add_(p, alpha=-group["lr"] * group["weight_decay"])
'''


def audit(tmp_path, *args, code=None):
    (tmp_path / "targets.py").write_text(textwrap.dedent(EPS_INSIDE) + textwrap.dedent(DECAY_AFTER))
    proc = subprocess.run([sys.executable, "-m", "optconform.adapters", "audit", *args, "--quiet", "--jobs", "2"],
                          capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=600)
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc



def test_torch_adam_conforms_to_its_profile_and_the_card_says_why(tmp_path):
    proc = audit(tmp_path, "torch.optim:Adam", "--algorithm", "adam", "--json", "a.json", code=0)
    report = json.loads((tmp_path / "a.json").read_text())
    card = report["audit"]
    assert "torch" in card["conforms_to"] and "keras" not in card["conforms_to"]
    assert card["mapping"]["beta1"] == "betas[0]" and card["mapping"]["eps"] == "eps"
    assert card["code_paths"] == ["forloop", "foreach", "fused"]
    assert card["code_paths_agree"]["agree"] is True
    assert card["fingerprint"]["eps_placement"]["values"] == ["std"]
    assert card["fingerprint"]["first_moment"]["values"] == ["lerp"]  # torch.lerp, seen on inf_grad
    assert card["gradient_modified"] == []
    assert card["state_round_trip"].get("pass") and not card["state_round_trip"].get("fail", 0) == \
        card["state_round_trip"].get("pass")
    failing = [c for c in report["cases"] if c["verdict"] == "fail"]
    assert failing and all(c["diagnosis"] for c in failing)  # other profiles' vectors, each diagnosed
    assert "verdict: conforms to torch" in proc.stdout
    # each case names the profiles its verdict counts for, and the card's counts are exactly those
    tally: dict = {}
    for c in report["cases"]:
        assert c["counts_for"], c["vector"]
        for p in c["counts_for"]:
            tally.setdefault(p, collections.Counter())[c["verdict"]] += 1
    for p in card["profiles"]:
        assert (tally[p["profile"]]["pass"], tally[p["profile"]]["fail"]) == (p["pass"], p["fail"]), p["profile"]


def test_eps_inside_the_root_diverges_and_is_named_with_not_applicable_maximize(tmp_path):
    proc = audit(tmp_path, "targets:EpsInside", "--algorithm", "adam", "--json", "a.json",
                 "--option", "touch_grad=True", code=1)
    card = json.loads((tmp_path / "a.json").read_text())["audit"]
    assert card["conforms_to"] == []
    assert card["fingerprint"]["eps_placement"]["values"] == ["inside"]
    assert card["unmapped"] == ["maximize"]
    assert any("takes no keyword for maximize" in m for m in card["not_applicable"])
    assert card["gradient_modified"]  # touch_grad scales p.grad in place
    assert card["options"] == {"touch_grad": True}
    assert "verdict: diverges from every profile" in proc.stdout
    assert "eps_placement = inside" in proc.stdout


def test_decay_after_the_update_is_named_though_no_profile_has_it(tmp_path):
    audit(tmp_path, "targets:DecayAfter", "--algorithm", "adamw", "--json", "a.json", code=1)
    report = json.loads((tmp_path / "a.json").read_text())
    assert report["audit"]["fingerprint"]["weight_decay"]["values"] == ["decoupled_lr_after"]
    found = {json.dumps(c["diagnosis"]["axes"]) for c in report["cases"]
             if c["diagnosis"] and c["diagnosis"]["explained"] and c["dtype"] == "float64"}
    assert any("decoupled_lr_after" in f for f in found)


def test_a_torch_scheduler_is_audited_as_a_schedule(tmp_path):
    proc = audit(tmp_path, "torch.optim.lr_scheduler:StepLR", "--algorithm", "step", code=0)
    assert "conforms to" in proc.stdout and "torch" in proc.stdout


@pytest.mark.parametrize("args, fragments", [
    (("torch.optim:Adam", "--algorithm", "nope"), ("unknown algorithm 'nope'",)),
    (("nosuchmodule:Adam", "--algorithm", "adam"), ("cannot import nosuchmodule:Adam",)),
    (("missing.py:Adam", "--algorithm", "adam"), ("does not exist",)),
    (("torch.optim:Nope", "--algorithm", "adam"), ("has no attribute 'Nope'",)),
    (("torch.optim:Adam", "--algorithm", "step"), ("is an optimizer; step is a schedule",)),
    (("torch.optim.lr_scheduler:StepLR", "--algorithm", "adam"), ("not a torch.optim.Optimizer",)),
    (("torch.optim:Adam", "--algorithm", "adam", "--name", "zeta=eps"), ("has no hyperparameter 'zeta'",)),
    (("torch.optim:Adam", "--algorithm", "adam", "--name", "eps=epsilon"), ("has no keyword 'epsilon'",)),
    (("torch.optim:Adam", "--algorithm", "adam", "--option", "amsgrad=yes"), ("must be a Python literal",)),
    (("torch.optim:Adam", "--algorithm", "adam", "--option", "colour=1"), ("has no keyword 'colour'",)),
    (("torch.optim:Adam", "--algorithm", "adam", "--framework", "mxnet"), ("unknown framework 'mxnet'",)),
])
def test_what_cannot_run_exits_2_with_one_line(tmp_path, args, fragments):
    assert_one_line_error(audit(tmp_path, *args), *fragments)


class _PackageBase(__import__("torch").optim.Optimizer):
    """A package's own base between torch's Optimizer and its optimizers (pytorch-optimizer's
    BaseOptimizer): it takes only the root's (params, defaults)."""

    def __init__(self, params, defaults):
        super().__init__(params, defaults)


class _ForwardsKwargs(_PackageBase):
    def __init__(self, params, lr=1e-3, eps=1e-8, **kwargs):
        super().__init__(params, dict(lr=lr, eps=eps))


class _Intermediate(__import__("torch").optim.Adam):
    def __init__(self, *args, **kwargs):  # everything passed on to Adam
        super().__init__(*args, **kwargs)


def test_keywords_passed_on_are_read_from_the_base_that_names_them_never_the_roots_defaults():
    from optconform.adapters.audit import signature_of

    names, defaults, required, _ = signature_of(_ForwardsKwargs, "torch", "optimizer")
    assert (names, required) == (["lr", "eps"], [])  # not "defaults": no hyperparameter of the optimizer
    names, defaults, required, _ = signature_of(_Intermediate, "torch", "optimizer")
    assert {"lr", "betas", "eps", "weight_decay", "amsgrad"} <= set(names) and "defaults" not in names
    assert defaults["betas"] == [0.9, 0.999] and required == []
