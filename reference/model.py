"""The data model: hyperparameters, semantic axes, profiles and algorithms.

Everything here is loaded from data files, declared once:

* ``axes.toml`` — the catalogue of semantic axes and the meaning of each value;
* ``profiles/<algorithm>.toml`` — one algorithm: its hyperparameters (canonical names, defaults,
  valid ranges, probe values for the scenarios), the axes it has, and its profiles (``spec`` and
  one per framework) with their semantics, defaults, names and declared precision effects.

The spec tables, the scenario matrix and the test parametrization are all generated from it.
"""
from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from .errors import UserError
from .numeric import mpf, to_decimal, to_mpf

HERE = Path(__file__).resolve().parent
PROFILE_DIR = HERE / "profiles"
AXES_FILE = HERE / "axes.toml"

PROFILE_ORDER = ("spec", "torch", "optax", "keras", "tf_keras")
NONFINITE = "@nonfinite"  # [active_when] value: the axis matters only for non-finite inputs
HYPER_TYPES = ("real", "int", "bool", "choice", "list", "schedules")


class Namespace(dict):
    """A dict whose keys read as attributes: ``h.lr``, ``sem.eps_placement``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# --- hyperparameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hyper:
    """One canonical hyperparameter of an algorithm.

    ``default`` is the canonical default (the spec profile's); ``probe`` is the value the
    non-default scenarios use (chosen exactly representable in float32 and large enough to make
    semantic differences visible); ``neutral`` marks a *feature* (weight decay, maximize, ...)
    whose neutral value switches it off.
    """

    name: str
    type: str
    default: Any
    doc: str = ""
    probe: Any = None
    neutral: Any = None
    feature: bool = False
    min: Any = None
    max: Any = None
    min_exclusive: Any = None
    max_exclusive: Any = None
    choices: tuple = ()
    integer_valued: bool = False

    @classmethod
    def from_toml(cls, name: str, raw: Mapping, where: str) -> "Hyper":
        kind = raw.get("type", "real")
        if kind not in HYPER_TYPES:
            raise UserError(f"{where}: hyperparameter {name!r} has unknown type {kind!r}")
        known = {f for f in cls.__dataclass_fields__} - {"name"}
        unknown = set(raw) - known
        if unknown:
            raise UserError(f"{where}: hyperparameter {name!r} has unknown keys {sorted(unknown)}")
        values = dict(raw)
        values["type"] = kind
        values["choices"] = tuple(values.get("choices", ()))
        return cls(name=name, **values)

    def parse(self, value, where: str = ""):
        """Convert ``value`` (TOML value or command-line string) to this hyperparameter's type."""
        label = f"{where}: " if where else ""
        try:
            if self.type == "real":
                if isinstance(value, bool):
                    raise ValueError
                return to_mpf(value if not isinstance(value, float) else repr(value))
            if self.type == "int":
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, str):
                    value = value.strip()
                    number = Fraction(value)
                    if number.denominator != 1:
                        raise ValueError
                    return int(number)
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(value)
            if self.type == "bool":
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in ("true", "1", "yes", "on"):
                    return True
                if text in ("false", "0", "no", "off"):
                    return False
                raise ValueError
            if self.type == "choice":
                text = str(value)
                if text not in self.choices:
                    raise UserError(f"{label}{self.name} must be one of {', '.join(self.choices)}, got {text!r}")
                return text
            if self.type == "list":
                if isinstance(value, str):
                    items = [v for v in value.replace(";", ",").split(",") if v.strip()]
                else:
                    items = list(value)
                return tuple(to_mpf(v if not isinstance(v, float) else repr(v)) for v in items)
            if self.type == "schedules":
                if isinstance(value, str):
                    import json

                    try:
                        value = json.loads(value)
                    except json.JSONDecodeError as exc:
                        raise UserError(f"{label}{self.name} must be a JSON list of "
                                        f'{{"algorithm": ..., "hyper": {{...}}}} tables ({exc.msg})') from None
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(c, dict) and isinstance(c.get("algorithm"), str) for c in value):
                    raise UserError(f"{label}{self.name} must be a list of tables with an 'algorithm' key")
                return tuple(value)
        except UserError:
            raise
        except (ValueError, TypeError, ArithmeticError):
            pass
        raise UserError(f"{label}{self.name} must be a {self.type} value, got {value!r}")

    def validate(self, value, where: str = "") -> None:
        """Raise :class:`UserError` when ``value`` lies outside the declared range."""
        label = f"{where}: " if where else ""
        items = value if self.type == "list" else (value,) if self.type in ("real", "int") else ()
        for v in items:
            v = mpf(v)
            if v != v:
                raise UserError(f"{label}{self.name} must be a number, got NaN")
            if self.min is not None and v < to_mpf(self.min):
                raise UserError(f"{label}{self.name} must be >= {self.min}, got {to_decimal(v, 17)}")
            if self.max is not None and v > to_mpf(self.max):
                raise UserError(f"{label}{self.name} must be <= {self.max}, got {to_decimal(v, 17)}")
            if self.min_exclusive is not None and v <= to_mpf(self.min_exclusive):
                raise UserError(f"{label}{self.name} must be > {self.min_exclusive}, got {to_decimal(v, 17)}")
            if self.max_exclusive is not None and v >= to_mpf(self.max_exclusive):
                raise UserError(f"{label}{self.name} must be < {self.max_exclusive}, got {to_decimal(v, 17)}")

    def range_text(self) -> str:
        """The valid range as text, for the spec tables."""
        if self.type == "choice":
            return " / ".join(self.choices)
        if self.type == "bool":
            return "true / false"
        lo = f"[{self.min}" if self.min is not None else f"({self.min_exclusive}" if self.min_exclusive is not None else "(-inf"
        hi = f"{self.max}]" if self.max is not None else f"{self.max_exclusive})" if self.max_exclusive is not None else "inf)"
        return f"{lo}, {hi}"


