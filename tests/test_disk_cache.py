"""The disk cache of reference results (reference/disk_cache.py) and the checker's fast ulp: a
cached value must be exactly the computed one, a stale or damaged one never read, and a cache
that cannot work must cost time only."""
from __future__ import annotations

import math
import os

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.adapters import checker
from optconform.adapters.harness import VectorCache
from optconform.reference import disk_cache
from optconform.reference.numeric import FORMATS
from optconform.reference.tolerance import lead_exponent, ulp, ulp_float
from optconform.reference.vectors import default_vector_dir


@pytest.fixture
def cache_at(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.ENV, str(tmp_path))
    return tmp_path


def test_a_stored_value_reads_back_as_stored(cache_at):
    value = {"a": [1.5, math.inf, None, ("x", 2)]}
    disk_cache.store("kind", "name", value)
    assert disk_cache.load("kind", "name") == value
    assert (cache_at / "reference" / disk_cache.fingerprint() / "kind-name.marshal").is_file()


def test_cached_computes_once(cache_at):
    calls = []

    def compute():
        calls.append(1)
        return "value"

    assert disk_cache.cached("k", "n", compute) == "value"
    assert disk_cache.cached("k", "n", compute) == "value"
    assert len(calls) == 1


def test_off_computes_every_time(monkeypatch):
    monkeypatch.setenv(disk_cache.ENV, "off")
    calls = []
    for _ in range(2):
        disk_cache.cached("k", "n", lambda: calls.append(1) or "v")
    assert len(calls) == 2 and disk_cache.folder() is None


def test_a_damaged_entry_is_recomputed(cache_at):
    disk_cache.store("k", "n", [1, 2, 3])
    path = cache_at / "reference" / disk_cache.fingerprint() / "k-n.marshal"
    path.write_bytes(b"\x00garbage")
    assert disk_cache.load("k", "n") is None
    assert disk_cache.cached("k", "n", lambda: "fresh") == "fresh"
    assert disk_cache.load("k", "n") == "fresh"


def test_an_unwritable_cache_costs_nothing_but_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(disk_cache.ENV, str(blocker / "below"))
    assert disk_cache.cached("k", "n", lambda: 42) == 42


def test_the_fingerprint_follows_the_code_it_depends_on(tmp_path, monkeypatch):
    source = tmp_path / "dependency.py"
    source.write_text("x = 1\n")
    before = disk_cache.fingerprint()
    monkeypatch.setattr(disk_cache, "_EXTRA", list(disk_cache._EXTRA))
    disk_cache.also_depends_on(source)
    with_it = disk_cache.fingerprint()
    source.write_text("x = 2\n")
    disk_cache.fingerprint.cache_clear()
    edited = disk_cache.fingerprint()
    assert len({before, with_it, edited}) == 3
    disk_cache._EXTRA.remove(source.resolve())
    disk_cache.fingerprint.cache_clear()
    disk_cache._folder.cache_clear()
    assert disk_cache.fingerprint() == before


def test_old_fingerprints_are_pruned_and_other_caches_left_alone(cache_at):
    parent = cache_at / "reference"
    for i, name in enumerate(["old1", "old2", "old3", "old4"]):
        (parent / name).mkdir(parents=True)
        os.utime(parent / name, (1000 + i, 1000 + i))
    (cache_at / "jax").mkdir()
    disk_cache._folder.cache_clear()
    disk_cache.store("k", "n", 1)
    assert {p.name for p in parent.iterdir()} == {disk_cache.fingerprint(), "old3", "old4"}  # KEEP = 3
    assert (cache_at / "jax").is_dir()


def test_cached_expectations_equal_computed_ones(cache_at, monkeypatch):
    """A vector with declared precision effects, expected trajectory and prepared comparison:
    computed with the cache off, then computed into the cache, then read from it: all equal."""
    rel = "adam/keras/probe.json"
    effects = {"lr": "float32", "power_beta1": "float32", "power_beta2": "float32"}
    directory = default_vector_dir()

    monkeypatch.setenv(disk_cache.ENV, "off")
    plain_doc, plain_text = VectorCache(directory).expected_doc(rel, "keras", effects)
    plain_prepared = checker._prepare_exact(plain_text)

    monkeypatch.setenv(disk_cache.ENV, str(cache_at))
    first = VectorCache(directory).expected_doc(rel, "keras", effects)
    second = VectorCache(directory).expected_doc(rel, "keras", effects)
    assert first[1] == second[1] == plain_text and second[0] == plain_doc
    checker._prepare.cache_clear()
    checker._prepare(plain_text)
    checker._prepare.cache_clear()
    from_disk = checker._prepare(plain_text)
    labels, hi, lo, finite, exponents = plain_prepared
    assert (from_disk.hi, from_disk.lo, from_disk.finite, from_disk.exponents) == (hi, lo, finite, exponents)
    assert from_disk.labels == [[tuple(p) for p in row] for row in labels]


_DTYPES = sorted(FORMATS)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(_DTYPES))
def test_ulp_float_is_the_exact_ulp(x, dtype):
    assert ulp_float(lead_exponent(x), dtype) == float(ulp(x, dtype))


@pytest.mark.parametrize("dtype", _DTYPES)
def test_ulp_float_at_binade_edges_and_zero(dtype):
    fmt = FORMATS[dtype]
    for x in [0, mpmath.ldexp(1, fmt.emin), mpmath.ldexp(1, fmt.emin) * (1 - mpmath.mpf(2) ** -80),
              mpmath.ldexp(1, fmt.emin - 5), 1, 1 - mpmath.mpf(2) ** -70, 2 ** 20, mpmath.inf]:
        assert ulp_float(lead_exponent(x), dtype) == float(ulp(x, dtype))
