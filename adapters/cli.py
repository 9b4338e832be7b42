"""The ``optconform`` command line (also ``python -m optconform.adapters``).

Exit status: 0 success / everything conforms, 1 a non-conformance was found (``generate --check``
found differing files), 2 the command could not run (bad arguments, bad input file): then one
line on stderr, no traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from optconform.reference import UserError, __version__
from optconform.reference.model import algorithms, get

PROG = "optconform"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _fmt(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


# --- list -------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    from optconform.reference.vectors import MANIFEST, default_vector_dir, read_manifest, verify

    counts: dict = {}
    directory = Path(args.vectors) if args.vectors else default_vector_dir()
    if args.vectors and not directory.is_dir():
        raise UserError(f"{directory}: vector folder does not exist")
    if (directory / MANIFEST).exists() or args.vectors:
        problems = verify(directory)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(problems[0] + more)
        for rel in read_manifest(directory)["files"]:
            alg = rel.split("/", 1)[0]
            counts[alg] = counts.get(alg, 0) + 1
    rows = []
    for alg in algorithms().values():
        rows.append({
            "name": alg.name,
            "kind": alg.kind,
            "title": alg.title,
            "profiles": list(alg.profiles),
            "hyperparameters": {n: _default_text(h.default) for n, h in alg.hypers.items()},
            "axes": {a: list(v) for a, v in alg.axes.items()},
            "vectors": counts.get(alg.name, 0),
        })
    if args.json:
        json.dump({"version": __version__, "algorithms": rows}, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    width = max(len(r["name"]) for r in rows)
    for kind in ("optimizer", "schedule"):
        print(f"{kind}s:")
        for r in rows:
            if r["kind"] == kind:
                print(f"  {r['name']:<{width}}  {r['title']}  [profiles: {', '.join(r['profiles'])}; "
                      f"vectors: {r['vectors']}]")
    return 0


def _default_text(value):
    return value if isinstance(value, (bool, int, str)) else str(value)


# --- generate ---------------------------------------------------------------------------------


def cmd_generate(args) -> int:
    from optconform.reference import vectors as V

    names = [get(n).name for n in args.algorithms] if args.algorithms else None
    directory = Path(args.vectors) if args.vectors else V.default_vector_dir()
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise UserError(f"{PROG} generate: --jobs must be at least 1, got {jobs}")
    start = time.perf_counter()
    if args.check:
        if not directory.exists():
            raise UserError(f"{directory}: vector folder does not exist")
        problems = V.check(directory, names, jobs)
        elapsed = time.perf_counter() - start
        if problems:
            for line in problems:
                print(line)
            print(f"{len(problems)} difference(s) between {directory} and the reference "
                  f"({elapsed:.1f} s); run '{PROG} generate' to regenerate", file=sys.stderr)
            return 1
        print(f"vectors in {directory} are exactly what the reference produces ({elapsed:.1f} s)")
        return 0
    summary = V.generate(directory, names, jobs)
    elapsed = time.perf_counter() - start
    print(f"{summary['vectors']} vectors ({summary['bytes'] / 1e6:.1f} MB) in {directory}: "
          f"{summary['written']} written, {len(summary['removed'])} removed, {elapsed:.1f} s with {jobs} job(s)")
    return 0


# --- trajectory -------------------------------------------------------------------------------


def _parse_vector(text: str, what: str) -> list:
    from optconform.reference.numeric import to_mpf

    values = [v.strip() for v in text.split(",")]
    if not values or any(v == "" for v in values):
        raise UserError(f"{PROG} trajectory: {what} must be comma-separated numbers, got {text!r}")
    out = []
    for v in values:
        try:
            out.append(to_mpf(v))
        except (ValueError, TypeError, ZeroDivisionError):
            raise UserError(f"{PROG} trajectory: {what}: {v!r} is not a number") from None
    return out


def _axis_point(alg, profile_name: str | None, items: list) -> tuple:
    """The profile to run: ``--profile`` (default spec) with the ``--axis NAME=VALUE`` values
    applied, and the {axis: value} that differ from it. An unknown axis or value, an axis given twice
    with two values, or a value that contradicts an explicit ``--profile`` is a UserError."""
    import dataclasses

    profile = alg.profile(profile_name or "spec")
    chosen: dict = {}
    for item in items:
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise UserError(f"{PROG} trajectory: --axis expects NAME=VALUE, got {item!r}")
        if name not in alg.axes:
            if not alg.axes:
                raise UserError(f"{PROG} trajectory: {alg.name} has no semantic axis (every profile computes "
                                f"the same equations), so --axis {name} does not apply")
            raise UserError(f"{PROG} trajectory: {alg.name} has no axis {name!r}; axes: {', '.join(alg.axes)}")
        if value not in alg.axes[name]:
            raise UserError(f"{PROG} trajectory: {alg.name} axis {name} has no value {value!r}; "
                            f"values: {', '.join(alg.axes[name])}")
        if chosen.get(name, value) != value:
            raise UserError(f"{PROG} trajectory: --axis {name} is given twice ({chosen[name]}, {value})")
        if profile_name is not None and profile.semantics[name] != value:
            raise UserError(f"{PROG} trajectory: --axis {name}={value} contradicts --profile {profile.name} "
                            f"({name}={profile.semantics[name]}); leave out --profile to start from spec")
        chosen[name] = value
    changed = {k: v for k, v in chosen.items() if profile.semantics[k] != v}
    if changed:
        profile = dataclasses.replace(profile, semantics={**profile.semantics, **changed})
    return profile, changed


def _profile_label(alg, profile, chosen: dict) -> str:
    """``spec``, ``spec + bias_correction=off``, and the named profile with those semantics if any."""
    if not chosen:
        return profile.name
    label = profile.name + " + " + ", ".join(f"{k}={v}" for k, v in chosen.items())
    same = [p.name for p in alg.profiles.values() if dict(p.semantics) == dict(profile.semantics)]
    return label + (f" (= profile {', '.join(same)})" if same else "")


def cmd_trajectory(args) -> int:
    from optconform.reference.model import Namespace, precision_effects
    from optconform.reference.numeric import precision, to_decimal
    from optconform.reference.scenarios import Case
    from optconform.reference.tensor import Tensor
    from optconform.reference.trajectory import run

    alg = get(args.algorithm)
    profile, chosen = _axis_point(alg, args.profile, args.axis or [])
    effects = precision_effects(profile, args.effects, "float64") if args.effects else {}
    overrides = {}
    for item in args.set or []:
        if "=" not in item:
            raise UserError(f"{PROG} trajectory: --set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        overrides[name.strip()] = value.strip()
    _check_supported(alg, profile, overrides)
    filled = _required_filled(alg, profile, overrides)
    digits = args.digits
    with precision(args.dps):
        h = alg.resolve(profile.name, overrides, where=f"{alg.name} [{profile.name}]")
        if alg.kind == "optimizer":
            if args.params is None or args.grads is None:
                raise UserError(f"{PROG} trajectory: {alg.name} is an optimizer: give --params and --grads")
            params = _parse_vector(args.params, "--params")
            grad_steps = [_parse_vector(s, "--grads") for s in args.grads.split(";") if s.strip()]
            if not grad_steps:
                raise UserError(f"{PROG} trajectory: --grads is empty")
            for i, g in enumerate(grad_steps, 1):
                if len(g) != len(params):
                    raise UserError(f"{PROG} trajectory: --grads step {i} has {len(g)} values, "
                                    f"--params has {len(params)}")
            steps = args.steps if args.steps is not None else len(grad_steps)
            if steps < 1:
                raise UserError(f"{PROG} trajectory: --steps must be at least 1")
            if len(grad_steps) == 1:
                grad_steps = grad_steps * steps
            elif len(grad_steps) != steps:
                raise UserError(f"{PROG} trajectory: --grads gives {len(grad_steps)} steps but --steps is {steps} "
                                "(give one gradient to repeat it)")
            case = Case(alg, profile, "trajectory", "command line", steps, (), [(("x",), h)],
                        params={"x": Tensor((len(params),), params)},
                        grads=[{"x": Tensor((len(g),), g)} for g in grad_steps])
            records = run(case, effects=effects)
            out_steps = [{"t": r.t, "params": r.params["x"].decimals(digits), "lr": to_decimal(r.lr[0], digits),
                          "state": {k: (v.decimals(digits) if isinstance(v, Tensor) else to_decimal(v, digits))
                                    for k, v in r.state["x"].items()}} for r in records]
        else:
            if args.params is not None or args.grads is not None:
                raise UserError(f"{PROG} trajectory: {alg.name} is a schedule: it takes no --params/--grads")
            steps = args.steps if args.steps is not None else alg.impl.horizon(h) + 1
            if steps < 1:
                raise UserError(f"{PROG} trajectory: --steps must be at least 1")
            metrics = alg.impl.metrics(steps) if hasattr(alg.impl, "metrics") else None
            case = Case(alg, profile, "trajectory", "command line", steps, (), [((), h)], metrics=metrics)
            records = run(case, effects=effects)
            out_steps = []
            for r in records:
                step = {"t": r.k, "lr": to_decimal(r.lr, digits)}
                for key, value in r.extra.items():
                    step[key] = _json_hyper(value, digits) if not isinstance(value, dict) else {
                        k: _json_hyper(v, digits) for k, v in value.items()}
                out_steps.append(step)
        hyper = {k: _json_hyper(v, digits) for k, v in h.items()}
    if args.json:
        doc = {"algorithm": alg.name, "profile": profile.name, "semantics": dict(profile.semantics),
               "axes": chosen, "effects": effects, "hyper": hyper, "required_filled": filled,
               "notes": _required_notes(profile, filled), "steps": out_steps}
        json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for note in _required_notes(profile, filled):
        print(f"note: {note}", file=sys.stderr)
    semantics = ", ".join(f"{k}={v}" for k, v in profile.semantics.items())
    print(f"{alg.name} [{_profile_label(alg, profile, chosen)}] {semantics}")
    if args.effects:
        print(f"  precision effects ({args.effects}, float64): "
              + (", ".join(f"{k} in {v}" for k, v in effects.items()) or "none declared for this code path"))
    print("  " + ", ".join(f"{k}={v}" for k, v in hyper.items()))
    for s in out_steps:
        if "params" in s:
            print(f"t={s['t']:<4} lr={s['lr']}  params=[{', '.join(s['params'])}]")
        else:
            extras = "".join(f"  {k}={v}" for k, v in s.items() if k not in ("t", "lr"))
            print(f"k={s['t']:<4} lr={s['lr']}{extras}")
    return 0


def _check_supported(alg, profile, overrides: dict) -> None:
    """An explicit --set of a hyperparameter the profile's framework has no argument for is a
    UserError naming the value the framework is fixed at."""
    from optconform.reference.catalog import default_of

    for name in overrides:
        if name in alg.hypers and name in profile.unsupported:
            raise UserError(f"{PROG} trajectory: {profile.framework or profile.name} {alg.name} has no {name} "
                            f"argument (profile {profile.name}: fixed at {default_of(alg, profile, name)}); "
                            f"leave out --set {name}, or use --profile spec")


def _required_filled(alg, profile, overrides: dict) -> dict:
    """{name: value} of the hyperparameters the profile's framework requires (no default there) that
    --set does not give: the spec's default is used (as JSON)."""
    from optconform.reference.catalog import default_of, required

    return {n: default_of(alg, profile, n) for n in alg.hypers if required(profile, n) and n not in overrides}


