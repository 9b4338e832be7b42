"""The PyTorch adapter: every torch.optim optimizer and lr_scheduler the spec covers.

Implementations (each reported separately): code paths ``forloop`` (foreach=False), ``foreach``,
``fused`` (where torch has a kernel), ``differentiable``, ``capturable`` (CUDA only) and
``compiled`` (the step under torch.compile, for :data:`COMPILED`: SGD, Adam, AdamW, Rprop, ASGD);
devices ``cpu`` and ``cuda`` when present; dtypes float64, float32, bfloat16, float16. Schedules run as the ``scheduler``
code path on the CPU in float64 (torch computes learning rates in Python floats).

The optimizer is built from the profile data (``api``, ``names``); hyperparameters are the
vector's, rounded to Python floats; the learning rate of a scheduled scenario is set on each
param group before each step; state is read back through the profile's ``state_names``; for the
``resume`` scenario the state_dict is saved after the checkpoint step (serialized with
torch.save) and loaded into a fresh optimizer. One-step mode (every path but ``compiled``) writes
the injected parameters, state entries and step count into the optimizer before each step.
"""
from __future__ import annotations

import importlib.util
import io

from optconform.reference.model import algorithms, get, precision_effects

from .engine import (api_ties, closed_loop_gradient, gradient_stream, initial_params, optimizer_kwargs, pyvalue,
                     read_state, resolve_api, step_lrs, tie)
from ..protocol import AdapterRun, Implementation, Unsupported

DTYPES = ("float64", "float32", "bfloat16", "float16")
FUSED = {"sgd", "adam", "adamw", "amsgrad", "adagrad", "update_ema"}
NO_FOREACH = {"sparse_adam", "muon"}
NO_DIFFERENTIABLE = {"sparse_adam", "adafactor", "muon"}
CAPTURABLE = {"adam", "adamw", "amsgrad", "adamax", "nadam", "radam", "rmsprop", "adadelta", "rprop", "asgd"}
COMPILED = {"sgd", "adam", "adamw", "rprop", "asgd", "update_ema"}
SPARSE_GRADIENTS = {"sparse_adam"}


class TorchAdapter:
    name = "torch"
    framework = "torch"
    can_inject_state = True
    supports_cuda = True  # the cuda device (fused and capturable kernels) when a GPU is present

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("torch") is None:
            return False, "torch is not installed (pip install 'optconform[torch]')"
        return True, ""

    def version(self) -> str:
        import torch

        cuda = torch.version.cuda if torch.cuda.is_available() else None
        return torch.__version__ + (f" (CUDA {cuda})" if cuda else "")

    def devices(self) -> list[str]:
        import torch

        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    def profiles(self) -> dict[str, list]:
        """Every torch profile of every algorithm: ``torch`` and its API variants
        (``torch_decoupled``: Adam, NAdam, RAdam with decoupled_weight_decay=True)."""
        out = {}
        for name, alg in algorithms().items():
            mine = [p for p, prof in alg.profiles.items() if prof.framework == "torch"]
            if mine:
                out[name] = mine
        return out

    def code_paths(self, algorithm: str) -> list[str]:
        if get(algorithm).kind == "schedule":
            return ["scheduler"]
        paths = ["forloop"]
        if algorithm not in NO_FOREACH:
            paths.append("foreach")
        if algorithm in FUSED:
            paths.append("fused")
        if algorithm not in NO_DIFFERENTIABLE:
            paths.append("differentiable")
        if algorithm in CAPTURABLE:
            paths.append("capturable")
        if algorithm in COMPILED:
            paths.append("compiled")
        return paths

    def default_code_path(self, algorithm: str, profile: str | None = None) -> str:
        """The path a user gets without asking (torch's default on the CPU is the for-loop
        implementation); the float64 profile confirmation runs it."""
        return "scheduler" if get(algorithm).kind == "schedule" else "forloop"

    def implementations(self, algorithm: str) -> list[Implementation]:
        if get(algorithm).kind == "schedule":
            return [Implementation(self.name, "scheduler", "cpu", "float64")]
        out = []
        for path in self.code_paths(algorithm):
            for device in self.devices():
                if path == "capturable" and device != "cuda":
                    continue
                for dtype in DTYPES:
                    out.append(Implementation(self.name, path, device, dtype))
        return out

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str = "torch") -> dict:
        """Declared precision effects of the torch profile that apply to this implementation: all
        of them, except those whose ``where`` names other code paths (``code_path=a,b``) or devices."""
        return precision_effects(get(algorithm).profiles[profile], impl.code_path, impl.dtype, device=impl.device)

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        if doc["kind"] == "schedule":
            from .torch_schedules import run_schedule

            return AdapterRun(run_schedule(doc))
        return _runner(doc)(doc, impl).run()

    def run_one_step(self, doc: dict, impl: Implementation) -> AdapterRun:
        """One-step mode (reference/onestep.py): ``doc`` carries, per step, the state to inject."""
        if doc["kind"] != "optimizer":
            raise Unsupported("one-step mode applies to optimizers only")
        if impl.code_path == "compiled":
            raise Unsupported("one-step mode is not offered for the compiled path (a recompilation per step)")
        return _runner(doc)(doc, impl).run_one_step()


