"""Golden vectors: serialization, the manifest, generation and verification.

One JSON file per (algorithm, profile semantics and resolved hyperparameters, scenario), at
``<algorithm>/<lead profile>/<scenario>.json``: profiles whose semantics and hyperparameters are
identical for a scenario share one file, named after the first of them in the order
spec, torch, optax, keras, tf_keras.  ``manifest.json`` lists every file with its SHA-256.
The format is described in ``spec/vectors.md`` and ``spec/vector.schema.json``.

Writing is atomic (a temporary file, then a rename), so an interrupted run never leaves a partly
written vector.  Output is deterministic: the same reference produces byte-identical files on
every machine.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Mapping

import mpmath

from . import __version__
from .effects import BRACKETS, Effects
from .flags import exact_view
from .errors import UserError
from .model import PROFILE_ORDER, algorithms, encode_hyper, get
from .numeric import DEFAULT_DPS, FORMATS, VECTOR_DIGITS, to_decimal
from .scenarios import Case, cases
from .tensor import Tensor
from .tolerance import finite
from .trajectory import run

FORMAT = "optconform-vector/1"
MANIFEST_FORMAT = "optconform-manifest/1"
MANIFEST = "manifest.json"


def default_vector_dir() -> Path:
    """The vectors shipped with the package (``vectors/`` in a checkout)."""
    try:
        from optconform import vectors as shipped  # type: ignore

        return Path(shipped.__file__).resolve().parent
    except ImportError:  # pragma: no cover - running from a bare checkout
        return Path(__file__).resolve().parent.parent / "vectors"


# --- grouping -------------------------------------------------------------------------------------


def vector_groups(names: list[str] | None = None) -> dict[str, list[Case]]:
    """Relative path -> the cases (one per profile) that share that vector."""
    selected = [get(n) for n in names] if names else list(algorithms().values())
    out: dict[str, list[Case]] = {}
    for alg in selected:
        by_key: dict = {}
        for case in cases(alg):
            by_key.setdefault(case.key(), []).append(case)
        for group in by_key.values():
            group.sort(key=lambda c: PROFILE_ORDER.index(c.profile.name) if c.profile.name in PROFILE_ORDER else 99)
            lead = group[0]
            out[f"{alg.name}/{lead.profile.name}/{lead.scenario}.json"] = group
    return dict(sorted(out.items()))


# --- serialization -------------------------------------------------------------------------------


def _tensor_json(t: Tensor) -> dict:
    return {"shape": list(t.shape), "values": t.decimals()}


def _state_json(state: dict) -> dict:
    return {k: (v.decimals() if isinstance(v, Tensor) else to_decimal(v)) for k, v in state.items()}


def vector_document(group: list[Case], dps: int | None = None, round_hypers: Effects | Mapping | None = None,
                    base_spread: dict | None = None, effects: Effects | Mapping | None = None,
                    separations: bool = False) -> dict:
    """The vector of a group of cases (they share semantics and hyperparameters).

    ``effects`` (or its old name ``round_hypers``: the mapping {name: format} of
    model.precision_effects, or an Effects) applies declared precision effects (the checker's
    expected trajectory for a framework that holds some quantities in a narrower format);
    generated vectors never use it. With ``base_spread`` (the spread of the vector without the
    effects), the rounding spread is not measured again: a precision effect moves the expected
    values, not the rounding noise of the format around them, so that spread is kept and only the
    reruns that bracket a declared effect's own uncertainty are added (see :func:`_spreads`).

    With ``separations`` (what ``generate`` writes), the document also says which axis values it
    separates: ``flags`` and ``separates``, right after ``semantics`` (reference/flags.py).
    """
    case = group[0]
    alg = case.algorithm
    fx = Effects.build(effects if effects is not None else round_hypers, alg)
    records = run(case, dps, effects=fx)
    inputs: dict = {}
    doc = {
        "format": FORMAT,
        "generator": f"optconform {__version__}",
        "algorithm": alg.name,
        "kind": alg.kind,
        "scenario": case.scenario,
        "description": case.doc,
        "profiles": [c.profile.name for c in group],
        "semantics": case.effective_semantics(),
        "digits": VECTOR_DIGITS,
        "dtypes": list(case.dtypes),
        "inputs": inputs,
        "spread": {},
        "steps": [],
    }
    inputs["groups"] = [{"params": list(names), "hyper": {k: encode_hyper(v) for k, v in h.items()}}
                        for names, h in case.groups]
    view = exact_view(case, records)
    doc["dtypes"] = _dtypes_in_range(case, view)
    doc["spread"] = _spreads(case, view, fx, doc["dtypes"], base_spread)
    if alg.kind == "optimizer":
        inputs["params"] = {n: _tensor_json(t) for n, t in case.params.items()}
        if case.grads is not None:
            inputs["grads"] = [{n: g.decimals() for n, g in step.items()} for step in case.grads]
        if case.objective is not None:
            inputs["objective"] = {k: encode_hyper(v) for k, v in case.objective.items()}
        if case.schedule is not None:
            inputs["schedule"] = {"algorithm": case.schedule["algorithm"], "profile": case.schedule["profile"],
                                  "hyper": {k: encode_hyper(v) for k, v in case.schedule["hyper"].items()}}
        if case.checkpoint_at is not None:
            inputs["checkpoint_at"] = case.checkpoint_at
    else:
        inputs["steps"] = case.steps
        if case.metrics is not None:
            inputs["metrics"] = [to_decimal(m) for m in case.metrics]
    doc["steps"] = steps_json(alg.kind, records)
    if separations:
        from .flags import flags, separations as separated

        ruled_out = separated(case, records, doc["spread"].get("float64"), view)
        ordered = {}
        for key, value in doc.items():
            ordered[key] = value
            if key == "semantics":
                ordered["flags"] = flags(ruled_out)
                ordered["separates"] = ruled_out
        doc = ordered
    return doc


def steps_json(kind: str, records: list) -> list:
    """A trajectory (trajectory.run's records) as a vector's ``steps``: decimal strings."""
    out = []
    for r in records:
        if kind == "optimizer":
            step = {"t": r.t, "lr": [to_decimal(x) for x in r.lr],
                    "params": {n: p.decimals() for n, p in r.params.items()},
                    "state": {n: _state_json(s) for n, s in r.state.items()}}
            if r.grads is not None:
                step["grads"] = {n: g.decimals() for n, g in r.grads.items()}
        else:
            step = {"k": r.k, "lr": to_decimal(r.lr)}
            for key, value in r.extra.items():
                step[key] = _state_json(value) if isinstance(value, dict) else (
                    value if isinstance(value, (int, bool, str)) else to_decimal(value))
        out.append(step)
    return out


def _dtypes_in_range(case: Case, view: tuple) -> list:
    """The scenario's dtypes whose range holds every finite value of the exact trajectory (``view``,
    flags.exact_view): a state that grows past 65504 cannot be checked in float16 (it overflows by
    definition)."""
    largest = max((abs(x) for row in view[0] for x in row if finite(x)), default=0)
    return [d for d in case.dtypes if largest <= FORMATS[d].largest]


def _holds_every_hyper(case: Case, effects: Effects, rounded: Effects) -> bool:
    """Whether rounding the real hyperparameters to a dtype leaves every value the run computes
    with as it is (a probe such as 0.0625 is representable): then the emulations with rounded
    hyperparameters repeat those without. A scheduled case's η_t = η·s_t is not checked (it is
    computed at the emulation's precision), so it never counts as held."""
    return case.schedule is None and all(effects.round_hypers(h) == rounded.round_hypers(h) for _, h in case.groups)