def _required_notes(profile, filled: dict) -> list:
    return [f"{n}: required by {profile.framework or profile.name} (no default there), the spec default {v} used; "
            f"give --set {n}=VALUE" for n, v in filled.items()]


def _json_hyper(v, digits):
    from optconform.reference.model import encode_hyper
    from optconform.reference.numeric import to_decimal

    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, tuple):
        return [_json_hyper(x, digits) for x in v]
    try:
        return to_decimal(v, digits)
    except (TypeError, ValueError):
        return encode_hyper(v)


# --- check ------------------------------------------------------------------------------------


def _environment() -> dict:
    import platform

    return {"python": platform.python_version(), "platform": platform.platform(), "optconform": __version__}


def cmd_check(args) -> int:
    from optconform.reference.numeric import DTYPES
    from optconform.reference.vectors import default_vector_dir

    from .harness import MODES, Selection, VectorCache, run_cases
    from .machine import describe
    from .registry import known_names
    from .workers import DEFAULT_TIMEOUT, captured_output, quiet_environment

    for m in args.mode or []:
        if m not in MODES:
            raise UserError(f"{PROG} check: unknown mode {m!r}; choose from {', '.join(MODES)}")
    for d in args.dtype or []:
        if d not in DTYPES:
            raise UserError(f"{PROG} check: unknown dtype {d!r}; choose from {', '.join(DTYPES)}")
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if not timeout >= 0:  # also NaN
        raise UserError(f"{PROG} check: --timeout must be a number of seconds >= 0 (0: no limit), got {args.timeout}")
    directory = Path(args.vectors) if args.vectors else default_vector_dir()
    vectors = VectorCache(directory)
    explicit = bool(args.adapter)
    names = list(dict.fromkeys(args.adapter or known_names()))
    selection = Selection(algorithms=tuple(args.only or ["*"]), scenarios=tuple(args.scenario or ["*"]),
                          code_paths=tuple(args.code_path or ["*"]), dtypes=tuple(args.dtype or ()),
                          devices=tuple(args.device or ()), modes=tuple(dict.fromkeys(args.mode or ["trajectory"])))
    adapters_info = {}
    instances = {}
    work = []
    environment = {}
    quiet_environment()
    with captured_output():  # a framework imported to list its devices prints nothing here
        for name in names:
            key, info, cases = _plan_adapter(name, directory, selection, vectors.manifest)
            adapters_info[key] = info
            work += cases
            if cases:
                instances[key] = cases[0][1]
            if cases and not environment and hasattr(cases[0][1], "environment"):
                try:
                    environment = dict(cases[0][1].environment())
                except Exception:  # noqa: BLE001 - the environment is informative only
                    environment = {}
    unavailable = {k: i["reason"] for k, i in adapters_info.items() if not i["available"]}
    if len(unavailable) == len(adapters_info):
        if explicit and len(names) == 1:
            (key, reason), = unavailable.items()
            raise UserError(f"{PROG} check: adapter {key} is unavailable: {reason}")
        raise UserError(f"{PROG} check: no adapter can run: "
                        + "; ".join(f"{k}: {r}" for k, r in unavailable.items()))
    if not work:
        raise UserError(f"{PROG} check: the selection matches no case (adapters: {', '.join(names)}; "
                        f"--only {' '.join(selection.algorithms)}); see '{PROG} list'")
    for rel in dict.fromkeys(case.rel for _name, _adapter, case in work):
        vectors.doc(rel)  # a missing, edited or truncated vector stops the run here: exit 2 naming it
    for key, reason in unavailable.items():
        print(f"{PROG} check: adapter {key} is unavailable ({reason}); the other adapters run", file=sys.stderr)
    jobs = _jobs(args.jobs, len(work))
    start = time.perf_counter()
    progress = _progress(len(work), quiet=args.quiet)
    with progress as bar:
        task = bar.add_task("checking", total=len(work)) if bar else None

        def advance(case, _result):
            if bar:
                bar.update(task, advance=1, description=f"{case.algorithm} {case.impl.code_path} {case.impl.dtype}")

        results = run_cases(work, directory, jobs=jobs, on_result=advance, timeout=timeout)
    elapsed = time.perf_counter() - start
    counts = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "error", "skip")}
    counts["known"] = sum(bool(r.known_finding) for r in results)
    summary = {"total": len(results), **counts, "seconds": round(elapsed, 3), "jobs": jobs, "timeout": timeout,
               "adapters": adapters_info, "environment": {**_environment(), **environment}, "vectors": str(directory),
               "vector_set": _vector_set(directory, vectors.manifest),
               "machine": describe(adapters_info, instances)}
    cases = [r.as_json() for r in results]
    html = None if args.no_html else (args.html or DEFAULT_HTML)
    _print_summary(results, summary)  # first: a report that cannot be written still leaves the results
    if args.json:
        from optconform.reference.vectors import atomic_write

        _write_report(args.json, lambda: atomic_write(
            Path(args.json), (json.dumps({"cases": cases, "summary": summary}, indent=1) + "\n").encode()))
    if args.junit:
        from .report_junit import write_junit

        _write_report(args.junit, lambda: write_junit(args.junit, cases, summary))
    if html:
        from .report_html import write_html

        if not _write_report(html, lambda: write_html(html, cases, summary), required=bool(args.html)):
            html = None
    if html:
        print(f"HTML report: {html}")
    # a failure the profile declares as a finding is reported, not hidden, but it is the framework
    # matching its declared profile (DESIGN.md: exit 0); any other fail or error exits 1
    return 1 if counts["fail"] + counts["error"] > counts["known"] else 0