def encode_hyper(value) -> Any:
    """A resolved hyperparameter value as JSON: reals as decimal strings, lists as lists."""
    if isinstance(value, bool) or isinstance(value, int) or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return [encode_hyper(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_hyper(v) for k, v in value.items()}
    return to_decimal(value)


# --- axes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    name: str
    doc: str
    values: Mapping[str, str]


def load_axes(path: Path = AXES_FILE) -> dict[str, Axis]:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    return {name: Axis(name, body.get("doc", ""), dict(body["values"])) for name, body in raw.items()}


# --- profiles -----------------------------------------------------------------------------------


EVERYWHERE = "everywhere"


INNER_KEYS = ("api", "hypers", "at", "first")


def _inner(raw: dict, hypers, label: str) -> dict:
    """A profile's ``inner`` optimizer, validated (see :attr:`Profile.inner`)."""
    if not raw:
        return {}
    unknown = [k for k in raw if k not in INNER_KEYS]
    if unknown or not isinstance(raw.get("api"), str) or not isinstance(raw.get("at"), str) \
            or not isinstance(raw.get("hypers"), list) or not raw["hypers"]:
        raise UserError(f"{label}: inner = {{ api = \"optax.sgd\", at = \"KEYWORD\" | \"first\" | \"beside\", "
                        f"hypers = [...], first = \"model\" (optional) }}; got {sorted(raw)}")
    bad = [h for h in raw["hypers"] if h not in hypers]
    if bad:
        raise UserError(f"{label}: inner names unknown hyperparameters {bad}")
    return raw


def where_clauses(where: str, allowed: tuple) -> dict:
    """The clauses of a ``where`` selector: space-separated ``key=a,b`` words with ``key`` one of
    ``allowed`` (a case matches when, for every clause, its value is one of the listed ones), or
    ``"everywhere"`` (also the empty string): no clause. ValueError for anything else — prose
    belongs in the ``note``."""
    if where.strip() == EVERYWHERE:
        return {}
    out = {}
    for word in where.split():
        key, _, values = word.partition("=")
        names = values.split(",")
        if key not in allowed or not all(names):
            raise ValueError(f"where {where!r}: {word!r} is not one of "
                             f"{', '.join(k + '=a,b' for k in allowed)} (or {EVERYWHERE!r}); prose goes in the note")
        if key in out:
            raise ValueError(f"where {where!r}: {key}= is given twice")
        out[key] = names
    return out


@dataclass(frozen=True)
class PrecisionEffect:
    """A declared precision effect: the framework holds each of ``hypers`` in ``dtype`` (``"param"``:
    the parameters' dtype) — a real hyperparameter (Keras holds the learning rate in a float32
    variable) or a quantity one of the algorithm module's variants models (reference/effects.py).

    ``where`` selects the implementations it applies to: ``"everywhere"``, or clauses
    ``code_path=a,b``, ``device=cpu``, ``backend=tensorflow`` and ``dtype=float32`` (the
    parameters' dtype), separated by spaces; an implementation that does not say its device or
    backend (None) is not excluded by those clauses."""

    hypers: tuple
    dtype: str
    where: str = EVERYWHERE
    note: str = ""

    CLAUSES = ("code_path", "device", "backend", "dtype")

    def clauses(self) -> dict:
        """{key: [values]} of ``where``; ValueError for a clause that is not one of CLAUSES."""
        return where_clauses(self.where, self.CLAUSES)

    def applies(self, code_path: str | None = None, backend: str | None = None, device: str | None = None,
                dtype: str | None = None) -> bool:
        """Whether the effect applies to an implementation (code path, backend, device, dtype)."""
        have = {"code_path": code_path, "backend": backend, "device": device, "dtype": dtype}
        for key, values in self.clauses().items():
            value = have[key]
            if value is None and key != "code_path":
                continue
            if value not in values:
                return False
        return True

    def resolved_dtype(self, param_dtype: str) -> str:
        """``dtype``, where ``"param"`` means the parameters' dtype."""
        return param_dtype if self.dtype == "param" else self.dtype


def precision_effects(profile, code_path: str | None, param_dtype: str, backend: str | None = None,
                      device: str | None = None) -> dict:
    """The declared precision effects of ``profile`` that apply to an implementation, as the plain
    mapping {name: dtype} that reports store and the reference takes (``round_hypers``, turned
    into an :class:`~optconform.reference.effects.Effects` there)."""
    out = {}
    for effect in profile.precision:
        if effect.applies(code_path, backend, device, param_dtype):
            for name in effect.hypers:
                out[name] = effect.resolved_dtype(param_dtype)
    return out


FINDING_MODES = ("trajectory", "one-step")


@dataclass(frozen=True)
class Finding:
    """A measured way in which a framework fails its own profile that no axis or precision effect
    explains (a crash, a bug): the cases ``where`` selects are expected to have ``verdict``.
    The checker reports them as known findings with the note; they still count, and the pytest
    suite expects them to fail (strict xfail), so a fixed framework shows up."""

    where: str
    verdict: str
    note: str

    CLAUSES = ("code_path", "device", "dtype", "scenario", "mode")

    def clauses(self) -> dict:
        return where_clauses(self.where, self.CLAUSES)

    def matches(self, scenario: str, code_path: str, device: str, dtype: str, mode: str = "trajectory") -> bool:
        """Whether the finding covers a case; ``mode=trajectory`` or ``mode=one-step`` restricts it
        to one checking mode (a rounding that accumulates over a trajectory, absent from one step
        started from the exact state), and a finding without it covers both."""
        have = {"scenario": scenario, "code_path": code_path, "device": device, "dtype": dtype, "mode": mode}
        return all(have[k] in values for k, values in self.clauses().items())


@dataclass(frozen=True)
class Profile:
    name: str
    algorithm: str
    semantics: Mapping[str, str]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    state_names: Mapping[str, str] = field(default_factory=dict)
    unsupported: tuple = ()
    api: str = ""
    version: str = ""
    source: str = ""
    precision: tuple = ()
    notes: tuple = ()
    required: tuple = ()  # hyperparameters the framework's constructor needs even at defaults
    findings: tuple = ()  # Finding: known failures no axis or effect explains
    framework: str = ""  # the framework whose API this is ("torch" for torch and torch_decoupled)
    not_applicable: Mapping[str, str] = field(default_factory=dict)  # axis -> why it has no effect here
    # the optimizer a wrapper or an averaging API takes: {"api": its constructor, "hypers": the
    # canonical hyperparameters that are its keywords, "at": where the user's code passes it (a
    # keyword of the profile's call, "first" for the first positional argument, "chain" for a
    # transformation chained after the profile's (optax.chain), "beside" for a
    # separate object the training loop drives), "first": optionally, the profile's own first
    # argument when the inner optimizer takes the parameters (torch's AveragedModel: "model")}
    inner: Mapping[str, Any] = field(default_factory=dict)

    def finding_for(self, scenario: str, code_path: str, device: str, dtype: str, verdict: str,
                    mode: str = "trajectory"):
        """The declared finding that covers a case with this verdict, or None."""
        for f in self.findings:
            if f.verdict == verdict and f.matches(scenario, code_path, device, dtype, mode):
                return f
        return None

    def supports(self, hyper: str) -> bool:
        return hyper not in self.unsupported

    def fixed_value(self, hyper: "Hyper"):
        """The value a hyperparameter the framework lacks is stuck at (its neutral value unless the
        profile's defaults say otherwise)."""
        if hyper.name in self.defaults:
            return self.defaults[hyper.name]
        return hyper.neutral if hyper.neutral is not None else hyper.default


# --- algorithms ---------------------------------------------------------------------------------


@dataclass
class Algorithm:
    name: str
    kind: str  # "optimizer" | "schedule"
    title: str
    summary: str
    citation: str
    module: str
    hypers: dict  # name -> Hyper, in declaration order
    axes: dict  # axis name -> tuple of allowed values
    profiles: dict  # profile name -> Profile, in PROFILE_ORDER then declaration order
    state: tuple = ()
    scenario_hyper: dict = field(default_factory=dict)  # scenario name -> {hyper: value}
    variants: dict = field(default_factory=dict)  # variant name -> {hyper: value}
    skip_scenarios: tuple = ()
    # state entries that are weights a user evaluates (an average of the parameters, Lookahead's
    # slow weights, schedule-free's x): the divergence catalog measures them with the parameters
    evaluated: tuple = ()
    source_file: str = ""
    axis_defs: dict = field(default_factory=dict)  # axis name -> Axis (documentation of its values)
    active_when: dict = field(default_factory=dict)  # axis -> hyperparameter that switches it on
    _impl: Any = None

    @property
    def impl(self):
        """The Python module that implements the algorithm's equations."""
        if self._impl is None:
            package = "optimizers" if self.kind == "optimizer" else "schedules"
            self._impl = importlib.import_module(f"{__package__}.{package}.{self.module}")
        return self._impl

    @property
    def step_variants(self) -> dict:
        """The named precision emulations of the module's step (``VARIANTS``, reference/algorithm.py)."""
        from .algorithm import variants

        return dict(variants(self.impl))

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise UserError(
                f"algorithm {self.name!r} has no profile {name!r}; profiles: {', '.join(self.profiles)}"
            ) from None

    def hyper(self, name: str) -> Hyper:
        try:
            return self.hypers[name]
        except KeyError:
            raise UserError(
                f"{self.name} has no hyperparameter {name!r}; hyperparameters: {', '.join(self.hypers)}"
            ) from None

    def defaults(self, profile: str = "spec") -> dict:
        """Canonical hyperparameter values under ``profile``'s defaults (parsed)."""
        prof = self.profile(profile)
        out = {}
        for name, h in self.hypers.items():
            raw = prof.defaults.get(name, h.default)
            out[name] = h.parse(raw, f"{self.source_file} [{profile}] default")
        return out

    def resolve(self, profile: str = "spec", overrides: Mapping | None = None, where: str = "") -> Namespace:
        """Defaults of ``profile`` updated with ``overrides`` (canonical names), parsed and validated."""
        values = self.defaults(profile)
        for name, raw in (overrides or {}).items():
            h = self.hyper(name)
            values[name] = h.parse(raw, where or self.name)
        for name, value in values.items():
            self.hypers[name].validate(value, where or self.name)
        check = getattr(self.impl, "validate", None)
        if check is not None:
            check(Namespace(values), where or self.name)
        return Namespace(values)

    def semantics(self, profile: str = "spec") -> Namespace:
        return Namespace(self.profile(profile).semantics)

    def axis_active(self, axis: str, hyper_values: list, nonfinite_inputs: bool = True,
                    profile: Profile | None = None) -> bool:
        """An axis listed under ``[active_when]`` only matters when its hyperparameter is away
        from its neutral value in some parameter group (weight decay with λ = 0 has no form), or,
        for ``"@nonfinite"``, when the inputs hold a NaN or an infinity (how a moment update
        treats an infinite value). An axis that ``profile`` declares ``not_applicable`` matters
        in none of its cases: every value computes the same trajectory there (Adagrad's ``eps_root``
        for a profile without ε whose accumulator starts positive; tests/test_model.py checks the
        claim on every case of the profile)."""
        if profile is not None and axis in profile.not_applicable:
            return False
        switch = self.active_when.get(axis)
        if switch is None:
            return True
        if switch == NONFINITE:
            return nonfinite_inputs
        h = self.hypers[switch]
        neutral = h.parse(h.neutral if h.neutral is not None else h.default)
        return any(values[switch] != neutral for values in hyper_values)


def _load_algorithm(path: Path, axes: Mapping[str, Axis]) -> Algorithm:
    where = f"reference/profiles/{path.name}"
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    head = raw.get("algorithm", {})
    name = head.get("name", path.stem)
    kind = head.get("kind")
    if kind not in ("optimizer", "schedule"):
        raise UserError(f"{where}: [algorithm] kind must be 'optimizer' or 'schedule'")
    hypers = {hn: Hyper.from_toml(hn, body, where) for hn, body in raw.get("hyper", {}).items()}
    local_axes = {an: Axis(an, body.get("doc", ""), dict(body["values"])) for an, body in raw.get("axis", {}).items()}
    clash = [an for an in local_axes if an in axes]
    if clash:
        raise UserError(f"{where}: [axis.{clash[0]}] is already declared in reference/axes.toml")
    axes = {**axes, **local_axes}
    alg_axes = {}
    for axis_name, values in raw.get("axes", {}).items():
        if axis_name not in axes:
            raise UserError(f"{where}: axis {axis_name!r} is declared neither in reference/axes.toml nor under [axis.{axis_name}]")
        bad = [v for v in values if v not in axes[axis_name].values]
        if bad:
            raise UserError(f"{where}: axis {axis_name!r} has undeclared values {bad}")
        alg_axes[axis_name] = tuple(values)
    profiles = {}
    raw_profiles = raw.get("profiles", {})
    def framework_of(pname: str) -> str:
        declared = raw_profiles[pname].get("framework", pname)
        if pname in PROFILE_ORDER and declared != pname or declared not in PROFILE_ORDER:
            raise UserError(f"{where}: profile {pname!r}: a profile is 'spec' or one of {', '.join(PROFILE_ORDER[1:])}, "
                            f"or names one of those as its framework (framework = \"torch\")")
        return declared

    # each framework's main profile, then its variants (another API of the same framework)
    ordered = sorted(raw_profiles, key=lambda p: (PROFILE_ORDER.index(framework_of(p)), p != framework_of(p)))
    for pname in ordered:
        body = dict(raw_profiles[pname])
        framework = body.pop("framework", pname)
        sem = dict(body.pop("semantics", {}))
        missing = [a for a in alg_axes if a not in sem]
        extra = [a for a in sem if a not in alg_axes]
        if missing or extra:
            raise UserError(f"{where}: profile {pname!r} must set exactly the axes {list(alg_axes)}; "
                            f"missing {missing}, unknown {extra}")
        for a, v in sem.items():
            if v not in alg_axes[a]:
                raise UserError(f"{where}: profile {pname!r} sets {a}={v!r}, allowed: {alg_axes[a]}")
        for hn in list(body.get("defaults", {})) + list(body.get("unsupported", [])) + list(body.get("names", {})):
            if hn not in hypers:
                raise UserError(f"{where}: profile {pname!r} names unknown hyperparameter {hn!r}")
        precision = tuple(_precision_effect(raw_effect, f"{where}: profile {pname!r}")
                          for raw_effect in body.pop("precision", []))
        findings = tuple(Finding(f["where"], f["verdict"], f["note"]) for f in body.pop("findings", []))
        not_applicable = dict(body.pop("not_applicable", {}))
        inner = _inner(dict(body.pop("inner", {})), hypers, f"{where}: profile {pname!r}")
        for axis_name, why in not_applicable.items():
            if axis_name not in alg_axes or not isinstance(why, str) or not why.strip():
                raise UserError(f"{where}: profile {pname!r}: not_applicable = {{ axis = \"why\" }} names an axis of "
                                f"{name} ({', '.join(alg_axes) or 'none'}) with the reason it has no effect; got {axis_name!r}")
            if pname == "spec":
                raise UserError(f"{where}: the spec profile defines every axis; not_applicable is for framework profiles")
        for f in findings:
            try:
                modes = f.clauses().get("mode", FINDING_MODES)
            except ValueError as exc:
                raise UserError(f"{where}: profile {pname!r}: finding {exc}") from None
            if any(m not in FINDING_MODES for m in modes):
                raise UserError(f"{where}: profile {pname!r}: a finding's mode= is one of {', '.join(FINDING_MODES)}, "
                                f"not {','.join(modes)!r}")
            if f.verdict not in ("fail", "error"):
                raise UserError(f"{where}: profile {pname!r}: a finding's verdict is 'fail' or 'error', not {f.verdict!r}")
        profiles[pname] = Profile(
            name=pname,
            algorithm=name,
            semantics=sem,
            defaults=dict(body.pop("defaults", {})),
            names=dict(body.pop("names", {})),
            state_names=dict(body.pop("state_names", {})),
            unsupported=tuple(body.pop("unsupported", ())),
            api=body.pop("api", ""),
            version=body.pop("version", ""),
            source=body.pop("source", ""),
            precision=precision,
            notes=tuple(body.pop("notes", ())),
            required=tuple(body.pop("required", ())),
            findings=findings,
            framework="" if framework == "spec" else framework,
            not_applicable=not_applicable,
            inner=inner,
        )
        if body:
            raise UserError(f"{where}: profile {pname!r} has unknown keys {sorted(body)}")
    for axis_name, switch in raw.get("active_when", {}).items():
        if axis_name not in alg_axes or (switch not in hypers and switch != NONFINITE):
            raise UserError(f"{where}: [active_when] {axis_name} = {switch!r} must name an axis and a hyperparameter")
    if "spec" not in profiles:
        raise UserError(f"{where}: every algorithm needs a 'spec' profile")
    alg = Algorithm(
        name=name,
        kind=kind,
        title=head.get("title", name),
        summary=head.get("summary", ""),
        citation=head.get("citation", ""),
        module=head.get("module", name),
        hypers=hypers,
        axes=alg_axes,
        profiles=profiles,
        state=tuple(head.get("state", ())),
        scenario_hyper={k: dict(v) for k, v in raw.get("scenario_hyper", {}).items()},
        variants={k: dict(v) for k, v in raw.get("variants", {}).items()},
        skip_scenarios=tuple(head.get("skip_scenarios", ())),
        evaluated=tuple(head.get("evaluated", ())),
        source_file=where,
        axis_defs={an: axes[an] for an in alg_axes},
        active_when=dict(raw.get("active_when", {})),
    )
    for profile in profiles.values():
        _check_precision(alg, profile, f"{where}: profile {profile.name!r}")
    return alg


def _precision_effect(raw, label: str) -> PrecisionEffect:
    """One ``precision = [...]`` entry of a profile, its keys and ``where`` validated."""
    if not isinstance(raw, Mapping) or "hypers" not in raw or "dtype" not in raw:
        raise UserError(f"{label}: a precision effect is {{hypers = [...], dtype = ..., where = ..., note = ...}}")
    unknown = set(raw) - {"hypers", "dtype", "where", "note"}
    if unknown:
        raise UserError(f"{label}: precision effect has unknown keys {sorted(unknown)}")
    effect = PrecisionEffect(tuple(raw["hypers"]), raw["dtype"], raw.get("where", EVERYWHERE), raw.get("note", ""))
    try:
        effect.clauses()
    except ValueError as exc:
        raise UserError(f"{label}: precision effect {list(effect.hypers)} {exc}") from None
    return effect


def _check_precision(alg: Algorithm, profile: Profile, label: str) -> None:
    """Every declared effect names a real hyperparameter of the algorithm or a quantity one of its
    module's variants models, in a known format, and every set of effects that can apply together
    (one per combination of the values the ``where`` clauses name) selects one variant — so a typo
    is an error here, not an effect silently applied nowhere."""
    from .effects import Effects, classify
    from .numeric import FORMATS

    for effect in profile.precision:
        if effect.dtype != "param" and effect.dtype not in FORMATS:
            raise UserError(f"{label}: precision effect {list(effect.hypers)}: dtype {effect.dtype!r} is "
                            f"'param' or one of {', '.join(FORMATS)}")
        for name in effect.hypers:
            try:
                classify(name, alg)
            except ValueError as exc:
                raise UserError(f"{label}: {exc}") from None
    named: dict = {key: set() for key in PrecisionEffect.CLAUSES}
    for effect in profile.precision:
        for key, values in effect.clauses().items():
            named[key].update(values)
    import itertools

    choices = [sorted(values) + [None] for values in named.values()]
    for combo in itertools.product(*choices):
        have = dict(zip(named, combo))
        names = {n: "float64" for e in profile.precision
                 if e.applies(have["code_path"], have["backend"], have["device"], have["dtype"]) for n in e.hypers}
        try:
            Effects.build(names, alg)
        except ValueError as exc:
            shown = " ".join(f"{k}={v}" for k, v in have.items() if v is not None) or "everywhere"
            raise UserError(f"{label}: at {shown}: {exc}") from None


_REGISTRY: dict | None = None
_AXES: dict | None = None


def axes() -> dict[str, Axis]:
    global _AXES
    if _AXES is None:
        _AXES = load_axes()
    return _AXES


def algorithms() -> dict[str, Algorithm]:
    """Every algorithm, keyed by name: optimizers first, then schedules, each alphabetical."""
    global _REGISTRY
    if _REGISTRY is None:
        loaded = [_load_algorithm(p, axes()) for p in sorted(PROFILE_DIR.glob("*.toml"))]
        loaded.sort(key=lambda a: (a.kind != "optimizer", a.name))
        _REGISTRY = {a.name: a for a in loaded}
    return _REGISTRY


def get(name: str) -> Algorithm:
    table = algorithms()
    try:
        return table[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, table, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"unknown algorithm {name!r}{hint}; run 'optconform list' to see them") from None