def _spreads(case: Case, view: tuple, effects: Effects, dtypes, base: dict | None = None) -> dict:
    """The rounding spread S_t of every dtype the scenario runs in (spec/tolerance.md), in ulps,
    to 3 significant digits. Emulations: every operation at the dtype's significand width (as
    written, and with the real hyperparameters rounded to the dtype), and exact arithmetic with
    parameters and state stored in the dtype after every step (as written, and rounded
    hyperparameters), and for closed-loop scenarios storage rounded toward +∞ and toward −∞.
    An emulation that breaks down (a bias correction 1 − β₂ᵗ that rounds to 0
    at 8 bits) is left out: frameworks compute such scalars in double."""
    from .replay import real_hypers
    from .tolerance import flatten, rounding_spread

    kind = case.algorithm.kind
    exact, step_scales = view
    nudged = []
    if effects.bracketed:
        # a declared scalar format whose framework operations are faithful but not always
        # correctly rounded (torch's float32 pow and sqrt): reruns with those results one ulp
        # up and down bracket them (reference/common.py, spec/tolerance.md)
        for nudge in BRACKETS:
            emul = run(case, effects=effects.nudged(nudge), arithmetic="mpfr")
            nudged.append([flatten(r, kind) for r in emul])
    out = {}
    if base is not None:
        for dtype in dtypes:
            kept = base.get(dtype) or [0.0] * len(exact)
            extra = rounding_spread(exact, nudged, step_scales, dtype) if nudged else [0.0] * len(exact)
            out[dtype] = [max(k, float(f"{x:.3g}")) for k, x in zip(kept, extra)]
        return out
    for dtype in dtypes:
        runs = list(nudged)
        for rounded in (False, True):
            rounding = effects.with_hypers({n: dtype for n in real_hypers(case)}) if rounded else effects
            if rounded and _holds_every_hyper(case, effects, rounding):
                continue  # the same runs again: every hyperparameter is representable in the dtype
            modes = [{"bits": FORMATS[dtype].precision}]
            if kind == "optimizer":
                modes.append({"store": dtype})
                if case.objective is not None and not rounded:
                    # closed loop: the gradient's cancellation near a minimum turns a parameter's
                    # storage error into a large relative error of the gradient and the moments;
                    # directed storage rounding gives the extremes of a one-ulp storage error
                    modes += [{"store": dtype, "store_rounding": r} for r in ("c", "f")]
            for mode in modes:
                try:
                    emul = run(case, effects=rounding, arithmetic="mpfr", **mode)
                except (ZeroDivisionError, ValueError, OverflowError, UserError):
                    continue
                runs.append([flatten(r, kind) for r in emul])
        out[dtype] = [float(f"{s:.3g}") for s in rounding_spread(exact, runs, step_scales, dtype)]
    return out