# the HTML report of ``check`` when --html does not name one: in the current directory (where a
# user runs the command and where CI collects artifacts), in a folder named after the tool (no
# clash with a project's own reports/, one .gitignore line, one artifact path), under a fixed name
# (a rerun replaces it rather than piling up files)
DEFAULT_HTML = os.path.join("optconform-report", "report.html")


def _write_report(path: str, write, required: bool = True) -> bool:
    """Run ``write`` (an atomic writer of ``path``); an OSError is one line: exit 2 for a report the
    user named (``required``), a warning on stderr for the default HTML report. True when written."""
    try:
        write()
        return True
    except OSError as exc:
        message = f"{PROG} check: cannot write {path}: {exc.strerror or exc}"
        if required:
            raise UserError(message) from None
        print(f"{message} (--html FILE writes the report elsewhere)", file=sys.stderr)
        return False


def _vector_set(directory: Path, manifest: dict) -> dict:
    """Which vectors the report was checked against: the SHA-256 of the manifest (which lists every
    vector's SHA-256, so equal digests mean identical vector sets), its generator and format and the
    number of vectors. ``report merge`` refuses reports of different vector sets."""
    import hashlib

    from optconform.reference.vectors import MANIFEST

    try:
        digest = hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        digest = None
    return {"manifest_sha256": digest, "generator": manifest.get("generator"), "format": manifest.get("format"),
            "files": len(manifest.get("files", {}))}


