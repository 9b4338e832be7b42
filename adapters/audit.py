"""``optconform audit TARGET --algorithm A``: any implementation of an optimizer or schedule,
against every vector of the algorithm, with a report card.

The target (DESIGN.md): ``module:Name`` or ``path/to/file.py:Name``, importable from the current
directory. Its framework is ``--framework`` or read from where it comes from (a class whose bases
live in ``torch``; a factory in a module of ``optax``; ...).

Keyword mapping. The target's signature says which keywords it takes. Each canonical
hyperparameter of the algorithm is mapped to the first of these that the signature has:
``--name CANONICAL=KEYWORD``; the framework's declared profile names (``betas[0]``: member 0 of a
tuple keyword ``betas``); every other profile's names; the canonical name; the common synonyms of
:data:`SYNONYMS` (``epsilon``, ``wd``, ``beta_1``, ``b1``, ``learning_rate``, ...). A canonical
hyperparameter mapped to nothing is one the target does not take: a vector that needs it away from
its neutral value is *not applicable* (reported with the reason, never a failure). ``--option
NAME=VALUE`` binds fixed constructor keywords (Python literals).

What runs. Every vector of the algorithm (every profile's: the spec's and each framework's; with
``--profile P``, only the vectors of those profiles), in
float64 and float32, on each code path the target offers (torch: ``foreach=False/True`` where its
signature has ``foreach``), through the framework's audit adapter (frameworks/<framework>_audit.py)
in worker processes, each case isolated as in ``check``, each failing case diagnosed
(adapters/diagnosis.py). The ``defaults`` scenario builds the target with its own defaults.

The verdict. The target *conforms* to a profile when every applicable case of that profile's
vectors passes. Exit 0 if it conforms to the spec or to a declared framework profile (the report
says which), 1 if it conforms to none, 2 if it could not run at all.
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import re
from dataclasses import asdict, dataclass, field

from optconform.reference.errors import UserError
from optconform.reference.model import PROFILE_ORDER, get

from .protocol import Unsupported
from .registry import AUDIT_PREFIX as PREFIX

NOT_APPLICABLE = "not applicable"
GRADIENT_NOTE = "audit: step() changed the gradient it was given"
FRAMEWORKS = {"torch": "optconform.adapters.frameworks.torch_audit",
              "optax": "optconform.adapters.frameworks.optax_audit",
              "keras": "optconform.adapters.frameworks.keras_audit"}
_INDEX = re.compile(r"^(\w+)\[(\d+)\]$")

SYNONYMS = {
    "lr": ["lr", "learning_rate", "step_size"],
    "beta1": ["betas[0]", "beta1", "beta_1", "b1"],
    "beta2": ["betas[1]", "beta2", "beta_2", "b2"],
    "beta3": ["betas[2]", "beta3", "beta_3", "b3"],
    "eps": ["eps", "epsilon"],
    "weight_decay": ["weight_decay", "wd", "weight_decay_rate", "decoupled_weight_decay_rate"],
    "momentum": ["momentum", "mu"],
    "maximize": ["maximize"],
    "nesterov": ["nesterov", "use_nesterov"],
}

SCENARIO_GROUPS = {
    "basics": ("defaults", "probe", "multi_tensor", "param_groups"),
    "features": ("weight_decay", "maximize"),
    "magnitudes": ("tiny_grad", "large_grad", "mixed_magnitude", "zero_grad"),
    "non-finite": ("inf_grad", "nan_grad"),
    "long runs": ("long_run", "sign_alternating"),
    "closed loop": ("quadratic", "rosenbrock"),
    "state round trip": ("resume",),
    "learning-rate changes": ("scheduled", "one_cycle"),
}


def scenario_group(scenario: str) -> str:
    for group, names in SCENARIO_GROUPS.items():
        if scenario in names:
            return group
    return "variants" if scenario.startswith("variant_") else "edges"


# --- the target ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def import_target(target: str):
    """The object ``module:Name`` or ``path/to/file.py:Name`` names (from the current directory too)."""
    from .registry import Unavailable, import_object

    try:
        return import_object(target, what="audit target")
    except Unavailable as exc:
        raise UserError(f"audit: cannot import {target}: {exc.reason}") from None


def infer_framework(obj) -> str | None:
    """The framework a target belongs to, from the modules of its class hierarchy or its own."""
    modules = []
    if isinstance(obj, type):
        modules = [k.__module__ or "" for k in obj.__mro__]
    else:
        modules = [getattr(obj, "__module__", "") or ""]
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None:
            modules.append(getattr(wrapped, "__module__", "") or "")
    roots = [m.split(".")[0] for m in modules]
    for root, framework in (("torch", "torch"), ("optax", "optax"), ("keras", "keras"), ("tf_keras", "keras")):
        if root in roots:
            return framework
    return None


def signature_of(obj, framework: str, kind: str) -> tuple[list, dict, list, bool]:
    """(keyword names, {keyword: default}, required keywords, takes **kwargs) of a target's
    constructor; torch's first positional parameter (``params``, ``optimizer``) is not a keyword."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        raise UserError(f"audit: cannot read the signature of the target: {exc}") from None
    params = list(sig.parameters.values())
    if framework == "torch" and params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    if isinstance(obj, type) and any(p.kind == p.VAR_KEYWORD for p in params):
        params = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)] + _inherited(obj, framework)
    names, defaults, required = [], {}, []
    var_kw = False
    for p in params:
        if p.kind == p.VAR_KEYWORD:
            var_kw = True
            continue
        if p.kind == p.VAR_POSITIONAL:
            continue
        names.append(p.name)
        if p.default is p.empty or type(p.default).__name__ == "_RequiredParameter":
            # torch.optim.optimizer.required: a sentinel default that means "must be given"
            required.append(p.name)
        else:
            defaults[p.name] = _plain(p.default)
    return names, defaults, required, var_kw


