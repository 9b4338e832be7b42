"""The porting guide: moving one algorithm from one framework to another, backed by the reference.

``guide(algorithm, source, target)`` returns, for a training script that uses the source
profile's implementation and should compute the same on the target framework:

* the constructor call on each side, with the source's defaults written out in each side's
  keywords (``calls``), and every hyperparameter whose keyword or default differs (``hyper``);
* for each axis on which the source and the target's default profile differ (``axes``), one verdict:
  ``exact`` — another API of the target has the source's value (``tf_keras.optimizers.Adam
  (adaptive_epsilon=True)``), or a hyperparameter translation declared as data (``port`` in
  reference/axes.toml or under the algorithm's ``[axis.<name>]``) makes the target compute the
  source's trajectory: the reference runs both and the residual is 0 to 40 digits;
  ``approximately`` — the residual (that axis alone changed, the source's defaults, the axis's
  feature on) stays at most ``APPROXIMATE`` relative after 100 steps of ordinary gradients (the
  residual of every regime is given); ``not_at_all`` — it does not; ``finite_equal`` — the values
  agree for finite gradients (they differ after an infinite or NaN one);
* ``unchanged``: the measured trajectory difference when only the names are translated and every
  default left as the target has it; ``translated``: the difference left when the source's values
  are passed (the semantic difference alone);
* for schedules, the index convention of each side.

``source`` and ``target`` are a profile name of the algorithm or a framework (``torch``, ``optax``,
``keras``, ``tf_keras``, and the aliases in :data:`ALIASES`): a framework stands for its main
profile, and every profile of the target framework is a candidate API.
"""
from __future__ import annotations

import re
import tomllib

from .catalog import (_defaults_differ, _feature_probe, argument, default_of, evaluate, finite_only, shown_keyword,
                      framework_value, keyword, largest, measure, required, run_case, with_semantics)
from .errors import UserError
from .model import AXES_FILE, PROFILE_DIR, Algorithm, Profile, encode_hyper, get
from .numeric import precision, to_decimal

ALIASES = {"pytorch": "torch", "jax": "optax", "tensorflow": "tf_keras", "tf": "tf_keras", "tf.keras": "tf_keras",
           "keras3": "keras", "paper": "spec"}
APPROXIMATE = 1e-4  # largest residual of an "approximately" after 100 steps of ordinary gradients

INDEX = {
    "spec": "update k (k = 0 the first) uses the value at k",
    "torch": "the value of update k is the optimizer's lr after k calls of scheduler.step() "
             "(call it after optimizer.step())",
    "optax": "the schedule is called with the update count k (0 for the first update; optax's count "
             "before it is incremented)",
    "keras": "the schedule is called with optimizer.iterations = k (0 for the first update)",
    "tf_keras": "the schedule is called with optimizer.iterations = k (0 for the first update)",
}


# --- resolving the command line's framework names --------------------------------------------------


def families(alg: Algorithm) -> dict:
    """{framework: [its profiles, the main one first]} of an algorithm (``spec`` included)."""
    out: dict = {}
    for p in alg.profiles.values():
        out.setdefault(p.framework or "spec", []).append(p)
    for fam, profs in out.items():
        profs.sort(key=lambda p: p.name != fam)
    return out


def valid_names(alg: Algorithm) -> list:
    fams = families(alg)
    return sorted(set(alg.profiles) | set(fams) | {a for a, f in ALIASES.items() if f in fams})


def resolve(alg: Algorithm, text: str, option: str) -> tuple:
    """(profile, candidates of its framework) for a ``--from`` / ``--to`` value; UserError naming the
    valid names otherwise."""
    name = ALIASES.get(text.strip().lower(), text.strip())
    fams = families(alg)
    if name in alg.profiles:
        prof = alg.profiles[name]
        return prof, fams[prof.framework or "spec"]
    if name in fams:
        return fams[name][0], fams[name]
    raise UserError(f"divergences {alg.name} {option} {text!r}: {alg.name} has no profile for it; "
                    f"choose from {', '.join(valid_names(alg))}")


# --- hyperparameter translations (data) ------------------------------------------------------------