def _plan_adapter(name: str, directory: Path, selection, manifest: dict) -> tuple:
    """(summary key, ``summary.adapters`` entry, [(name, adapter, Case)]) for one requested
    adapter. One that cannot be imported, whose ``available()`` says no or raises, or whose
    declarations raise is unavailable (with the reason), and has no cases."""
    from .harness import plan
    from .registry import Unavailable, availability, load

    try:
        adapter = load(name)
    except Unavailable as exc:
        return name, {"framework": None, "available": False, "reason": exc.reason, "version": None}, []
    key = str(getattr(adapter, "name", name))
    info = {"framework": getattr(adapter, "framework", key), "available": False, "reason": "", "version": None}
    ok, reason = availability(adapter)
    if not ok:
        return key, dict(info, reason=reason or "available() says no"), []
    try:
        version = str(adapter.version())
    except Exception as exc:  # noqa: BLE001 - the version query imports the framework
        return key, dict(info, reason=f"version() raised {type(exc).__name__}: {exc}"), []
    try:
        cases = plan(adapter, directory, selection, manifest)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - a faulty declaration costs this adapter, not the run
        return key, dict(info, reason=f"listing its cases failed: {type(exc).__name__}: {exc}"), []
    return key, dict(info, available=True, version=version), [(name, adapter, c) for c in cases]