_ROOTS = {"Optimizer", "LRScheduler", "_LRScheduler", "GradientTransformation", "LearningRateSchedule"}


def _inherited(cls, framework: str) -> list:
    """The keyword parameters a class that passes ``*args, **kwargs`` on takes from its bases: the
    first base ``__init__`` up the MRO that names its own. A framework's root class ends the walk
    (``Optimizer(params, defaults)``: ``defaults`` is not a hyperparameter), and so does a base
    that takes nothing but the root's own parameters (pytorch-optimizer's
    ``BaseOptimizer(params, defaults)``, between the root and every optimizer of the package)."""
    root = next((b for b in cls.__mro__ if b.__name__ in _ROOTS), None)
    root_names = set(inspect.signature(root.__init__).parameters) if root is not None else set()
    for base in cls.__mro__[1:]:
        if base.__name__ in _ROOTS or base is object:
            return []
        init = base.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]  # self
        if framework == "torch" and params and params[0].kind in (params[0].POSITIONAL_ONLY,
                                                                  params[0].POSITIONAL_OR_KEYWORD):
            params = params[1:]
        named = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if named and {p.name for p in named} <= root_names:
            return []
        if named:
            return named
    return []


def _plain(value):
    """A signature default as JSON data (a tensor or object: its repr)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)


def map_keywords(algorithm: str, framework: str, accepted: list, overrides: dict, driven: tuple = ()) -> dict:
    """{canonical: keyword} for the hyperparameters the target takes (module docstring); the
    ``driven`` ones (set by the adapter another way) only where ``overrides`` maps them."""
    alg = get(algorithm)
    taken: set = set()
    out = {}
    names = set(accepted)

    def usable(kw: str) -> bool:
        """A keyword the signature has, not taken yet; a keyword taken whole cannot also serve as
        a tuple (``eps`` and ``eps[1]``), nor a tuple keyword whole."""
        m = _INDEX.match(kw)
        base = m.group(1) if m else kw
        if base not in names or kw in taken:
            return False
        if m:
            return base not in taken
        return not any(_INDEX.match(t) and _INDEX.match(t).group(1) == base for t in taken)

    own = [p for n, p in alg.profiles.items() if (p.framework or n) == framework]
    others = [p for n, p in alg.profiles.items() if (p.framework or n) != framework]
    for canonical in alg.hypers:
        if canonical in overrides:
            out[canonical] = overrides[canonical]
            taken.add(overrides[canonical])
            continue
        if canonical in driven:
            continue
        options = [p.names.get(canonical) for p in own + others] + [canonical] + SYNONYMS.get(canonical, [])
        for kw in options:
            if kw and " " not in kw and "(" not in kw and usable(kw):
                out[canonical] = kw
                taken.add(kw)
                break
    return out


def parse_assignments(items: list, what: str, literal: bool) -> dict:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"audit: {what} expects NAME=VALUE, got {item!r}")
        if literal:
            try:
                out[name.strip()] = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                raise UserError(f"audit: {what} {item!r}: the value must be a Python literal "
                                f"(a number, a string in quotes, True, None, a tuple)") from None
        else:
            out[name.strip()] = value.strip()
    return out


# --- the configuration every worker rebuilds ---------------------------------------------------------


@dataclass
class AuditConfig:
    target: str
    algorithm: str
    framework: str
    mapping: dict  # canonical -> keyword ("betas[0]": member 0 of the tuple keyword betas)
    options: dict = field(default_factory=dict)  # fixed keywords (--option)
    code_paths: dict = field(default_factory=lambda: {"default": {}})
    accepted: list = field(default_factory=list)
    target_defaults: dict = field(default_factory=dict)
    required: list = field(default_factory=list)
    driven: list = field(default_factory=list)  # canonical hyperparameters the adapter sets another way
    profiles: list = field(default_factory=list)  # only these profiles' vectors (--profile); [] = all

    def registry_name(self) -> str:
        """The name workers load this audit's adapter by (adapters/registry.py)."""
        return PREFIX + json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_name(cls, name: str) -> "AuditConfig":
        return cls(**json.loads(name[len(PREFIX):]))

    def unmapped(self) -> list:
        return [h for h in get(self.algorithm).hypers if h not in self.mapping and h not in self.driven]

    def applicable(self, doc: dict) -> None:
        """Raise Unsupported ("not applicable: ...") when the vector needs a hyperparameter the
        target does not take away from its neutral value."""
        if doc["scenario"] == "defaults":
            return
        alg = get(self.algorithm)
        for group in doc["inputs"]["groups"]:
            for name in self.unmapped():
                if name not in group["hyper"]:
                    continue
                h = alg.hyper(name)
                value = h.parse(group["hyper"][name])
                # what a target without the keyword computes: the neutral value of a feature, or
                # the value the framework's own API is fixed at (torch has no initial_square_avg: 0)
                fixed = [h.neutral if h.neutral is not None else (False if h.type == "bool" else None)]
                fixed += [p.fixed_value(h) for n, p in alg.profiles.items()
                          if (p.framework or n) == self.framework and name in p.unsupported]
                if any(f is not None and value == h.parse(f) for f in fixed):
                    continue
                raise Unsupported(f"{NOT_APPLICABLE}: the target takes no keyword for {name} and the vector "
                                  f"needs {name} = {group['hyper'][name]} (--name {name}=KEYWORD maps one)")

    def probe_kwargs(self) -> dict:
        """Values for the target's required keywords that make a valid instance (the spec's defaults)."""
        alg = get(self.algorithm)
        h = alg.resolve("spec", {})
        kwargs = build_kwargs(self, h, scenario="defaults")
        return {**kwargs, **self.options}