class _OptimizerRun:
    def __init__(self, doc, impl):
        import torch

        self.torch = torch
        self.doc = doc
        self.impl = impl
        self.alg = get(doc["algorithm"])
        self.profile = self.alg.profiles[doc.get("profile") or "torch"]  # the harness names the profile
        self.dtype = getattr(torch, impl.dtype)
        self.device = torch.device(impl.device)
        if impl.device == "cuda" and not torch.cuda.is_available():
            raise Unsupported("no CUDA device")
        self.shapes = {}
        self.tensors = {}
        for n, (shape, values) in initial_params(doc).items():
            self.shapes[n] = shape
            value = torch.tensor(values, dtype=torch.float64).reshape(shape).to(self.dtype).to(self.device)
            requires_grad = impl.code_path != "differentiable"
            self.tensors[n] = torch.nn.Parameter(value, requires_grad=requires_grad)
        groups = doc["inputs"]["groups"]
        self.hypers = [self.alg.resolve(self.profile.name, g["hyper"]) for g in groups]
        self.group_names = [g["params"] for g in groups]
        self.lrs = step_lrs(doc)
        self.stream = self.gradient_stream(gradient_stream(doc))

    def path_kwargs(self) -> dict:
        path = self.impl.code_path
        if path == "forloop":
            return {"foreach": False} if self.alg.name not in NO_FOREACH else {}
        if path == "foreach":
            return {"foreach": True}
        if path == "fused":
            return {"fused": True}
        if path == "differentiable":
            return {"differentiable": True, "foreach": False}
        if path == "capturable":
            return {"capturable": True, "foreach": False}
        if path == "compiled":
            return {"foreach": False}
        raise Unsupported(f"unknown code path {path!r}")

    def build(self):
        cls, extra = resolve_api(self.profile.api)
        kwargs = [optimizer_kwargs(self.doc, h, self.profile) for h in self.hypers]
        # update_ema's torch.optim.SGD(dampening=momentum): dampening takes each group's momentum
        kwargs = [tie(k, api_ties(self.profile.api)) for k in kwargs]
        path = self.path_kwargs()
        if self.impl.code_path == "compiled":
            torch = self.torch
            kwargs = [dict(k, lr=torch.tensor(k["lr"], dtype=torch.float64)) if "lr" in k else k for k in kwargs]
        groups = [{"params": [self.tensors[n] for n in names], **kw} for names, kw in zip(self.group_names, kwargs)]
        # options some optimizers read only in the constructor (Adagrad's initial_accumulator_value)
        # come from the first group, the rest per group
        try:
            return cls(groups, **{**kwargs[0], **extra, **path})
        except (TypeError, ValueError, RuntimeError, AssertionError) as exc:
            raise Unsupported(f"torch.optim {cls.__name__} rejects {self.impl.code_path} on "
                              f"{self.impl.device}/{self.impl.dtype}: {exc}") from None

    def gradient(self, t: int) -> dict:
        if self.stream is not None:
            return {n: stack[t - 1] for n, stack in self.stream.items()}
        return self.objective_gradient(self.doc["inputs"]["objective"])

    def gradient_stream(self, stream) -> dict | None:
        """Every step's gradient, converted once: name -> tensor of shape (steps, *shape)."""
        if stream is None:
            return None
        torch = self.torch
        return {n: torch.tensor([v for step in stream for v in step[n]], dtype=torch.float64)
                .reshape((len(stream),) + shape).to(self.dtype).to(self.device) for n, shape in self.shapes.items()}

    def objective_gradient(self, objective) -> dict:
        """∇f at the current parameters, computed in the parameters' dtype (engine.closed_loop_gradient)."""
        torch = self.torch

        def constant(values):
            return torch.tensor(values, dtype=self.dtype, device=self.device)

        def interleave(gx, gy):
            return torch.stack([gx, gy], dim=-1).reshape(-1)

        return {n: closed_loop_gradient(objective, p.detach().reshape(-1), constant, interleave).reshape(p.shape)
                for n, p in self.tensors.items()}

    def to_grad(self, g):
        if self.alg.name in SPARSE_GRADIENTS:
            torch = self.torch
            rows = g.reshape(g.shape[0], -1) if g.dim() > 1 else g.reshape(-1, 1)
            keep = (rows != 0).any(dim=1).nonzero().reshape(-1)
            return torch.sparse_coo_tensor(keep.unsqueeze(0), g[keep], g.shape, check_invariants=True).coalesce()
        return g

    def run(self) -> AdapterRun:
        torch = self.torch
        opt = self.build()
        step = self.compiled_step(opt) if self.impl.code_path == "compiled" else opt.step
        checkpoint = self.doc["inputs"].get("checkpoint_at")
        out = []
        for record in self.doc["steps"]:
            t = record["t"]
            if self.lrs is not None:
                self.set_lrs(opt, self.lrs[t - 1])
            grads = self.gradient(t)
            for n, g in grads.items():
                self.tensors[n].grad = self.to_grad(g)
            step()
            out.append(self.snapshot(opt, t))
            if checkpoint == t:
                opt, step = self.resume(opt)
        return AdapterRun(self.to_floats(out))

    def set_lrs(self, opt, lrs: list) -> None:
        for group, lr in zip(opt.param_groups, lrs):
            if self.torch.is_tensor(group["lr"]):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    def snapshot(self, opt, t: int) -> dict:
        """Copies of the parameters and state tensors after step t (converted once, at the end)."""
        state = {}
        for n, p in self.tensors.items():
            st = opt.state.get(p, {})
            state[n] = read_state(self.profile, lambda name: st[name].detach().clone()
                                  if name in st and self.torch.is_tensor(st[name]) else None)
        return {"t": t, "params": {n: p.detach().clone() for n, p in self.tensors.items()}, "state": state,
                "lr": [float(g["lr"]) for g in opt.param_groups]}

    def to_floats(self, steps: list) -> list:
        """The snapshots as Python floats: one conversion per tensor and entry for the whole run
        (stacked over the steps) instead of one per step."""
        torch = self.torch

        def stacked(tensors: list) -> list:
            if len({tuple(x.shape) for x in tensors}) != 1:
                return [x.to("cpu", torch.float64).reshape(-1).tolist() for x in tensors]
            return torch.stack(tensors).to("cpu", torch.float64).reshape(len(tensors), -1).tolist()

        for n in self.tensors:
            for step, values in zip(steps, stacked([s["params"][n] for s in steps])):
                step["params"][n] = values
            entries = {}
            for s in steps:
                for canonical, x in s["state"].get(n, {}).items():
                    entries.setdefault(canonical, []).append((s, x))
            for canonical, pairs in entries.items():
                scalar = pairs[0][1].dim() == 0
                for (s, _), values in zip(pairs, stacked([x for _, x in pairs])):
                    s["state"][n][canonical] = values[0] if scalar else values
        return steps

    def run_one_step(self) -> AdapterRun:
        """Each step from the exact state of the step before, rounded to the dtype: step 1 from a
        fresh optimizer, then the same optimizer with its parameters, its state entries (by the
        profile's state names) and its step count overwritten before every step."""
        torch = self.torch
        opt = self.build()
        inverse = {torch_name: canonical for canonical, torch_name in self.profile.state_names.items()}
        out = []
        for record, inject in zip(self.doc["steps"], self.doc["inject"]):
            t = record["t"]
            with torch.no_grad():
                for n, values in inject["params"].items():
                    self.tensors[n].copy_(self._tensor(values, self.tensors[n]))
                if inject["state"] is not None:
                    for n, p in self.tensors.items():
                        self._inject_state(opt.state[p], inject["state"][n], inverse, t - 1)
                    self.inject_outside(inject["state"], t - 1)
            self.set_lrs(opt, [float(lr) for lr in inject["lr"]])
            for n, values in inject["grads"].items():
                self.tensors[n].grad = self.to_grad(self._tensor(values, self.tensors[n]))
            opt.step()
            out.append(self.snapshot(opt, t))
        return AdapterRun(self.to_floats(out), mode="one-step")

    def inject_outside(self, values: dict, steps_done: int) -> None:
        """One-step mode: state entries held outside ``opt.state`` (none here; _AveragedRun's average)."""

    def _tensor(self, values, like):
        """Decimal strings that are values of the dtype (the reference rounded them) as a tensor
        shaped like ``like``: float() reads them exactly, so no double rounding happens."""
        flat = self.torch.tensor([float(v) for v in values], dtype=self.torch.float64)
        return flat.reshape(like.shape).to(like.dtype).to(like.device)

    def _inject_state(self, state: dict, values: dict, inverse: dict, steps_done: int) -> None:
        for key, current in state.items():
            if key == "step":
                if self.torch.is_tensor(current):
                    current.fill_(float(steps_done))
                else:
                    state[key] = steps_done
                continue
            canonical = inverse.get(key)
            if canonical is None or canonical not in values:
                raise Unsupported(f"one-step mode: torch state entry {key!r} has no canonical name to inject")
            if not self.torch.is_tensor(current):
                raise Unsupported(f"one-step mode: torch state entry {key!r} is not a tensor")
            value = values[canonical]
            current.copy_(self._tensor(value if isinstance(value, list) else [value], current))

    def resume(self, opt):
        """Save the state_dict (through torch.save) and load it into a fresh optimizer."""
        torch = self.torch
        buffer = io.BytesIO()
        torch.save(opt.state_dict(), buffer)
        buffer.seek(0)
        fresh = self.build()
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        return fresh, (self.compiled_step(fresh) if self.impl.code_path == "compiled" else fresh.step)

    def compiled_step(self, opt):
        import logging

        torch = self.torch
        torch._dynamo.reset()
        # dynamo warns once per process that it ignores the optimizer's profiler hook: not a finding
        logging.getLogger("torch._logging._internal").setLevel(logging.ERROR)

        @torch.compile(fullgraph=False)
        def compiled():
            opt.step()

        return compiled