def dumps(doc: dict) -> str:
    """Deterministic JSON: one top-level key per line, one step (or gradient) per line."""
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "spread":
            body = ",\n  ".join(f'{json.dumps(d)}: {json.dumps(v, separators=(",", ":"))}' for d, v in value.items())
            lines.append(f' "{key}": {{\n  {body}\n }}{comma}' if value else f' "{key}": {{}}{comma}')
        elif key in ("steps",) or (key == "inputs" and isinstance(value, dict)):
            if key == "steps":
                body = ",\n  ".join(json.dumps(s, separators=(",", ":"), ensure_ascii=False) for s in value)
                lines.append(f' "{key}": [\n  {body}\n ]{comma}' if value else f' "{key}": []{comma}')
            else:
                parts = []
                for ik, iv in value.items():
                    if ik == "grads":
                        body = ",\n   ".join(json.dumps(s, separators=(",", ":")) for s in iv)
                        parts.append(f'  "grads": [\n   {body}\n  ]')
                    else:
                        parts.append(f'  {json.dumps(ik)}: {json.dumps(iv, separators=(",", ":"))}')
                lines.append(f' "{key}": {{\n' + ",\n".join(parts) + f"\n }}{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, separators=(', ', ': '), ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a report or vector is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- generation ---------------------------------------------------------------------------------


# vectors per unit of parallel work: an algorithm's vectors are split into shards of about this many,
# so one expensive algorithm (Muon's Newton–Schulz, 98 vectors) does not hold one worker to the end
SHARD = 12


def _render_algorithm(job: tuple) -> dict[str, tuple]:
    """Every vector of one shard of one algorithm (its ``shard``-th of ``shards`` interleaved parts),
    as path -> (bytes, profiles); its cases are built once per shard."""
    name, dps, shard, shards = job
    groups = sorted(vector_groups([name]).items())[shard::shards]
    return {rel: (dumps(vector_document(group, dps, separations=True)).encode("utf-8"), [c.profile.name for c in group])
            for rel, group in groups}


def render_all(names: list[str] | None, jobs: int = 1, dps: int | None = None) -> dict[str, tuple]:
    """Render every vector of the selected algorithms: relative path -> (bytes, profiles).

    The unit of parallel work is a shard of about :data:`SHARD` vectors of one algorithm; the most
    expensive algorithms go first (optimizers with the most profiles), so the workers stay busy
    until the end.
    """
    selected = [get(n) for n in names] if names else list(algorithms().values())
    selected.sort(key=lambda a: (a.kind != "optimizer", -len(a.profiles), a.name))
    work = []
    for a in selected:
        shards = max(1, -(-len(vector_groups([a.name])) // SHARD)) if jobs > 1 else 1
        work += [(a.name, dps, k, shards) for k in range(shards)]
    out: dict[str, tuple] = {}
    if jobs <= 1 or len(work) == 1:
        for job in work:
            out.update(_render_algorithm(job))
    else:
        # spawn, not fork: the caller may have imported a multithreaded framework (JAX warns that
        # forking it can deadlock), and spawned workers only import the reference
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for part in pool.map(_render_algorithm, work):
                out.update(part)
    return dict(sorted(out.items()))


def manifest_document(files: dict[str, bytes], groups_profiles: dict[str, list[str]]) -> dict:
    from .flags import flag_definitions

    return {
        "format": MANIFEST_FORMAT,
        "generator": f"optconform {__version__}",
        "reference_dps": DEFAULT_DPS,
        "digits": VECTOR_DIGITS,
        "flags": flag_definitions(),
        "files": {rel: {"sha256": sha256_bytes(data), "bytes": len(data), "profiles": groups_profiles[rel]}
                  for rel, data in sorted(files.items())},
    }


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.exists():
        raise UserError(f"{path}: manifest is missing; run 'optconform generate' to create the vectors")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: manifest is not valid JSON ({exc}); regenerate with 'optconform generate'") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("files"), dict):
        raise UserError(f"{path}: not an optconform manifest (expected format {MANIFEST_FORMAT!r})")
    return doc


def generate(directory: Path, names: list[str] | None = None, jobs: int = 1, dps: int | None = None) -> dict:
    """Regenerate vectors into ``directory`` and update its manifest.

    With ``names``, only those algorithms' files are rewritten (their stale files removed); the
    manifest keeps every other entry.  Returns a summary: counts and paths written and removed.
    """
    directory = Path(directory)
    both = render_all(names, jobs, dps)
    rendered = {rel: data for rel, (data, _) in both.items()}
    profiles = {rel: profs for rel, (_, profs) in both.items()}
    selected = {get(n).name for n in names} if names else None
    entries: dict = {}
    if selected is not None and (directory / MANIFEST).exists():
        old = read_manifest(directory)
        entries = {rel: e for rel, e in old["files"].items() if rel.split("/", 1)[0] not in selected}
    removed = []
    for path in sorted(directory.glob("*/*/*.json")) if directory.exists() else []:
        rel = path.relative_to(directory).as_posix()
        alg = rel.split("/", 1)[0]
        if rel not in rendered and (selected is None or alg in selected):
            path.unlink()
            removed.append(rel)
    written = 0
    for rel, data in rendered.items():
        target = directory / rel
        if not target.exists() or target.read_bytes() != data:
            atomic_write(target, data)
            written += 1
    for sub in sorted(directory.glob("*/*"), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    for sub in sorted(directory.glob("*")):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    manifest = manifest_document(rendered, profiles)
    manifest["files"].update(entries)
    manifest["files"] = dict(sorted(manifest["files"].items()))
    atomic_write(directory / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode())
    return {"vectors": len(rendered), "written": written, "removed": removed,
            "bytes": sum(len(d) for d in rendered.values())}


def check(directory: Path, names: list[str] | None = None, jobs: int = 1) -> list[str]:
    """Regenerate into a temporary folder and compare with ``directory`` byte for byte.

    Returns one line per difference (file differs, missing, extra, manifest differs); empty when
    the committed vectors and manifest are exactly what the reference produces.
    """
    directory = Path(directory)
    problems = []
    with tempfile.TemporaryDirectory(prefix="optconform-check-") as tmp:
        fresh = Path(tmp)
        if names and (directory / MANIFEST).exists():
            shutil.copy(directory / MANIFEST, fresh / MANIFEST)
            for rel in read_manifest(directory)["files"]:
                if rel.split("/", 1)[0] not in {get(n).name for n in names} and (directory / rel).exists():
                    (fresh / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(directory / rel, fresh / rel)
        generate(fresh, names, jobs)
        selected = {get(n).name for n in names} if names else None
        want = {p.relative_to(fresh).as_posix() for p in fresh.glob("*/*/*.json")}
        have = {p.relative_to(directory).as_posix() for p in directory.glob("*/*/*.json")} if directory.exists() else set()
        for rel in sorted(want | have):
            if selected is not None and rel.split("/", 1)[0] not in selected:
                continue
            if rel not in have:
                problems.append(f"missing: {rel}")
            elif rel not in want:
                problems.append(f"extra (not produced by the reference): {rel}")
            elif (fresh / rel).read_bytes() != (directory / rel).read_bytes():
                problems.append(f"differs: {rel}")
        mine = directory / MANIFEST
        if not mine.exists():
            problems.append(f"missing: {MANIFEST}")
        elif mine.read_bytes() != (fresh / MANIFEST).read_bytes():
            problems.append(f"differs: {MANIFEST}")
    return problems


# --- loading ------------------------------------------------------------------------------------


def load_vector(directory: Path, rel: str, manifest: dict | None = None) -> dict:
    """Read one vector, verifying its checksum against the manifest; UserError names any problem."""
    directory = Path(directory)
    manifest = manifest or read_manifest(directory)
    path = directory / rel
    entry = manifest["files"].get(rel)
    if entry is None:
        raise UserError(f"{path}: not listed in {directory / MANIFEST}; regenerate with 'optconform generate'")
    if not path.exists():
        raise UserError(f"{path}: vector file is missing (listed in the manifest); "
                        "restore it or run 'optconform generate'")
    data = path.read_bytes()
    if sha256_bytes(data) != entry["sha256"]:
        raise UserError(f"{path}: SHA-256 does not match the manifest (file edited or truncated); "
                        "restore it or run 'optconform generate'")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if doc.get("format") != FORMAT:
        raise UserError(f"{path}: not an optconform vector (expected format {FORMAT!r})")
    return doc


def verify(directory: Path) -> list[str]:
    """Check every manifest entry's checksum and every file's presence; returns problems."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = []
    for rel in manifest["files"]:
        try:
            load_vector(directory, rel, manifest)
        except UserError as exc:
            problems.append(str(exc))
    listed = set(manifest["files"])
    for path in sorted(directory.glob("*/*/*.json")):
        rel = path.relative_to(directory).as_posix()
        if rel not in listed:
            problems.append(f"{path}: not listed in the manifest")
    return problems
