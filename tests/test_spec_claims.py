"""Every checkable claim of the spec runs: the pages' ``console`` blocks are executed and their
output compared with what the page shows.

A page backs a number, an equivalence or a framework fact with a fenced block::

    ```console
    $ optconform trajectory adam --params 1 --grads 0.5 --set lr=0.1 --digits 12
    t=1    lr=0.1  params=[0.900000002]
    ```

Each ``$ `` line is a command; the lines after it, up to the next command, are what the page
claims it prints. Every shown line must equal a line of the real output (stdout and stderr
together, surrounding whitespace ignored), in the order shown; output the page leaves out is not
claimed, and ``...`` inside a shown line stands for any text. A last shown line ``[exit N]`` claims
the exit status (0 otherwise). Commands:

* ``optconform ...`` runs in this process (``optconform.adapters.cli.main``): the calculator,
  ``trajectory``, and any other subcommand, from a scratch directory, so that what it writes there
  (``check``'s HTML report) stays out of the checkout;
* ``python ...`` runs in a subprocess from the repository root with this interpreter (a script
  under ``benchmarks/`` that runs a framework, or ``python -c`` for plain arithmetic).

A command that several blocks show (on one page or several: one ``optconform check`` or benchmark
run backs the claims of many pages) is one test, named after its first claim: it runs once and
every block is compared with that one output, whichever pytest-xdist worker gets it.

A block whose info string says ``needs=torch,optax`` runs only where those frameworks are
installed (CI installs all of them); that absence is the only reason a claim is skipped.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from optconform.adapters.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
FENCE = re.compile(r"^```console(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)
EXIT = re.compile(r"^\[exit (\d+)\]$")
MODULES = {"torch": "torch", "optax": "optax", "jax": "jax", "keras": "keras", "tensorflow": "tensorflow",
           "tf_keras": "tf_keras"}


@dataclass(frozen=True)
class Claim:
    page: str  # relative to spec/
    line: int  # of the command in the page
    command: str
    shown: tuple  # the output lines the page shows
    status: int
    needs: tuple

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def claims_of(path: Path) -> list[Claim]:
    """The claims of one page, in order."""
    text = path.read_text(encoding="utf-8")
    out = []
    for block in FENCE.finditer(text):
        info = dict(word.split("=", 1) for word in block["info"].split() if "=" in word)
        needs = tuple(n for n in info.get("needs", "").split(",") if n)
        unknown = [n for n in needs if n not in MODULES]
        if unknown:
            raise ValueError(f"{path}: console block needs unknown framework(s) {unknown}; known: {sorted(MODULES)}")
        first = text.count("\n", 0, block.start("body")) + 1
        current = None
        for offset, raw in enumerate(block["body"].splitlines()):
            if raw.startswith("$ "):
                if current:
                    out.append(_claim(path, *current, needs))
                current = (first + offset, raw[2:].strip(), [])
            elif current is not None and raw.strip():
                current[2].append(raw.strip())
        if current:
            out.append(_claim(path, *current, needs))
    return out


def _claim(path: Path, line: int, command: str, shown: list, needs: tuple) -> Claim:
    status = 0
    if shown and EXIT.match(shown[-1]):
        status = int(EXIT.match(shown.pop())[1])
    page = str(path.relative_to(SPEC)) if path.is_relative_to(SPEC) else str(path)
    return Claim(page, line, command, tuple(shown), status, needs)


def all_claims() -> list[Claim]:
    return [c for page in sorted(SPEC.rglob("*.md")) for c in claims_of(page)]


def run(command: str) -> tuple[int, list[str]]:
    """(exit status, output lines) of a claim's command."""
    argv = shlex.split(command)
    if argv[0] == "optconform":
        out = io.StringIO()
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                status = cli_main(argv[1:])
            except SystemExit as exc:  # --help
                status = exc.code if isinstance(exc.code, int) else 0
        return status, out.getvalue().splitlines()
    if argv[0] == "python":
        done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
        return done.returncode, (done.stdout + done.stderr).splitlines()
    raise ValueError(f"a claim's command is 'optconform ...' or 'python ...', not {command!r}")


def by_command(claims: list[Claim]) -> dict[str, list[Claim]]:
    """{command: its claims, in page order}, commands in order of their first claim."""
    out: dict[str, list[Claim]] = {}
    for claim in claims:
        out.setdefault(claim.command, []).append(claim)
    return out


def _pattern(shown: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in shown.split("...")))


