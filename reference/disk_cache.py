"""A cache on disk of what is computed from the exact reference, shared by the worker processes of
a run and kept between runs.

Users: the checker (adapters/harness.py, adapters/checker.py) and the divergence catalog
(reference/catalog.py). For the checker, two things are expensive to recompute and the same for many cases: the expected trajectory of a
vector under a profile's declared precision effects (the reference rerun in mpmath:
harness.VectorCache.expected_doc and one_step_doc), and a vector's exact values prepared for the
comparison (double-double pairs and the exponents of σ: checker._prepare). Every worker of a run
needs them for each code path and dtype it gets, and every later run needs them again; computed
once, they are read back in a fraction of a millisecond.

Keys. A value is stored under the SHA-256 of its inputs (the vector's checksum, the profile, the
effects; or the vector text itself), inside a folder named by the *fingerprint* of the code that
computes it: the SHA-256 of every source and data file of ``optconform.reference`` and of the
comparison (``adapters/checker.py``, registered by the checker: :func:`also_depends_on`). An edit to the reference, a profile or the comparison therefore starts an
empty folder; a stale value is never read. The three most recently used folders are kept, older
ones are removed.

Layout: ``<root>/reference/<fingerprint>/<kind>-<sha256>.marshal`` (and the catalog's JSON file).

Format: ``marshal`` of plain data (strings, floats, ints, lists, tuples): fast, and loading it runs
no code. Writes go to a temporary file renamed into place, so a reader sees a whole entry or none;
two workers that compute the same entry at once both write the same bytes.

Where: ``$OPTCONFORM_CACHE`` if set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/optconform`` or ``~/.cache/optconform``. A cache that cannot be read or written
(read-only home, full disk, a damaged entry) is skipped: it can cost time, never a verdict.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import shutil
import tempfile
from pathlib import Path

ENV = "OPTCONFORM_CACHE"
KEEP = 3  # fingerprint folders kept
_REFERENCE = Path(__file__).resolve().parent
_EXTRA: list = []  # other files the cached values depend on (also_depends_on)


def also_depends_on(path) -> None:
    """Count ``path`` in the fingerprint (the checker registers itself); call at import time,
    before the first use of the cache."""
    path = Path(path).resolve()
    if path not in _EXTRA:
        _EXTRA.append(path)
        fingerprint.cache_clear()
        _folder.cache_clear()


def root() -> Path | None:
    """The cache folder (without the fingerprint), or None when the cache is off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen).expanduser()
    return user_root()


def user_root() -> Path:
    """optconform's folder in the user's cache: ``$XDG_CACHE_HOME/optconform`` or
    ``~/.cache/optconform`` (the optax adapter keeps jax's compilation cache there too)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "optconform"


@functools.lru_cache(maxsize=None)
def reference_fingerprint() -> str:
    """SHA-256 over the reference package's files alone (what the divergence catalog is a function
    of, whatever else this process has imported): the key of the catalog shipped with the package
    (reference/catalog.py: ``SEED``)."""
    return _digest([])


@functools.lru_cache(maxsize=None)
def fingerprint() -> str:
    """SHA-256 over the reference package's files (sources, profiles, scenarios) and the files
    registered with :func:`also_depends_on`: everything a cached value is a function of, besides
    its key."""
    return _digest(_EXTRA)


def _digest(extra: list) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in _REFERENCE.rglob("*")
                   if p.is_file() and p.suffix in (".py", ".toml", ".json") and "__pycache__" not in p.parts)
    for path in files + extra:
        digest.update(f"{path.parent.name}/{path.name}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


@functools.lru_cache(maxsize=None)
def _folder(base: str) -> Path | None:
    """This code's folder ``<base>/reference/<fingerprint>``, created, with the older fingerprints
    pruned (only there: ``<base>`` holds other caches too, e.g. the optax adapter's jax cache)."""
    parent = Path(base) / "reference"
    folder = parent / fingerprint()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)
        others = sorted((p for p in parent.iterdir() if p.is_dir() and p != folder),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        return None
    return folder


def key(*parts) -> str:
    """The SHA-256 of ``parts`` (their repr, so tuples of strings, numbers and sorted items)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def folder() -> Path | None:
    """This code's cache folder (created), or None when the cache is off or cannot be made."""
    base = root()
    return _folder(str(base)) if base is not None else None


def _path(kind: str, name: str) -> Path | None:
    here = folder()
    return None if here is None else here / f"{kind}-{name}.marshal"


def load(kind: str, name: str):
    """The value stored as ``kind``/``name``, or None (absent, unreadable, damaged)."""
    path = _path(kind, name)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def store(kind: str, name: str, value) -> None:
    """Store ``value`` (plain data) as ``kind``/``name``; any failure leaves the cache as it was."""
    path = _path(kind, name)
    if path is None:
        return
    try:
        data = marshal.dumps(value)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, ValueError):
        return


def cached(kind: str, name: str, compute):
    """``compute()``, read from the cache when stored there, else computed and stored."""
    value = load(kind, name)
    if value is None:
        value = compute()
        store(kind, name, value)
    return value