def _jobs(requested: int | None, cases: int) -> int:
    """Worker processes for ``check``: as asked, else one per CPU (one for small selections,
    where starting workers costs more than it saves)."""
    if requested is not None:
        if requested < 1:
            raise UserError(f"{PROG} check: --jobs must be at least 1, got {requested}")
        return requested
    return 1 if cases < 64 else max(1, min(os.cpu_count() or 1, 8))


class _NoProgress:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _progress(total, quiet):
    if quiet or not sys.stderr.isatty():
        return _NoProgress()
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return _NoProgress()
    return Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


def _print_summary(results, summary) -> None:
    rows: dict = {}
    for r in results:
        key = (r.adapter, r.algorithm)
        rows.setdefault(key, {"pass": 0, "fail": 0, "error": 0, "skip": 0})[r.verdict] += 1
    width = max((len(f"{a} {g}") for a, g in rows), default=10)
    print(f"{'adapter algorithm':<{width}}  {'pass':>6} {'fail':>6} {'error':>6} {'skip':>6}")
    for (adapter, algorithm), c in sorted(rows.items()):
        print(f"{adapter + ' ' + algorithm:<{width}}  {c['pass']:>6} {c['fail']:>6} {c['error']:>6} {c['skip']:>6}")
    bad = [r for r in results if r.verdict in ("fail", "error") and not r.known_finding]
    from .diagnosis import line

    for r in bad[:20]:
        print(f"{r.verdict.upper()} {r.id}: {r.message}")
        if r.diagnosis:
            print(f"  diagnosis: {line(r.diagnosis)}")
    if len(bad) > 20:
        print(f"... and {len(bad) - 20} more (see --json / --html)")
    known = [r for r in results if r.known_finding]
    for r in known[:10]:
        print(f"KNOWN {r.verdict.upper()} {r.id}: {r.message.splitlines()[0] if r.message else ''} "
              f"[declared finding: {r.known_finding[:160]}{'…' if len(r.known_finding) > 160 else ''}]")
        if r.diagnosis:
            print(f"  diagnosis: {line(r.diagnosis)}")
    if len(known) > 10:
        print(f"... and {len(known) - 10} more known findings (see --json / --html)")
    extra = f" ({summary['known']} of them declared findings)" if summary.get("known") else ""
    print(f"{summary['total']} cases: {summary['pass']} passed, {summary['fail']} failed, {summary['error']} errors"
          f"{extra}, {summary['skip']} skipped in {summary['seconds']:.1f} s")


# --- audit ---------------------------------------------------------------------------------------


def cmd_audit(args) -> int:
    from optconform.reference.vectors import atomic_write, default_vector_dir

    from .audit import audit_work, configure, parse_assignments
    from .audit_card import card, counts_for, exit_status, print_card
    from .harness import VectorCache, run_cases
    from .workers import DEFAULT_TIMEOUT, captured_output, quiet_environment

    options = parse_assignments(args.option, "--option", literal=True)
    names = parse_assignments(args.name, "--name", literal=False)
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    directory = Path(args.vectors) if args.vectors else default_vector_dir()
    vectors = VectorCache(directory)
    quiet_environment()
    with captured_output():
        config = configure(args.target, args.algorithm, args.framework, options, names, args.profile)
        work, coverage = audit_work([config], directory, vectors.manifest)
    start = time.perf_counter()
    with _progress(len(work), quiet=args.quiet) as bar:
        task = bar.add_task("auditing", total=len(work)) if bar else None

        def advance(case, _result):
            if bar:
                bar.update(task, advance=1, description=f"{case.scenario} {case.impl.code_path} {case.impl.dtype}")

        results = run_cases(work, directory, jobs=_jobs(args.jobs, len(work)), on_result=advance, timeout=timeout)
    docs = {rel: vectors.doc(rel)[0] for rel in {r.vector for r in results}}
    report = card(config, results, docs, coverage)
    print_card(report, sys.stdout)
    counts = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "error", "skip")}
    elapsed = time.perf_counter() - start
    print(f"{len(results)} cases: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors, "
          f"{counts['skip']} skipped or not applicable in {elapsed:.1f} s")
    summary = {"total": len(results), **counts, "seconds": round(elapsed, 3), "audit": report,
               "environment": {**_environment(), **_target_versions(config)}, "vectors": str(directory),
               "vector_set": _vector_set(directory, vectors.manifest)}
    # each case says which profiles its verdict counts for (audit_card.counts_for)
    out_cases = [dict(r.as_json(), counts_for=counts_for(config, r, docs, coverage)) for r in results]
    if args.json:
        _write_report(args.json, lambda: atomic_write(
            Path(args.json), (json.dumps({"cases": out_cases, "summary": summary, "audit": report}, indent=1)
                              + "\n").encode()))
    if args.html:
        from .report_html import write_html

        _write_report(args.html, lambda: write_html(args.html, out_cases, summary))
        print(f"HTML report: {args.html}")
    return exit_status(report)


