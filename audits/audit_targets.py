"""audits/targets.toml as data: the packages, the targets (what ``optconform audit`` runs for each),
their findings (a cause, the installed file and line, the text that line holds) and the outcome
of an audit. No framework is imported here."""
from __future__ import annotations

import fnmatch
import importlib.util
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "audits" / "targets.toml"
JOBS = 2
TARGET_KEYS = {"package", "id", "target", "algorithm", "framework", "options", "names", "match", "note", "findings"}
FINDING_KEYS = {"cause", "source", "code"}


class BadInput(Exception):
    """targets.toml or a command-line argument is wrong: one line for the user (exit 2)."""


@dataclass
class Target:
    package: str
    id: str
    target: str
    algorithm: str
    match: str
    note: str
    framework: str | None = None
    options: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)

    def argv(self, json_path: str | None = None, jobs: int = JOBS) -> list:
        """The arguments of ``optconform`` that audit this target."""
        out = ["audit", self.target, "--algorithm", self.algorithm]
        if self.framework:
            out += ["--framework", self.framework]
        for k, v in self.options.items():
            out += ["--option", f"{k}={v}"]
        for k, v in self.names.items():
            out += ["--name", f"{k}={v}"]
        out += ["--jobs", str(jobs)]
        if json_path:
            out += ["--json", json_path, "--quiet"]
        return out

    def command(self) -> str:
        """The command a reader runs from the repository root to reproduce the audit."""
        return shlex.join(["optconform", *self.argv()])


def load(path: Path = TARGETS) -> tuple[dict, list]:
    """(packages, targets) of targets.toml, or BadInput naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from None
    packages = data.get("packages", {})
    targets, seen = [], set()
    for i, raw in enumerate(data.get("targets", [])):
        where = f"{path.name}: targets[{i}] ({raw.get('package')}/{raw.get('id')})"
        unknown = set(raw) - TARGET_KEYS
        missing = {"package", "id", "target", "algorithm", "match", "note"} - set(raw)
        if unknown or missing:
            wrong = ([f"unknown keys {', '.join(sorted(unknown))}"] if unknown else []) + \
                    ([f"missing {', '.join(sorted(missing))}"] if missing else [])
            raise BadInput(f"{where}: {'; '.join(wrong)}")
        if raw["package"] not in packages:
            raise BadInput(f"{where}: package {raw['package']!r} has no [packages.{raw['package']}] table")
        if raw["match"] not in ("exact", "loose"):
            raise BadInput(f"{where}: match must be 'exact' or 'loose', not {raw['match']!r}")
        if (raw["package"], raw["id"]) in seen:
            raise BadInput(f"{where}: id {raw['id']!r} appears twice in package {raw['package']}")
        seen.add((raw["package"], raw["id"]))
        for j, f in enumerate(raw.get("findings", [])):
            if set(f) != FINDING_KEYS:
                raise BadInput(f"{where}: findings[{j}] needs exactly the keys cause, source, code")
        for table in ("options", "names"):
            if not all(isinstance(v, str) for v in raw.get(table, {}).values()):
                raise BadInput(f"{where}: {table} values are strings (options: Python literal source text)")
        targets.append(Target(**raw))
    return packages, targets


def select(targets: list, packages: list | None, only: list | None) -> list:
    chosen = [t for t in targets if (not packages or t.package in packages)
              and (not only or any(fnmatch.fnmatchcase(t.id, g) for g in only))]
    if not chosen:
        raise BadInput(f"no target matches --package {', '.join(packages or ['any'])} "
                       f"--only {', '.join(only or ['*'])}")
    return chosen


@dataclass
class Outcome:
    target: Target
    rc: int
    seconds: float
    report: dict | None  # the audit's --json document
    error: str = ""

    @property
    def card(self) -> dict | None:
        return self.report["audit"] if self.report else None


def site_file(source: str) -> Path | None:
    """The installed file ``pkg/sub/file.py`` names, found without importing the package."""
    top = source.split("/", 1)[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent / source


def check_finding(f: dict) -> str | None:
    """None if ``source`` (path:line) holds ``code``, else what is wrong."""
    path, _, line = f["source"].rpartition(":")
    if not line.isdigit():
        return f"{f['source']}: expected path:LINE"
    file = site_file(path)
    if file is None or not file.exists():
        return f"{f['source']}: no such installed file"
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    n = int(line)
    if not 1 <= n <= len(lines) or f["code"] not in lines[n - 1]:
        found = [i + 1 for i, text in enumerate(lines) if f["code"] in text]
        return (f"{f['source']}: the line does not contain {f['code']!r}"
                + (f" (it is on line {', '.join(map(str, found[:3]))})" if found else ""))
    return None