def pyhyper(h) -> dict:
    return {k: pyvalue(v) for k, v in h.items()}


# torch.optim.swa_utils.AveragedModel's averaging function per (algorithm, profile): a function of
# swa_utils and the decay arguments (none in the ``defaults`` scenario: the function's own default)
AVERAGED = {
    ("ema", "torch"): lambda utils, decay: {"multi_avg_fn": utils.get_ema_multi_avg_fn(*decay)},
    ("ema", "torch_avg_fn"): lambda utils, decay: {"avg_fn": utils.get_ema_avg_fn(*decay)},
    ("swa", "torch"): lambda utils, decay: {},  # the default: the equal-weight running mean
}


def _runner(doc: dict):
    """The run class of a vector: :class:`_AveragedRun` for the parameter averages, else :class:`_OptimizerRun`."""
    return _AveragedRun if any(alg == doc["algorithm"] for alg, _ in AVERAGED) else _OptimizerRun


class _AveragedRun(_OptimizerRun):
    """A parameter average (reference/optimizers/ema.py, swa.py): torch.optim.SGD steps the
    parameters, and torch.optim.swa_utils.AveragedModel over a module holding them is updated after
    every step (``update_parameters``, from an optimizer step post-hook: the same order as a
    training loop's optimizer.step(); averaged.update_parameters(model)). Its parameters are read as
    the state entry the profile names (``module``); a checkpoint saves and loads its state_dict
    (parameters and ``n_averaged``) beside the optimizer's."""

    def build(self):
        torch = self.torch
        if any(h.get("decay") != self.hypers[0].get("decay") for h in self.hypers[1:]):
            raise Unsupported("AveragedModel has one averaging function for the whole model, not one per group")
        groups = [{"params": [self.tensors[n] for n in names], **optimizer_kwargs(self.doc, h, self.profile)}
                  for names, h in zip(self.group_names, self.hypers)]
        opt = torch.optim.SGD(groups, **self.path_kwargs())
        self.model = torch.nn.Module()
        for n, p in self.tensors.items():
            self.model.register_parameter(n, p)
        utils = torch.optim.swa_utils
        decay = () if self.doc.get("scenario") == "defaults" or "decay" not in self.hypers[0] \
            else (pyvalue(self.hypers[0]["decay"]),)
        self.averaged = utils.AveragedModel(self.model, **AVERAGED[(self.alg.name, self.profile.name)](utils, decay))
        period = int(self.hypers[0].get("period", 1))  # SWA averages every c steps
        self.__dict__.setdefault("steps_done", 0)  # kept across a resume's fresh optimizer

        def after_step(*_):
            self.steps_done += 1
            if self.steps_done % period == 0:
                self.averaged.update_parameters(self.model)

        opt.register_step_post_hook(after_step)
        return opt

    def snapshot(self, opt, t: int) -> dict:
        out = super().snapshot(opt, t)
        held = dict(self.averaged.module.named_parameters())
        count = self.averaged.n_averaged.detach().clone()
        for n in self.tensors:
            out["state"][n].update(read_state(self.profile, lambda name: held[n].detach().clone()
                                              if name == "module" else count if name == "n_averaged" else None))
        return out

    def inject_outside(self, values: dict, steps_done: int) -> None:
        """The average into the AveragedModel's parameters, n_averaged (the injected count, else t − 1:
        EMA updates once per step) and the loop's step count."""
        held = dict(self.averaged.module.named_parameters())
        with self.torch.no_grad():
            for n in self.tensors:
                held[n].copy_(self._tensor(values[n]["average"], held[n]))
            first = values[next(iter(self.tensors))]
            self.averaged.n_averaged.fill_(int(float(first["n_averaged"])) if "n_averaged" in first else steps_done)
        self.steps_done = steps_done

    def resume(self, opt):
        torch = self.torch
        buffer = io.BytesIO()
        torch.save(self.averaged.state_dict(), buffer)
        buffer.seek(0)
        fresh, step = super().resume(opt)  # builds a fresh optimizer and AveragedModel
        self.averaged.load_state_dict(torch.load(buffer, weights_only=True))
        return fresh, step