def _target_versions(config) -> dict:
    """The versions of the framework and of the distribution the target comes from (reports name them)."""
    from importlib import metadata

    out = {}
    module = config.target.rpartition(":")[0]
    names = [config.framework, "keras" if config.framework == "keras" else None]
    if not module.endswith(".py") and "/" not in module:
        names += metadata.packages_distributions().get(module.split(".")[0], [])
    for name in dict.fromkeys(n for n in names if n):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"versions": out}


# --- divergences --------------------------------------------------------------------------------


def cmd_divergences(args) -> int:
    from .divergences_cli import cmd_divergences as run

    return run(args)


# --- report merge -------------------------------------------------------------------------------


def cmd_report_merge(args) -> int:
    from .report_merge import merge, read, summary_lines, write_html, write_json, write_junit

    start = time.perf_counter()
    doc = merge(read(args.reports))
    written = []
    for path, writer in ((args.json, write_json), (args.junit, write_junit), (args.html, write_html)):
        if path:
            try:
                writer(path, doc)
            except OSError as exc:
                raise UserError(f"{PROG} report merge: cannot write {path}: {exc.strerror or exc}") from None
            written.append(path)
    for line in summary_lines(doc):
        print(line)
    print(f"merged in {time.perf_counter() - start:.1f} s" + (f"; written: {', '.join(written)}" if written else ""))
    return doc["summary"]["status"]