def build_kwargs(config: AuditConfig, h, scenario: str | None) -> dict:
    """The target's keywords for resolved canonical hyperparameters ``h``; in the ``defaults``
    scenario only the keywords the target requires (it runs on its own defaults)."""
    from .frameworks.engine import pyvalue

    out: dict = {}
    tuples: dict = {}
    for canonical, kw in config.mapping.items():
        if canonical not in h:
            continue
        m = _INDEX.match(kw)
        base = m.group(1) if m else kw
        if scenario == "defaults" and base not in config.required:
            continue
        value = pyvalue(h[canonical])
        if m:
            tuples.setdefault(base, {})[int(m.group(2))] = value
        else:
            out[kw] = value
    for base, parts in tuples.items():
        default = config.target_defaults.get(base)
        size = max(max(parts) + 1, len(default) if isinstance(default, list) else 0)
        filled = [parts.get(i, default[i] if isinstance(default, list) and i < len(default) else None)
                  for i in range(size)]
        out[base] = tuple(filled)
    return out


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (what a one-line verdict or error quotes)."""
    return str(exc).splitlines()[0] if str(exc) else ""


def framework_profile(algorithm: str, profile: str, framework: str):
    """``profile`` if it is one of ``framework``'s profiles of the algorithm or a third-party one
    (``framework = "spec"``: torch_optimizer's NovoGrad keeps v in float32), else None: a target's
    cases on that profile's vectors get its declared precision effects (conforming to a profile
    includes them), other profiles' vectors are exact (a narrower arithmetic is diagnosed)."""
    declared = get(algorithm).profiles.get(profile)
    if declared is None or (declared.framework or profile) != framework and (declared.framework or profile in PROFILE_ORDER):
        return None
    return declared


