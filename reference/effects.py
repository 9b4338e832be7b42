"""Declared precision effects, typed: what a framework computes in a narrower format than the exact
reference, and which named variant of an algorithm's step emulates it.

A profile declares its effects as data (``precision = [{hypers = [...], dtype, where, note}]``,
spec/tolerance.md "Declared precision effects"); for one implementation
:func:`optconform.reference.model.precision_effects` gives the plain mapping {name: format} that
reports store. :meth:`Effects.build` turns that mapping, once, into this object, and the trajectory
runner hands it to the algorithm on the step context (``ctx.effects``). A name is one of:

* a real hyperparameter (``lr``, ``weight_decay``, ``beta1``, ...): the framework holds it in the
  format, so the hyperparameter itself is rounded (:meth:`Effects.round_hypers`) before any step —
  that is the value the framework computes with;
* a name that one of the algorithm module's named variants models (``VARIANTS``, see
  reference/algorithm.py): ``power_<hyper>`` (the hyperparameter, as declared, cast to the format
  only where it is raised to the step count, β₁ᵗ: :meth:`Effects.bind`), an internal quantity
  (NAdam's ``mu_product``), or a way of computing (torch's tensor-step ``scalars``). Declaring one selects that variant: a function with the
  signature of ``step`` that runs instead of the exact equations and reads the format of each
  quantity from ``ctx.effects`` (:meth:`Effects.format`, :meth:`Effects.rounded`);
* ``<quantity>@checkpoint``: loading a checkpoint converts the quantity to that format (torch's
  ``load_state_dict`` casts NAdam's float32 ``mu_product`` to the parameters' dtype), and from then on
  the variant holds it in that format (:meth:`Effects.after_checkpoint`).

Without effects (:data:`EXACT`) every algorithm runs its exact ``step``: the spec's equations.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import mpmath

from .numeric import FORMATS, cast_mpfr, mpfr_active, round_to

if TYPE_CHECKING:  # pragma: no cover
    from .algorithm import Variant

CHECKPOINT_SUFFIX = "@checkpoint"
POWER_PREFIX = "power_"
# the reruns that bracket a variant's not correctly rounded operations (``Effects.nudge``): each
# such operation returns the largest (+1) or the smallest (−1) result within its accuracy, in the
# four combinations of torch's float32 pow and sqrt (spec/tolerance.md)
BRACKETS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def _frozen(mapping: Mapping | None = None) -> Mapping:
    """A copy of ``mapping`` that the Effects owns (never mutated; a plain dict, so that an Effects
    pickles into worker processes)."""
    return dict(mapping or {})


@dataclass(frozen=True)
class Effects:
    """The precision effects that apply to one implementation of one algorithm.

    ``hypers``: real hyperparameter → the format the framework holds it in;
    ``formats``: quantity → format, for the quantities the selected variant reads;
    ``variant``: the name of that variant in the module's ``VARIANTS`` (None: the exact ``step``);
    ``at_checkpoint``: quantity → the format a checkpoint load converts it to;
    ``nudge``: for a variant whose framework operations are faithful but not correctly rounded
    (``bracketed``), which neighbour each such operation returns in the reruns that bracket it
    (0 the nearest, ±1 the largest / smallest within the operation's accuracy; reference/common.py
    ``fl_within``);
    ``bound``: ``power_<hyper>`` → the declared hyperparameter of the group cast to its format
    (:meth:`bind`).
    """

    hypers: Mapping[str, str] = field(default_factory=_frozen)
    formats: Mapping[str, str] = field(default_factory=_frozen)
    variant: str | None = None
    bracketed: bool = False
    at_checkpoint: Mapping[str, str] = field(default_factory=_frozen)
    nudge: tuple[int, ...] = (0, 0)
    bound: Mapping[str, object] = field(default_factory=_frozen)

    # --- building -----------------------------------------------------------------------------

    @classmethod
    def build(cls, declared: "Mapping[str, str] | Effects | None", algorithm) -> "Effects":
        """The typed effects of the mapping {name: format} for ``algorithm`` (a model.Algorithm).

        Raises ValueError for a name that is neither a real hyperparameter of the algorithm nor
        modelled by one of its variants, for an unknown format, and for names that no single
        variant models together."""
        if isinstance(declared, Effects):
            return declared
        if not declared:
            return EXACT
        variants = algorithm.step_variants
        hypers, formats, at_checkpoint = {}, {}, {}
        for name, fmt in declared.items():
            if fmt not in FORMATS:
                raise ValueError(f"precision effect {name!r}: unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
            kind = classify(name, algorithm)
            if kind == "hyper":
                hypers[name] = fmt
            elif kind == "checkpoint":
                at_checkpoint[name[:-len(CHECKPOINT_SUFFIX)]] = fmt
            else:
                formats[name] = fmt
        chosen = select_variant(variants, set(formats) | set(at_checkpoint), algorithm.name)
        return cls(hypers=_frozen(hypers), formats=_frozen(formats), variant=chosen,
                   bracketed=bool(chosen and variants[chosen].bracketed), at_checkpoint=_frozen(at_checkpoint))

    def with_hypers(self, hypers: Mapping[str, str]) -> "Effects":
        """The same effects with these real hyperparameters held in these formats too (the
        emulations of spec/tolerance.md that round every real hyperparameter to the dtype)."""
        return dataclasses.replace(self, hypers=_frozen({**self.hypers, **hypers}))

    def nudged(self, nudge: tuple[int, ...]) -> "Effects":
        """The same effects in one of the reruns that bracket a not correctly rounded operation."""
        return dataclasses.replace(self, nudge=tuple(nudge))

    def bind(self, h) -> "Effects":
        """The effects for a group whose declared hyperparameters are ``h``: each ``power_<hyper>``
        is the value the framework was given, cast to its format — from ``h`` as declared, before
        any rounding of the hyperparameter itself (the emulations of spec/tolerance.md that round
        every real hyperparameter to a dtype leave the framework's cast of the Python float as it
        is)."""
        powers = {q: cast(h[q[len(POWER_PREFIX):]], fmt) for q, fmt in self.formats.items()
                  if q.startswith(POWER_PREFIX) and q[len(POWER_PREFIX):] in h}
        return dataclasses.replace(self, bound=_frozen(powers)) if powers else self

    def after_checkpoint(self) -> "Effects":
        """The effects after a checkpoint load: the ``@checkpoint`` formats replace the others."""
        if not self.at_checkpoint:
            return self
        return dataclasses.replace(self, formats=_frozen({**self.formats, **self.at_checkpoint}),
                                   at_checkpoint=_frozen({}))

    # --- reading (the runner and the variants) ----------------------------------------------------

    def format(self, quantity: str) -> str | None:
        """The format a variant holds ``quantity`` in, or None (exact)."""
        return self.formats.get(quantity)

    def rounded(self, quantity: str, x):
        """``x`` converted to ``quantity``'s format (correctly rounded, whatever the precision and
        rounding of the arithmetic around it: an emulation of that arithmetic does not change what
        a framework's cast of a constant gives), or ``x`` itself where none is declared. For a
        ``power_<hyper>`` the runner has bound (:meth:`bind`), the bound value."""
        if quantity in self.bound:
            return self.bound[quantity]
        fmt = self.formats.get(quantity)
        return cast(x, fmt) if fmt else x

    def round_hypers(self, h):
        """A copy of the hyperparameters ``h`` with each declared real hyperparameter rounded to its
        format (the value the framework computes with)."""
        if not self.hypers:
            return h
        out = type(h)(h)
        for name, fmt in self.hypers.items():
            if name in out:
                out[name] = round_to(out[name], fmt)
        return out

    def round_lr(self, lr):
        """η_t (the base rate times the schedule multiplier) as the framework holds it."""
        fmt = self.hypers.get("lr")
        return round_to(lr, fmt) if fmt else lr


EXACT = Effects()


def cast(x, fmt: str):
    """``x`` rounded to nearest in ``fmt``, read exactly whatever the working precision and
    rounding mode (numeric.round_to reads ``x`` at the working precision first)."""
    if mpfr_active():
        return cast_mpfr(x, fmt)
    x = x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)
    prec, rounding = mpmath.mp.prec, mpmath.mp._prec_rounding[1]
    try:
        mpmath.mp.prec = max(prec, x._mpf_[3] + 1, FORMATS[fmt].precision + 1)
        mpmath.mp._prec_rounding[1] = "n"
        return round_to(x, fmt)
    finally:
        mpmath.mp.prec = prec
        mpmath.mp._prec_rounding[1] = rounding


def classify(name: str, algorithm) -> str:
    """``"hyper"`` (a real hyperparameter), ``"checkpoint"`` (``<quantity>@checkpoint``) or
    ``"variant"`` (modelled by one of the module's variants); ValueError for anything else."""
    hyper = algorithm.hypers.get(name)
    if hyper is not None:
        if hyper.type != "real":
            raise ValueError(f"precision effect {name!r}: {algorithm.name}'s {name} is a {hyper.type} "
                             f"hyperparameter; only real ones are held in a format")
        return "hyper"
    modelled = {q for v in algorithm.step_variants.values() for q in v.effects}
    base = name[:-len(CHECKPOINT_SUFFIX)] if name.endswith(CHECKPOINT_SUFFIX) else name
    if base in modelled:
        return "checkpoint" if base != name else "variant"
    known = sorted(n for n, h in algorithm.hypers.items() if h.type == "real") + sorted(modelled)
    raise ValueError(f"precision effect {name!r} is neither a real hyperparameter of {algorithm.name} nor "
                     f"modelled by one of its variants (reference/algorithm.py VARIANTS); known: {', '.join(known)}")


def select_variant(variants: "Mapping[str, Variant]", names: set, algorithm: str = "") -> str | None:
    """The first variant (in the module's order) that models every one of ``names``; None when
    there are none (the exact step)."""
    if not names:
        return None
    for vname, variant in variants.items():
        if names <= set(variant.effects):
            return vname
    offered = "; ".join(f"{v}: {', '.join(sorted(x.effects))}" for v, x in variants.items()) or "none"
    raise ValueError(f"no variant of {algorithm or 'the algorithm'} models the precision effects "
                     f"{', '.join(sorted(names))} together (variants: {offered})")