def port_rules(alg: Algorithm, axis: str) -> list:
    """The ``port`` entries of an axis: reference/axes.toml, or the algorithm's ``[axis.<name>]``."""
    with open(AXES_FILE, "rb") as fh:
        shared = tomllib.load(fh)
    if axis in shared:
        return list(shared[axis].get("port", []))
    with open(PROFILE_DIR / f"{alg.name}.toml", "rb") as fh:
        local = tomllib.load(fh).get("axis", {})
    return list(local.get(axis, {}).get("port", []))


# --- constructor calls ---------------------------------------------------------------------------


def _literal(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return repr(value)
    if isinstance(value, str):
        try:
            float(value)
            return value
        except ValueError:
            return repr(value)
    return str(value)


def _tied(item: str, given: dict) -> str:
    """``k=v`` with v another keyword's value where v names a keyword in ``given``."""
    k, sep, v = item.partition("=")
    return f"{k}={given[v]}" if sep and v in given else item


def call(alg: Algorithm, profile: Profile, values: dict) -> dict:
    """The profile's constructor call with ``values`` (canonical name -> JSON value):
    {"code": text, "elsewhere": [lines for hyperparameters that are not a keyword],
    "beside": [the calls of the objects the training loop drives beside it]}.

    A profile's ``inner`` optimizer (a wrapper's or an averaging API's) gets its own call with its
    hyperparameters, passed as the keyword ``at`` names, as the first argument, chained after the
    profile's transformation (optax.chain) or beside; a
    keyword written as a call inside the api (``get_ema_multi_avg_fn(decay)``) gets the value."""
    inner = profile.inner
    args, inner_args, groups, elsewhere = [], [], {}, []
    api = profile.api or alg.name
    for name in alg.hypers:
        kw, _ = argument(profile, name)
        if kw is None or name not in values:
            continue
        value = framework_value(alg, profile, name, values)
        into = inner_args if inner and name in inner["hypers"] else args
        m = re.fullmatch(r"([A-Za-z_]\w*)\[(\d+)\]", kw)
        wrapped = re.fullmatch(r"([A-Za-z_][\w.]*)\((\w+)\)", kw)
        if re.fullmatch(r"[A-Za-z_]\w*", kw):
            into.append(f"{kw}={_literal(value)}")
        elif m and into is args:
            if m.group(1) not in groups:
                groups[m.group(1)] = {}
                args.append(m.group(1))
            groups[m.group(1)][int(m.group(2))] = _literal(value)
        elif wrapped and kw in api:
            api = api.replace(kw, f"{wrapped.group(1)}({_literal(value)})")
        else:
            elsewhere.append(f"{name} = {_literal(value)}: {kw}")
    args = [f"{a}=({', '.join(v for _, v in sorted(groups[a].items()))})" if a in groups else a for a in args]
    takes_params = ["params"] if profile.framework == "torch" else []
    inner_params = ["params"] if inner and inner["api"].startswith("torch.") else []
    first = takes_params if alg.kind == "optimizer" else ["optimizer"] if profile.framework == "torch" else []
    beside, chain = [], None
    if inner:
        inner_code = f"{inner['api']}({', '.join(inner_params + inner_args)})"
        if inner["at"] == "first":
            first = [inner_code]
        elif inner["at"] == "chain":
            chain = inner_code
        elif inner["at"] == "beside":
            beside.append(inner_code)
            first = [inner["first"]] if inner.get("first") else first
        else:
            args.insert(0, f"{inner['at']}={inner_code}")
    if api.endswith(")") and "(" in api:
        head, within = api[:-1].split("(", 1)
        given = dict(a.split("=", 1) for a in args if "=" in a)
        # a keyword the api ties to another (torch's SGD(dampening=momentum)) takes its value
        within = ", ".join(_tied(item, given) for item in within.split(", "))
        code = f"{head}({', '.join(first + [within] + args)})"
    else:
        code = f"{api}({', '.join(first + args)})"
    if chain:
        prefix = api.split(".", 1)[0]
        code = f"{prefix}.chain({code}, {chain})"
    return {"code": code, "elsewhere": elsewhere, "beside": beside}


def hyper_rows(alg: Algorithm, src: Profile, dst: Profile) -> list:
    """Per canonical hyperparameter: each side's keyword (``from``/``to``), canonical default, the
    value its own keyword takes (``from_value``/``to_value``), whether its constructor requires it,
    and what to do (``status``)."""
    rows = []
    for name in alg.hypers:
        ks, kd = shown_keyword(src, name, argument(src, name)[0]), shown_keyword(dst, name, argument(dst, name)[0])
        ds, dd = default_of(alg, src, name), default_of(alg, dst, name)
        if kd is not None and required(dst, name):
            status = "required by the target: pass the source's value" if ks is not None else \
                "required by the target: pass the source's fixed value"
        elif ks is not None and required(src, name):
            status = "required by the source: pass the same value"
        elif ks is None and kd is None:
            status = "neither has it"
        elif kd is None:
            status = "target lacks it" if ds != dd else "target lacks it (fixed at the source's default)"
        elif ks is None:
            status = ("source lacks it (the target's default is its fixed value)" if ds == dd
                      else "source lacks it: pass the source's fixed value")
        elif ds != dd:
            status = "default differs: pass it"
        elif ks != kd:
            status = "renamed"
        else:
            status = "same"
        rows.append({"name": name, "from": ks, "to": kd, "from_default": ds, "to_default": dd,
                     "from_value": framework_value(alg, src, name) if ks is not None else None,
                     "to_value": framework_value(alg, dst, name) if kd is not None else None,
                     "from_required": required(src, name), "to_required": required(dst, name), "status": status})
    return rows


# --- the axes ------------------------------------------------------------------------------------


def _hyper_values(alg: Algorithm, profile: Profile, extra: dict, use_defaults: bool = True) -> dict:
    """The resolved hyperparameters of the profile's measurement case (its defaults or the probes,
    then ``extra``)."""
    with precision():
        case = run_case(alg, profile, use_defaults, extra)
    if case is None:
        raise UserError(f"{alg.name} [{profile.name}] cannot take {extra}")
    return dict(case.groups[0][1])


def _rule_override(alg: Algorithm, src: Profile, rule: dict, probe: dict, use_defaults: bool = True) -> dict | None:
    sets = {k: v for k, v in rule.get("set", {}).items() if k in alg.hypers}
    if not sets:
        return None
    values = _hyper_values(alg, src, probe, use_defaults)
    with precision():
        return {k: to_decimal(evaluate(expr, values)) for k, expr in sets.items()}


def axis_rows(alg: Algorithm, src: Profile, dst: Profile, candidates: list) -> list:
    rows = []
    for axis in alg.axes:
        sv, dv = src.semantics[axis], dst.semantics[axis]
        if sv == dv:
            continue
        definition = alg.axis_defs[axis]
        row = {"axis": axis, "from": sv, "to": dv, "from_means": definition.values[sv],
               "to_means": definition.values[dv], "finite_only": finite_only(alg, axis), "switch": None,
               "options": [], "rule": None, "residual": None}
        switch = alg.active_when.get(axis)
        if switch and not finite_only(alg, axis):
            h = alg.hypers[switch]
            neutral = h.neutral if h.neutral is not None else h.default
            with precision():
                row["switch"] = switch
                row["switch_on"] = h.parse(src.defaults.get(switch, h.default)) != h.parse(neutral)
        for c in candidates:
            if c.name != dst.name and c.semantics[axis] == sv:
                others = [a for a in alg.axes if a != axis and c.semantics[a] != dst.semantics[a]]
                row["options"].append({"profile": c.name, "api": c.api, "also_changes": others})
        if finite_only(alg, axis):
            row["verdict"] = "exact" if row["options"] else "finite_equal"
            rows.append(row)
            continue
        if row["switch"] and row["switch"] in src.unsupported:
            # the source cannot switch the feature on: at its fixed value the axis has no effect
            row["verdict"] = "exact"
            row["advice"] = (f"the source has no {row['switch']} (fixed at "
                             f"{default_of(alg, src, row['switch'])}): keep it at that value on the target")
            rows.append(row)
            continue
        probe = _feature_probe(alg, axis)
        changed = with_semantics(src, {**src.semantics, axis: dv})
        for rule in port_rules(alg, axis):
            if rule.get("from") == sv and rule.get("to") == dv:
                override = _rule_override(alg, src, rule, probe, use_defaults=False)
                if override is None:
                    row["advice"] = rule.get("note", "")
                    continue
                # checked at the probe values (a floor of 0 or λ = 0 would make any rule exact)
                residual = measure(alg, (changed, False, {**probe, **override}), (src, False, probe))
                row["rule"] = {"set": override, "expressions": rule["set"], "note": rule.get("note", ""),
                               "keywords": {k: argument(dst, k)[0] or k for k in override},
                               "checked_at": {k: encode_hyper(v) for k, v in
                                              _hyper_values(alg, src, probe, False).items()
                                              if any(k in str(e) for e in rule["set"].values())},
                               "residual": residual}
                break
        row["residual"] = measure(alg, (changed, True, probe), (src, True, probe))
        row["probe_residual"] = measure(alg, (changed, False, probe), (src, False, probe))
        row["hyper"] = {k: encode_hyper(v) for k, v in _hyper_values(alg, src, probe).items() if k in probe}
        row["verdict"] = _verdict(alg, row)
        rows.append(row)
    return rows


def _ordinary(alg: Algorithm, sizes: dict | None):
    if alg.kind == "schedule":
        return largest(sizes)
    return largest(sizes, "ordinary")


def _verdict(alg: Algorithm, row: dict) -> str:
    if row["options"]:
        return "exact"
    rule = row["rule"]
    if rule is not None and largest(rule["residual"]) == 0.0:
        return "exact"
    if largest(row["residual"]) == 0.0 and largest(row["probe_residual"]) in (0.0, None):
        return "exact"
    best = rule["residual"] if rule is not None else (
        row["residual"] if largest(row["residual"]) != 0.0 else row["probe_residual"])
    size = _ordinary(alg, best)
    if isinstance(size, float) and size <= APPROXIMATE:
        return "approximately"
    return "not_at_all"


# --- the guide -----------------------------------------------------------------------------------


def guide(name: str, source: str, target: str) -> dict:
    alg = get(name)
    src, _ = resolve(alg, source, "--from")
    dst, candidates = resolve(alg, target, "--to")
    src_values = {n: default_of(alg, src, n) for n in alg.hypers}
    passed = _required_passed(alg, src, dst)
    dst_values = {**{n: default_of(alg, dst, n) for n in alg.hypers}, **passed}
    translated_values = {n: (src_values[n] if keyword(dst, n) is not None else dst_values[n]) for n in alg.hypers}
    finite_axes = [a for a in alg.axes if src.semantics[a] != dst.semantics[a] and not finite_only(alg, a)]
    defaults = _defaults_differ(alg, src, dst)
    out = {
        "algorithm": alg.name, "kind": alg.kind,
        "from": {"profile": src.name, "framework": src.framework or "spec", "api": src.api},
        "to": {"profile": dst.name, "framework": dst.framework or "spec", "api": dst.api},
        "candidates": [{"profile": c.name, "api": c.api} for c in candidates],
        "calls": {"from": call(alg, src, src_values), "to": call(alg, dst, translated_values),
                  "to_defaults": call(alg, dst, dst_values)},
        "hyper": hyper_rows(alg, src, dst),
        "axes": axis_rows(alg, src, dst, candidates),
        "unchanged": measure(alg, (dst, True, passed), (src, True, {})) if finite_axes or defaults else None,
        "translated": measure(alg, (with_semantics(src, dst.semantics), True, {}), (src, True, {}))
        if finite_axes else None,
    }
    if alg.kind == "schedule":
        out["index"] = {"from": INDEX.get(src.framework or "spec", INDEX["spec"]),
                        "to": INDEX.get(dst.framework or "spec", INDEX["spec"])}
    if out["translated"] is None or largest(out["translated"]) == 0.0:
        from .catalog import float64_agreement

        out["float64"] = float64_agreement(alg, src, dst, base=src)
    out["precision"] = {side: [{"hypers": list(e.hypers), "dtype": e.dtype, "where": e.where, "note": e.note}
                               for e in prof.precision] for side, prof in (("from", src), ("to", dst))}
    out["verdict_at_defaults"] = overall(out, at_defaults=True)
    out["verdict"] = overall(out)
    out["checks"] = checks(alg, src, dst, out)
    return out


def _required_passed(alg: Algorithm, src: Profile, dst: Profile) -> dict:
    """The source's values of the hyperparameters the target requires (no default there): what a
    port passes even when it changes nothing else."""
    return {n: default_of(alg, src, n) for n in alg.hypers if required(dst, n)}


# --- what the adapters can confirm ----------------------------------------------------------------


def _run(profile: Profile, use_defaults: bool, hyper: dict) -> dict:
    return {"profile": profile.name, "use_defaults": use_defaults, "hyper": dict(hyper)}


def _source_values(alg: Algorithm, src: Profile, target: Profile, extra: dict, use_defaults: bool) -> dict:
    """The source run's resolved hyperparameters (its defaults or the probes, then ``extra``) that
    ``target`` takes, as JSON: what the port passes to the target."""
    values = _hyper_values(alg, src, extra, use_defaults)
    return {k: encode_hyper(v) for k, v in values.items() if keyword(target, k) is not None}


def checks(alg: Algorithm, src: Profile, dst: Profile, g: dict) -> list:
    """The guide's statements that a setting of the target reproduces the source (and the
    "nothing changed" difference), each as the pair of runs that tests it on the guide's scenario
    (reference/catalog.py's measurement cases): {"id", "statement", "claim", "from", "to"}, a run
    being {"profile", "use_defaults", "hyper"} (reference.catalog.run_case's arguments). The
    adapters run both on the real frameworks (optconform.adapters.porting_confirm)."""
    out = [{"id": "unchanged", "statement": "nothing changed (names translated, the target's defaults)",
            "claim": "measured", "from": _run(src, True, {}),
            "to": _run(dst, True, _required_passed(alg, src, dst))}]
    if not g["translated"] or largest(g["translated"]) == 0.0:
        out.append({"id": "translated", "statement": "target, same math: the source's values passed",
                    "claim": "exactly", "from": _run(src, True, {}),
                    "to": _run(dst, True, _source_values(alg, src, dst, {}, True))})
    profiles = alg.profiles
    for row in g["axes"]:
        if row["finite_only"] or row["verdict"] not in ("exact", "approximately") or row.get("residual") is None:
            continue  # finite-only forms agree on these finite gradients; an unsupported switch: no run
        probe = _feature_probe(alg, row["axis"])
        claim = {"exact": "exactly", "approximately": "approximately"}[row["verdict"]]
        for o in row["options"]:
            target = profiles[o["profile"]]
            out.append({"id": f"axis:{row['axis']}:{o['profile']}", "claim": "exactly",
                        "statement": f"{row['axis']}: use profile {o['profile']} ({o['api']})",
                        "from": _run(src, True, probe),
                        "to": _run(target, True, _source_values(alg, src, target, probe, True))})
        if row["options"]:
            continue
        rule = row["rule"]
        if rule is not None:
            values = {**_source_values(alg, src, dst, probe, False), **rule["set"]}
            out.append({"id": f"axis:{row['axis']}:rule", "claim": claim,
                        "statement": f"{row['axis']}: set " + ", ".join(f"{rule['keywords'][k]} = {e}"
                                                                       for k, e in rule["expressions"].items()
                                                                       if k in rule["set"]),
                        "from": _run(src, False, probe), "to": _run(dst, False, values)})
        else:
            out.append({"id": f"axis:{row['axis']}", "claim": claim,
                        "statement": f"{row['axis']}: nothing to set",
                        "from": _run(src, True, probe),
                        "to": _run(dst, True, _source_values(alg, src, dst, probe, True))})
    return out


def overall(g: dict, at_defaults: bool = False) -> str:
    """``exact`` when every differing axis has an exact remedy (or agrees for finite gradients) and
    the target takes every hyperparameter the source sets; else the worst axis verdict. With
    ``at_defaults``, an axis whose feature is off at the source's defaults (weight decay λ = 0)
    does not count."""
    lacking = [h for h in g["hyper"] if h["status"] == "target lacks it"]
    verdicts = [a["verdict"] for a in g["axes"] if not (at_defaults and a["switch"] and not a["switch_on"])]
    if "not_at_all" in verdicts or lacking:
        return "not_at_all"
    if "approximately" in verdicts:
        return "approximately"
    return "exact"