def claimed_profiles(config: "AuditConfig") -> dict:
    """What an audit adapter claims (protocol ``profiles``): every profile of the algorithm, the
    target's framework's first, so that a vector the framework's profile shares with others is
    checked under it, with its declared precision effects (:func:`framework_profile`)."""
    profiles = get(config.algorithm).profiles
    own = [n for n, p in profiles.items() if (p.framework or n) == config.framework]
    return {config.algorithm: own + [n for n in profiles if n not in own]}


class AuditAdapter:
    """What every framework's audit adapter shares, put first in its bases (``class
    TorchAuditAdapter(AuditAdapter, TorchAdapter)``): built from the :class:`AuditConfig` its
    worker rebuilt; it claims every profile (:func:`claimed_profiles`); its code paths are the
    target's (``config.code_paths``) or, for a schedule, the framework module's
    ``schedule_code_paths``; every profile's vectors run on every implementation, in
    ``DTYPES`` (a schedule in ``SCHEDULE_DTYPES``) on the CPU; there is no one-step mode."""

    can_inject_state = False
    DTYPES = ("float64", "float32")
    SCHEDULE_DTYPES = ("float64",)
    DEVICE = "cpu"

    def __init__(self, config: AuditConfig):
        self.config = config
        self.name = "audit"

    def profiles(self) -> dict:
        return claimed_profiles(self.config)

    def schedule_code_paths(self, algorithm: str) -> dict:
        module = importlib.import_module(FRAMEWORKS[self.config.framework])
        return module.schedule_code_paths(algorithm)

    def code_paths(self, algorithm: str) -> list[str]:
        if get(algorithm).kind == "schedule":
            return list(self.schedule_code_paths(algorithm))
        return list(self.config.code_paths)

    def default_code_path(self, algorithm: str, profile: str | None = None) -> str:
        return self.code_paths(algorithm)[0]

    def implementations(self, algorithm: str) -> list:
        from .protocol import Implementation

        dtypes = self.SCHEDULE_DTYPES if get(algorithm).kind == "schedule" else self.DTYPES
        return [Implementation(self.name, path, self.DEVICE, d) for path in self.code_paths(algorithm) for d in dtypes]

    def implementations_for(self, algorithm: str, profile: str) -> list:
        """Every profile's vectors run on the target's implementations (no adapter's per-profile
        split of code paths applies to a target)."""
        return self.implementations(algorithm)

    def run_one_step(self, doc: dict, impl) -> None:
        raise Unsupported("one-step mode is not offered for audit targets")


def adapter_for(name: str):
    """The audit adapter a worker loads for a registry name made by :meth:`AuditConfig.registry_name`."""
    config = AuditConfig.from_name(name)
    module = importlib.import_module(FRAMEWORKS[config.framework])
    return module.__dict__[_ADAPTER_CLASS[config.framework]](config)


_ADAPTER_CLASS = {"torch": "TorchAuditAdapter", "optax": "OptaxAuditAdapter", "keras": "KerasAuditAdapter"}