# --- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Exact reference, golden vectors and conformance checks for optimizers and schedules.",
        epilog=_fmt("""
            examples:
              optconform list
              optconform trajectory adam --params 1 --grads 0.5 --steps 1
              optconform generate --check
              optconform check                    # every installed adapter; writes optconform-report/report.html
              optconform report merge cpu.json gpu.json --html merged.html
            """),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="list algorithms, their profiles and vectors",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="List every algorithm with its profiles, hyperparameters, axes and vector count.",
                       epilog=_fmt("""
                           examples:
                             optconform list
                             optconform list --json | python -m json.tool
                           """))
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--vectors", metavar="DIR", help="count the vectors in DIR instead of the shipped ones")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("generate", help="regenerate the golden vectors (or --check them)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_fmt("""
                           Regenerate golden vectors from the exact reference, deterministically, and
                           update the manifest of SHA-256 checksums. With --check, regenerate into a
                           temporary folder and verify that the vectors and manifest are byte-identical,
                           naming every file that differs (exit status 1).
                           """),
                       epilog=_fmt("""
                           examples:
                             optconform generate                 # every algorithm, all cores
                             optconform generate adam sgd --jobs 2
                             optconform generate --check         # CI: committed == reference
                             optconform generate --vectors /tmp/scratch
                           """))
    p.add_argument("algorithms", nargs="*", metavar="ALGORITHM", help="only these algorithms (default: all)")
    p.add_argument("--check", action="store_true", help="verify instead of writing")
    p.add_argument("--jobs", type=int, metavar="N", help="parallel worker processes (default: CPU count)")
    p.add_argument("--vectors", metavar="DIR", help="vector folder (default: the shipped vectors)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("trajectory", help="exact trajectory of any algorithm, profile and hyperparameters",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_fmt("""
                           The exact calculator: run ALGORITHM under a profile's semantics and defaults,
                           with hyperparameters set by canonical name, on one parameter vector.
                           --axis NAME=VALUE runs any point of the algorithm's semantic axes (starting
                           from the spec profile; 'optconform list --json' lists the axes), also one
                           no framework profile takes. --effects CODE_PATH adds the profile's declared
                           precision effects for that code path (float64 parameters): what the
                           framework computes rather than the exact equations.
                           --grads gives one gradient per step (values separated by ',', steps by ';');
                           a single gradient with --steps N is repeated N times. Schedules take only
                           --steps and print the learning rate of updates k = 0 .. N-1.
                           """),
                       epilog=_fmt("""
                           examples:
                             optconform trajectory adam --params 1 --grads 0.5 --set lr=0.1
                             optconform trajectory adam --profile keras --params 1,2 --grads '0.5,1;0.25,-1'
                             optconform trajectory adam --axis bias_correction=off --params 1 --grads 0.5 --set lr=0.1
                             optconform trajectory radam --profile torch --effects forloop --set beta2=0.8397685748659791 \\
                                 --set lr=0.1 --params 1 --grads 0.5 --steps 6
                             optconform trajectory sgd --set momentum=0.9 --params 1 --grads 1 --steps 5 --json
                             optconform trajectory warmup_cosine --set total_steps=10 --set warmup_steps=2
                           """))
    p.add_argument("algorithm", metavar="ALGORITHM")
    p.add_argument("--profile", default=None, metavar="P", help="profile (default: spec)")
    p.add_argument("--axis", action="append", metavar="NAME=VALUE",
                   help="semantic axis value (repeatable; must agree with an explicit --profile)")
    p.add_argument("--effects", metavar="CODE_PATH",
                   help="apply the profile's declared precision effects for this code path")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="hyperparameter (canonical name)")
    p.add_argument("--params", metavar="V[,V...]", help="initial parameters")
    p.add_argument("--grads", metavar="V[,V...][;...]", help="gradients, one step per ';'")
    p.add_argument("--steps", type=int, metavar="N", help="number of steps")
    p.add_argument("--json", action="store_true", help="JSON on stdout")
    p.add_argument("--digits", type=int, default=40, metavar="D", help="significant digits (default 40)")
    p.add_argument("--dps", type=int, default=None, metavar="D", help="working precision in digits")
    p.set_defaults(func=cmd_trajectory)

    p = sub.add_parser("check", help="check implementations against the vectors",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_fmt("""
                           Run every selected adapter (default: every installed one) over the golden
                           vectors of the profiles it declares, and check each case — vector x code
                           path x device x dtype — under spec/tolerance.md. Prints a summary and writes
                           the HTML report, with the divergence context of every failing case (default
                           optconform-report/report.html, named on the last line printed). Exit status: 0
                           everything conforms (or matches its declared profile, declared findings
                           included), 1 a case failed or raised, 2 the command could not run.
                           """),
                       epilog=_fmt("""
                           examples:
                             optconform check                              # every installed adapter, HTML report
                             optconform check --adapter torch --only 'adam*' --dtype float32
                             optconform check --adapter torch --code-path fused --junit report.xml
                             optconform check --adapter my_pkg.conformance:MyAdapter --html report.html
                             optconform check --json results.json --scenario tiny_grad
                             optconform check --adapter torch --mode one-step --only adam --dtype float64
                           """))
    p.add_argument("--adapter", action="append", metavar="NAME", help="adapter name or module:attr (repeatable)")
    p.add_argument("--only", action="append", metavar="GLOB", help="algorithms matching GLOB (repeatable)")
    p.add_argument("--scenario", action="append", metavar="GLOB", help="scenarios matching GLOB (repeatable)")
    p.add_argument("--code-path", action="append", metavar="GLOB", help="code paths matching GLOB (repeatable)")
    p.add_argument("--dtype", action="append", metavar="D", help="float64, float32, bfloat16 or float16 (repeatable)")
    p.add_argument("--device", action="append", metavar="D", help="cpu or cuda (repeatable)")
    p.add_argument("--mode", action="append", metavar="M",
                   help="trajectory (default) or one-step: each step from the exact state of the step before, "
                        "injected into the optimizer (repeatable)")
    p.add_argument("--json", metavar="FILE", help="write {cases, summary} as JSON (summary.machine says where it "
                                                  "ran: 'optconform report merge' combines several machines' reports)")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    html = p.add_mutually_exclusive_group()
    html.add_argument("--html", metavar="FILE", help=f"write the self-contained HTML report to FILE (default: "
                                                     f"{DEFAULT_HTML} in the current directory)")
    html.add_argument("--no-html", action="store_true", help="write no HTML report")
    p.add_argument("--vectors", metavar="DIR", help="vector folder (default: the shipped vectors)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes (default: one per CPU, one for fewer than 64 cases); every case runs "
                        "in a worker, so a case that crashes it costs that case alone")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="per-case time limit (default 300: a torch.compile case takes about 1 s and a case's "
                        "first framework import a few, so this is generous on a slow or loaded CI machine, yet "
                        "a hung case stops within minutes); a case over it is an error, 'timed out after N s'; "
                        "0: no limit")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("audit", help="audit any optimizer or schedule implementation against every vector",
                       description="Run every vector of ALGORITHM through TARGET (module:Name or "
                                   "path/to/file.py:Name, importable from the current directory): float64 and "
                                   "float32, each code path it offers, each failing case diagnosed; then a "
                                   "report card. Exit 0 if it conforms to the spec or a declared framework "
                                   "profile, 1 if it diverges, 2 if it cannot run.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TARGET", help="module:Name or path/to/file.py:Name")
    p.add_argument("--algorithm", required=True, metavar="ALGORITHM", help="the algorithm the target implements")
    p.add_argument("--framework", metavar="FRAMEWORK", help="torch, optax or keras (default: read from the target)")
    p.add_argument("--option", action="append", metavar="NAME=VALUE",
                   help="a fixed constructor keyword, a Python literal (repeatable)")
    p.add_argument("--name", action="append", metavar="CANONICAL=KEYWORD",
                   help="map a canonical hyperparameter to the target's keyword (repeatable; betas[0] for a "
                        "tuple member)")
    p.add_argument("--profile", action="append", metavar="P",
                   help="only the vectors of profile P (repeatable; default: every profile of the algorithm)")
    p.add_argument("--json", metavar="FILE", help="write {cases, summary, audit} as JSON")
    p.add_argument("--html", metavar="FILE", help="write the HTML report")
    p.add_argument("--vectors", metavar="DIR", help="vector folder (default: the shipped vectors)")
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: CPU count)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit per case (default 300)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("divergences", help="how the frameworks differ, measured; and the porting guide",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_fmt("""
                           The divergence catalog: for every algorithm (or those named), what each
                           framework's declared profile chooses on every semantic axis, the hyperparameter
                           names and defaults that differ, the measured size of each difference (the exact
                           reference, relative parameter difference after 1, 10 and 100 steps) and the
                           profiles that compute the same thing. With --from and --to, the porting guide for
                           one algorithm: the constructor call on each side and, for each difference,
                           whether a setting on the target reproduces the source. FRAMEWORK is a profile
                           name of the algorithm or a framework (torch, optax, keras, tf_keras; aliases
                           pytorch, jax, tensorflow). Measurements are cached in the user cache folder
                           ($OPTCONFORM_CACHE, else $XDG_CACHE_HOME/optconform or ~/.cache/optconform).
                           """),
                       epilog=_fmt("""
                           examples:
                             optconform divergences adam
                             optconform divergences --json catalog.json
                             optconform divergences adam --from torch --to keras
                             optconform divergences cosine --from torch --to optax --json -
                             optconform divergences adamw --from torch --to optax --confirm
                           """))
    p.add_argument("algorithms", nargs="*", metavar="ALGORITHM", help="only these algorithms (default: all)")
    p.add_argument("--from", dest="source", metavar="FRAMEWORK", help="porting guide: the framework ported from")
    p.add_argument("--to", dest="target", metavar="FRAMEWORK", help="porting guide: the framework ported to")
    p.add_argument("--json", metavar="FILE", help="write the catalog (or the guide) as JSON ('-': standard output)")
    p.add_argument("--vectors", metavar="DIR", help="list the vectors of DIR that separate each axis "
                                                    "(default: the shipped vectors)")
    p.add_argument("--confirm", action="store_true",
                   help="porting guide: run each statement that a target setting reproduces the source (and the "
                        "'nothing changed' difference) on the installed frameworks too, float64 on their default "
                        "code paths, and report the measured difference beside the reference's prediction")
    p.add_argument("--no-cache", action="store_true", help="compute everything again, write no cache")
    p.set_defaults(func=cmd_divergences)

    p = sub.add_parser("report", help="combine reports: 'report merge' puts several machines' check --json side by side",
                       description="Work on the JSON reports of 'optconform check --json'.")
    reports = p.add_subparsers(dest="report_command", metavar="SUBCOMMAND", parser_class=_Parser, required=True)
    m = reports.add_parser("merge", help="merge several machines' check --json reports into one matrix",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           description=_fmt("""
                               Merge the JSON reports of 'optconform check --json' run on several machines
                               (CPU, GPU types, framework versions) into one matrix: rows algorithm x
                               scenario, columns adapter x code path x device x dtype, one verdict per
                               machine in each cell. A cell disagrees when the same implementation (algorithm,
                               profile, scenario, adapter, code path, device, dtype, mode) has different
                               verdicts among pass, fail and error on two machines (a skip did not run); where
                               every machine passes, the spread of max_ulp is shown as information. Machines
                               are named after their files. Reports of different vector sets are refused.
                               Exit status: 0 every case passes (or is a declared finding) and no cell
                               disagrees, 1 otherwise, 2 a file is not a report or the reports cannot be
                               compared.
                               """),
                           epilog=_fmt("""
                               examples:
                                 optconform report merge cpu.json a100.json h100.json --html merged.html
                                 optconform report merge artifacts/*/report.json --junit merged.xml --json merged.json
                               """))
    m.add_argument("reports", nargs="+", metavar="REPORT.json", help="JSON reports of 'optconform check --json'")
    m.add_argument("--json", metavar="FILE", help="write the merged matrix as JSON (every cell's verdicts and cases "
                                                  "per machine, the disagreements)")
    m.add_argument("--junit", metavar="FILE", help="write JUnit XML: one testcase per cell and machine")
    m.add_argument("--html", metavar="FILE", help="write the matrix as a self-contained HTML page")
    m.set_defaults(func=cmd_report_merge)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return args.func(args)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
