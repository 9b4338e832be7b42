"""The divergence context of a failing case, for the reports: what the case was checked against
and how that differs from the specification.

A case is checked against its adapter's declared profile P of the algorithm (``case["profile"]``),
not against the spec profile. For each (algorithm, P) of the failing cases, :func:`contexts` gives

* ``axes``: every semantic axis on which P's value differs from the spec profile's
  (``reference.model``: ``P.semantics[a] != profiles["spec"].semantics[a]``), with what each value
  means and whether the difference only shows after a non-finite input (``finite_only``);
* ``api``, ``framework``: where P comes from;
* ``defaults``: the hyperparameter defaults on which P and the spec differ;
* ``measured``: one line from the divergence catalog (reference/catalog.py) on the size of the
  difference P makes: the largest relative difference of the parameters from the spec profile's
  after t = 1, 10 or 100 steps over the catalog's regimes (a schedule: of its learning rates up to
  and past the horizon), for each differing axis alone (with its feature switched on), for all of
  P's axes at the spec's hyperparameters and for P as shipped. None where the catalog has no
  measurement (P computes what the spec does).

The catalog is computed with the exact reference and cached (reference/catalog.py: ``Cache``), so
a measurement costs a few seconds per algorithm the first time on a machine and nothing after.
The per-case facts — the vector's declared divergences, the precision effects applied to the
reference, a declared finding — are in the case itself (``declared_divergences``,
``precision_effects``, ``known_finding``). Nothing here raises for a profile this version does not
know (a report from another version, a third-party profile): its context says so.
"""
from __future__ import annotations

FAILING = ("fail",)


def _measured_line(kind: str, row: dict | None) -> str | None:
    """The catalog's measurements of a profile's difference from spec, as one line: each differing
    axis alone (at the hyperparameters the catalog switched its feature on with), all axes together
    at the spec's hyperparameters, and the profile as shipped; the largest relative difference over
    the regimes and t = 1, 10, 100 (a schedule: its learning rates up to and past the horizon).
    None without a measurement."""
    from optconform.reference.catalog import largest
    from optconform.reference.catalog_page import size

    if not row:
        return None
    parts = []
    for a in row.get("axes", []):
        if a.get("finite_only"):
            parts.append(f"{a['axis']} alone 0 for finite gradients")
            continue
        if a.get("effect") is None:
            continue
        at = {**(a.get("hyper") or {}), **(a.get("at_probe") or {})}
        parts.append(f"{a['axis']} alone up to {size(largest(a['effect']))}"
                     + (f" (at {', '.join(f'{k} = {v}' for k, v in at.items())})" if at else ""))
    if row.get("semantics") is not None:
        parts.append(f"all its axes at the spec's hyperparameters up to {size(largest(row['semantics']))}")
    if row.get("as_shipped") is not None:
        parts.append(f"as shipped (its defaults against the spec's) up to {size(largest(row['as_shipped']))}")
    if not parts:
        return None
    what = ("largest relative difference of the learning rate from the spec profile's, up to the horizon and "
            "past it" if kind == "schedule" else
            "largest relative difference of the parameters from the spec profile's after 1, 10 or 100 steps")
    return f"{what} (exact reference): " + "; ".join(parts)


def profile_context(algorithm: str, profile: str, entry: dict | None = None) -> dict:
    """The context of one (algorithm, profile); ``entry`` is the algorithm's catalog entry (or None)."""
    from optconform.reference import UserError
    from optconform.reference.catalog import finite_only
    from optconform.reference.model import get

    out = {"algorithm": algorithm, "profile": profile, "known": False, "framework": "", "api": "", "axes": [],
           "defaults": [], "measured": None}
    try:
        alg = get(algorithm)
    except UserError:
        return out
    if profile not in alg.profiles:
        return out
    p, spec = alg.profiles[profile], alg.profiles["spec"]
    out.update(known=True, framework=p.framework, api=p.api)
    for axis in alg.axes:
        if p.semantics[axis] != spec.semantics[axis]:
            meanings = alg.axis_defs[axis].values if axis in alg.axis_defs else {}
            out["axes"].append({"axis": axis, "value": p.semantics[axis], "spec": spec.semantics[axis],
                                "means": meanings.get(p.semantics[axis], ""),
                                "spec_means": meanings.get(spec.semantics[axis], ""),
                                "finite_only": finite_only(alg, axis)})
    row = next((r for r in (entry or {}).get("differences", []) if r.get("profile") == profile), None)
    if row:
        out["defaults"] = [{"name": d["name"], "value": d.get(profile), "spec": d.get("spec")}
                           for d in row.get("defaults", [])]
        out["measured"] = _measured_line(alg.kind, row)
    return out


def contexts(cases: list, measure: bool = True) -> dict:
    """{(algorithm, profile): context} for the profiles of the failing ``cases`` (JSON case dicts).
    ``measure``: look up (computing once, then cached) the catalog's measurements; a catalog that
    cannot be computed leaves ``measured`` None."""
    pairs = sorted({(c.get("algorithm"), c.get("profile")) for c in cases
                    if c.get("verdict") in FAILING and isinstance(c.get("algorithm"), str)
                    and isinstance(c.get("profile"), str)})
    entries: dict = {}
    if measure:
        entries = _catalog_entries(sorted({a for a, p in pairs if p != "spec"}))
    return {(a, p): profile_context(a, p, entries.get(a)) for a, p in pairs}


def _catalog_entries(names: list) -> dict:
    """{algorithm: catalog entry} for the known ``names``; an algorithm whose measurement fails is left out."""
    from optconform.reference import UserError
    from optconform.reference.catalog import Cache, catalog

    cache = Cache() if names else None
    out = {}
    for name in names:
        try:
            out[name] = catalog([name], cache)["algorithms"][0]
        except (UserError, ArithmeticError, ValueError, KeyError, TypeError):
            continue
    return out