def configure(target: str, algorithm: str, framework: str | None, options: dict, names: dict,
              profiles: list | None = None) -> AuditConfig:
    """Everything the audit needs before it runs, or UserError (exit 2) with one line."""
    from optconform.reference.model import algorithms

    if algorithm not in algorithms():
        raise UserError(f"audit: unknown algorithm {algorithm!r}; see 'optconform list'")
    alg = get(algorithm)
    for p in profiles or []:
        if p not in alg.profiles:
            raise UserError(f"audit: --profile {p}: {algorithm} has no profile {p!r}; it has {', '.join(alg.profiles)}")
    if framework is not None and framework not in FRAMEWORKS:
        raise UserError(f"audit: unknown framework {framework!r}; choose from {', '.join(FRAMEWORKS)}")
    obj = import_target(target)
    framework = framework or infer_framework(obj)
    if framework is None:
        raise UserError(f"audit: cannot tell which framework {target} is for; pass --framework "
                        f"{'|'.join(FRAMEWORKS)}")
    if importlib.util.find_spec(framework) is None:
        raise UserError(f"audit: {framework} is not installed (pip install 'optconform[{framework}]')")
    for canonical in names:
        if canonical not in alg.hypers:
            raise UserError(f"audit: --name {canonical}=...: {algorithm} has no hyperparameter {canonical!r}; "
                            f"it has {', '.join(alg.hypers)}")
    accepted, defaults, required, _ = signature_of(obj, framework, alg.kind)
    for canonical, kw in names.items():
        m = _INDEX.match(kw)
        if (m.group(1) if m else kw) not in accepted:
            raise UserError(f"audit: --name {canonical}={kw}: the target has no keyword {kw!r}; "
                            f"it takes {', '.join(accepted) or 'no keywords'}")
    for kw in options:
        if kw not in accepted:
            raise UserError(f"audit: --option {kw}=...: the target has no keyword {kw!r}; "
                            f"it takes {', '.join(accepted) or 'no keywords'}")
    module = importlib.import_module(FRAMEWORKS[framework])
    paths = (module.code_paths(set(accepted) - set(options)) if alg.kind == "optimizer"
             else module.schedule_code_paths(algorithm))
    driven = sorted(module.driven(algorithm))
    mapping = map_keywords(algorithm, framework, accepted, names, tuple(driven))
    covered = {(_INDEX.match(k).group(1) if _INDEX.match(k) else k) for k in mapping.values()} | set(options)
    missing = [k for k in required if k not in covered]
    if missing:
        raise UserError(f"audit: the target requires {', '.join(missing)}, which no hyperparameter of {algorithm} "
                        f"maps to: name it with --name CANONICAL={missing[0]} or fix it with --option {missing[0]}=VALUE")
    config = AuditConfig(target, algorithm, framework, mapping, options, paths, accepted, defaults, required,
                         [d for d in driven if d not in mapping], list(profiles or []))
    try:
        module.check_kind(config)
    except ValueError as exc:
        raise UserError(f"audit: {exc}") from None
    return config


def audit_work(configs: list, directory, manifest: dict, dtypes: tuple = ()) -> tuple[list, dict]:
    """The cases of one or several audits, as harness.run_cases takes them — (registry name,
    adapter, Case) for every vector of each target's algorithm (``dtypes``: only these) — and
    their coverage: {(vector, code path, dtype, profile checked): [the profiles it counts for]}.

    A vector several profiles share is checked once per distinct set of declared precision
    effects among them: once under the target's framework profile with its effects (torch's
    float32 NAdam ``mu_product``) and once exactly for the others (the spec), so a target that
    computes exactly conforms to the spec and one that rounds as torch does conforms to torch."""
    import dataclasses

    from .harness import Selection, plan
    from .registry import load

    work, coverage = [], {}
    for config in configs:
        name = config.registry_name()
        adapter = load(name)
        cases = plan(adapter, directory, Selection(algorithms=(config.algorithm,), dtypes=tuple(dtypes)), manifest)
        if config.profiles:
            cases = [c for c in cases if set(manifest["files"][c.rel]["profiles"]) & set(config.profiles)]
        if not cases:
            raise UserError(f"audit: no vector of {config.algorithm} in {directory}")
        for case in cases:
            groups: dict = {}
            for profile in manifest["files"][case.rel]["profiles"]:
                if config.profiles and profile not in config.profiles:
                    continue
                effects = adapter.precision_effects(config.algorithm, case.impl, profile) \
                    if hasattr(adapter, "precision_effects") else {}
                groups.setdefault(tuple(sorted(effects.items())), []).append(profile)
            for members in groups.values():
                checked = dataclasses.replace(case, profile=members[0])
                work.append((name, adapter, checked))
                coverage[(name, case.rel, case.impl.code_path, case.impl.dtype, members[0])] = members
    return work, coverage


def profile_order(algorithm: str) -> list:
    """The algorithm's profiles, spec and the frameworks' first."""
    names = list(get(algorithm).profiles)
    return sorted(names, key=lambda n: (PROFILE_ORDER.index(n) if n in PROFILE_ORDER else len(PROFILE_ORDER),
                                        names.index(n)))


__all__ = ["AuditAdapter", "AuditConfig", "GRADIENT_NOTE", "NOT_APPLICABLE", "PREFIX", "adapter_for", "audit_work", "build_kwargs",
           "claimed_profiles", "configure", "first_line", "framework_profile",
           "import_target", "infer_framework", "map_keywords", "parse_assignments", "profile_order",
           "scenario_group", "signature_of"]
