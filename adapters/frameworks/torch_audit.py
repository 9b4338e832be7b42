"""``optconform audit`` of a torch target: any ``torch.optim.Optimizer`` or ``LRScheduler``.

The target is built as DESIGN.md says — ``Name(params, **kwargs)`` for an optimizer,
``Name(optimizer, **kwargs)`` for a scheduler — with the keywords of the audit's mapping
(adapters/audit.py) and its fixed options, and driven exactly as the torch adapter drives
torch.optim (frameworks/torch_adapter.py: the same gradients, learning rates, state read by the
torch profile's state names where the target has them, the ``resume`` scenario through
``torch.save`` of ``state_dict()`` and ``load_state_dict`` into a fresh instance). What is audit
only:

* code paths are the target's own switches (``foreach=False/True``, ``fused=True``) where its
  signature has them, else ``default`` (nothing passed);
* a vector that needs a hyperparameter the target has no keyword for, at a value other than its
  neutral one (``maximize = true`` for a target without ``maximize``), is ``not applicable``
  (a skip whose message says so); a constructor that raises on the vector's values likewise;
* every step checks whether ``step()`` changed the gradient it was given (a note the audit's
  report card counts: :data:`GRADIENT_NOTE`).
"""
from __future__ import annotations

from optconform.reference.model import get, precision_effects

from .torch_adapter import TorchAdapter, _OptimizerRun
from ..audit import (GRADIENT_NOTE, NOT_APPLICABLE, AuditAdapter, AuditConfig, build_kwargs, first_line,
                     framework_profile, import_target)
from ..protocol import AdapterRun, Implementation, Unsupported

PATH_SWITCHES = {"forloop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def code_paths(parameters: set) -> dict:
    """The code paths a torch target offers, from its signature: {name: keywords}."""
    if "foreach" not in parameters:
        return {"default": {}}
    out = {"forloop": PATH_SWITCHES["forloop"], "foreach": PATH_SWITCHES["foreach"]}
    if "fused" in parameters:
        out["fused"] = PATH_SWITCHES["fused"]
    return out


def driven(algorithm: str) -> set:
    """Canonical hyperparameters the adapter sets without a keyword: a scheduler's base learning
    rate is the optimizer's ``lr``."""
    return {"lr"} if get(algorithm).kind == "schedule" else set()


def schedule_code_paths(algorithm: str) -> dict:
    """A torch scheduler has one code path: ``scheduler`` (stepped after each optimizer step)."""
    return {"scheduler": {}}


def check_kind(config: AuditConfig) -> None:
    """Raise ValueError unless the target builds what the algorithm is (an optimizer, a scheduler)."""
    import torch

    target = import_target(config.target)
    kind = get(config.algorithm).kind
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    if kind == "optimizer":
        if isinstance(target, type) and issubclass(target, torch.optim.lr_scheduler.LRScheduler):
            raise ValueError(f"{config.target} is a learning-rate scheduler, not a torch.optim.Optimizer: "
                             f"{config.algorithm} is an optimizer")
        try:
            built = target([p], **config.probe_kwargs())
        except Exception as exc:  # noqa: BLE001 - reported as the reason it cannot run
            raise ValueError(f"{config.target}([params], ...) raised {type(exc).__name__}: {exc}") from None
        if not isinstance(built, torch.optim.Optimizer):
            raise ValueError(f"{config.target} built a {type(built).__name__}, not a torch.optim.Optimizer: "
                             f"{config.algorithm} is an optimizer")
        return
    if isinstance(target, type) and issubclass(target, torch.optim.Optimizer):
        raise ValueError(f"{config.target} is an optimizer; {config.algorithm} is a schedule")
    if not callable(target):
        raise ValueError(f"{config.target} is not callable")


class TorchAuditAdapter(AuditAdapter, TorchAdapter):
    """The adapter protocol around one audit target (``name`` is the audit's registry name)."""

    def precision_effects(self, algorithm: str, impl: Implementation, profile: str = "spec") -> dict:
        """A torch profile's vectors come with its declared precision effects (torch's NAdam keeps
        mu_product in float32), as on torch's own for-loop or foreach path: conforming to the
        profile includes them. Other profiles' vectors are exact: a narrower arithmetic is diagnosed."""
        declared = framework_profile(algorithm, profile, "torch")
        if declared is None:
            return {}
        path = impl.code_path if impl.code_path in PATH_SWITCHES else "forloop"
        return precision_effects(declared, path, impl.dtype, device=impl.device)

    def run(self, doc: dict, impl: Implementation) -> AdapterRun:
        self.config.applicable(doc)
        if doc["kind"] == "schedule":
            from .torch_schedules import run_schedule

            return AdapterRun(run_schedule(doc, builder=lambda opt, h, metrics: self._scheduler(opt, h, metrics, doc)))
        return _AuditRun(doc, impl, self.config).run()

    def _scheduler(self, optimizer, h, metrics, doc):
        target = import_target(self.config.target)
        kwargs = {**build_kwargs(self.config, h, doc["scenario"]), **self.config.options}
        try:
            sched = target(optimizer, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the constructor refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {self.config.target}(optimizer, **{kwargs}) raised "
                              f"{type(exc).__name__}: {first_line(exc)}") from None
        if metrics is not None:
            from .torch_schedules import Replay

            return Replay(sched, metrics)
        return sched


class _AuditRun(_OptimizerRun):
    def __init__(self, doc, impl, config: AuditConfig):
        self.config = config
        alg = get(doc["algorithm"])
        # the state is read by the torch profile's names (what a torch-style target calls them)
        torch_profile = next((name for name, p in alg.profiles.items() if (p.framework or name) == "torch"), None)
        super().__init__(dict(doc, profile=torch_profile or doc.get("profile")), impl)
        self.scenario = doc["scenario"]
        self.modified = 0

    def build(self):
        target = import_target(self.config.target)
        kwargs = [build_kwargs(self.config, h, self.scenario) for h in self.hypers]
        path = self.config.code_paths.get(self.impl.code_path, {})
        groups = [{"params": [self.tensors[n] for n in names], **kw} for names, kw in zip(self.group_names, kwargs)]
        try:
            opt = target(groups, **{**kwargs[0], **self.config.options, **path})
        except Exception as exc:  # noqa: BLE001 - the constructor refuses these values
            raise Unsupported(f"{NOT_APPLICABLE}: {self.config.target} raised {type(exc).__name__} for "
                              f"{kwargs[0]}: {first_line(exc)}") from None
        original = opt.step
        torch = self.torch

        def step(closure=None):
            given = [(p, p.grad.clone()) for p in self.tensors.values() if p.grad is not None]
            out = original() if closure is None else original(closure)
            for p, before in given:
                after = p.grad
                if after is None or not torch.equal(torch.nan_to_num(after, nan=0.5), torch.nan_to_num(before, nan=0.5)):
                    self.modified += 1
                    break
            return out

        opt.step = step
        return opt

    def run(self) -> AdapterRun:
        out = super().run()
        if self.modified:
            out.notes.append(f"{GRADIENT_NOTE} ({self.modified} of {len(self.doc['steps'])} steps)")
        return out


__all__ = ["TorchAuditAdapter", "check_kind", "code_paths", "driven", "schedule_code_paths"]