def mismatch(shown: tuple, output: list[str]) -> str | None:
    """None when every shown line matches an output line, in order; else what is missing."""
    lines = [line.strip() for line in output]
    at = 0
    for want in shown:
        pattern = _pattern(want)
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return f"the page shows {want!r}, which the output does not print (in this order)"
        at += 1
    return None


CLAIMS = all_claims()
COMMANDS = by_command(CLAIMS)


def problems_of(claims: list[Claim], status: int, output: list[str]) -> list[str]:
    """What each claim of one command gets wrong about its output (empty when all hold)."""
    out = []
    for claim in claims:
        problem = mismatch(claim.shown, output)
        if status != claim.status:
            problem = f"exit status {status}, the page claims {claim.status}" + (f"; {problem}" if problem else "")
        if problem:
            out.append(f"spec/{claim.id}: $ {claim.command}\n{problem}")
    return out


@pytest.mark.parametrize("command", list(COMMANDS), ids=[claims[0].id for claims in COMMANDS.values()])
def test_claim(command: str):
    claims = COMMANDS[command]
    absent = sorted({n for c in claims for n in c.needs if importlib.util.find_spec(MODULES[n]) is None})
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed")
    status, output = run(command)
    problems = problems_of(claims, status, output)
    assert not problems, "\n".join(problems) + "\n--- output:\n" + "\n".join(output[-40:])


# --- the mechanism itself ------------------------------------------------------------------------


def test_every_page_carries_claims():
    """Every algorithm page, and the spec's README, vectors.md and tolerance.md, backs its numbers with
    at least one command (divergences.md is generated from the catalog and has none of its own)."""
    pages = {c.page for c in CLAIMS}
    expected = [str(p.relative_to(SPEC)) for p in sorted((SPEC / "algorithms").glob("*.md"))]
    assert len(expected) >= 38
    for page in [*expected, "README.md", "vectors.md", "tolerance.md"]:
        assert page in pages, f"spec/{page} has no console claim"


def test_a_claim_block_is_parsed_into_commands_outputs_and_status(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Some prose.\n\n```console needs=torch\n$ optconform trajectory sgd --params 1 --grads 1\n"
                    "t=1 ...\n\n$ optconform trajectory adamm --params 1 --grads 1\n...unknown algorithm...\n"
                    "[exit 2]\n```\n", encoding="utf-8")
    first, second = claims_of(page)
    assert (first.command, first.shown, first.status, first.needs, first.line) == (
        "optconform trajectory sgd --params 1 --grads 1", ("t=1 ...",), 0, ("torch",), 4)
    assert (second.shown, second.status) == (("...unknown algorithm...",), 2)


def test_a_false_claim_fails():
    """The comparison can fail: a wrong number, a wrong order, a wrong exit status."""
    status, output = run("optconform trajectory sgd --params 1 --grads 0.5 --set lr=0.1 --steps 2")
    assert status == 0
    assert mismatch(("t=1 ... params=[0.95]", "t=2 ... params=[0.9]"), output) is None
    assert mismatch(("t=1 ... params=[0.96]",), output) is not None
    assert mismatch(("t=2 ... params=[0.9]", "t=1 ... params=[0.95]"), output) is not None
    status, output = run("optconform trajectory sgd --axis nesterov=on --params 1 --grads 1")
    assert status == 2 and mismatch(("...has no axis 'nesterov'...",), output) is None


def test_a_command_shown_in_several_blocks_is_one_test(tmp_path):
    """Blocks that show the same command (one framework run backing several pages) are one test,
    so the command runs once however the tests are spread over workers; each claim is still
    checked and named on its own."""
    for name, body in (("a.md", "$ python benchmarks/x.py\none\n$ python benchmarks/y.py\ntwo\n"),
                       ("b.md", "$ python benchmarks/x.py\nthree\n")):
        (tmp_path / name).write_text(f"```console\n{body}```\n", encoding="utf-8")
    claims = claims_of(tmp_path / "a.md") + claims_of(tmp_path / "b.md")
    grouped = by_command(claims)
    assert list(grouped) == ["python benchmarks/x.py", "python benchmarks/y.py"]
    assert [c.shown for c in grouped["python benchmarks/x.py"]] == [("one",), ("three",)]
    problems = problems_of(grouped["python benchmarks/x.py"], 0, ["one", "two"])
    assert len(problems) == 1 and "b.md:2" in problems[0] and "'three'" in problems[0]
    assert len(COMMANDS) < len(CLAIMS)  # the shipped spec does show commands twice
