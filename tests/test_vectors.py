"""Vectors: schema, manifest checksums, determinism, --check, and corrupted files."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from optconform.reference import UserError
from optconform.reference import vectors as V

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "spec" / "vector.schema.json").read_text())
SHIPPED = V.default_vector_dir()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "optconform.adapters", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """adam + warmup_cosine generated into a scratch folder."""
    d = tmp_path_factory.mktemp("vectors")
    V.generate(d, ["adam", "warmup_cosine"], jobs=1)
    return d


def test_schema_is_valid_and_describes_generated_vectors(small_set):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for path in sorted(small_set.glob("*/*/*.json")):
        jsonschema.validate(json.loads(path.read_text()), SCHEMA)


def test_generation_is_deterministic_and_leaves_no_temporary_files(small_set, tmp_path):
    V.generate(tmp_path, ["adam", "warmup_cosine"], jobs=2)
    mine = {p.relative_to(small_set).as_posix(): p.read_bytes() for p in small_set.rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert mine == again
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_check_names_every_differing_file(small_set, tmp_path):
    d = tmp_path / "v"
    shutil.copytree(small_set, d)
    assert V.check(d, ["adam", "warmup_cosine"], jobs=1) == []
    edited = d / "adam" / "spec" / "probe.json"
    edited.write_text(edited.read_text().replace('"t":3', '"t":33', 1))
    (d / "adam" / "keras" / "defaults.json").unlink()
    (d / "adam" / "spec" / "extra.json").write_text("{}")
    problems = V.check(d, ["adam", "warmup_cosine"], jobs=1)
    assert "differs: adam/spec/probe.json" in problems
    assert "missing: adam/keras/defaults.json" in problems
    assert "extra (not produced by the reference): adam/spec/extra.json" in problems
    proc = cli("generate", "adam", "warmup_cosine", "--check", "--jobs", "1", "--vectors", str(d))
    assert proc.returncode == 1
    assert "differs: adam/spec/probe.json" in proc.stdout


def test_partial_regeneration_keeps_other_algorithms(small_set, tmp_path):
    d = tmp_path / "v"
    shutil.copytree(small_set, d)
    before = (d / V.MANIFEST).read_bytes()
    V.generate(d, ["warmup_cosine"], jobs=1)
    assert (d / V.MANIFEST).read_bytes() == before


@pytest.mark.parametrize("damage", ["edit", "truncate", "delete", "manifest"])
def test_corrupted_vectors_are_exit_2_naming_the_file(small_set, tmp_path, damage):
    d = tmp_path / "v"
    shutil.copytree(small_set, d)
    target = d / "adam" / "spec" / "probe.json"
    if damage == "edit":
        target.write_text(target.read_text().replace("0.875", "0.876", 1))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "delete":
        target.unlink()
    else:
        (d / V.MANIFEST).write_text("{ not json")
    with pytest.raises(UserError):
        if damage == "manifest":
            V.read_manifest(d)
        else:
            V.load_vector(d, "adam/spec/probe.json")
    proc = cli("list", "--vectors", str(d))
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert ("manifest.json" if damage == "manifest" else "probe.json") in line


def test_shipped_vectors_verify_and_match_the_schema():
    assert (SHIPPED / V.MANIFEST).exists(), "run 'optconform generate' to create the shipped vectors"
    assert V.verify(SHIPPED) == []
    manifest = V.read_manifest(SHIPPED)
    total = sum(e["bytes"] for e in manifest["files"].values())
    assert total < 50e6, f"committed vectors are {total / 1e6:.1f} MB; keep them under 50 MB"
    for rel in list(manifest["files"])[::7]:  # a sample; the full set is checked by the next test
        jsonschema.validate(V.load_vector(SHIPPED, rel, manifest), SCHEMA)


def test_shipped_vectors_are_exactly_what_the_reference_produces():
    """The main job: `optconform generate --check` on the committed vectors."""
    jobs = max(1, min(2, os.cpu_count() or 1))
    problems = V.check(SHIPPED, None, jobs=jobs)
    assert problems == [], "\n".join(problems[:20]) + "\nrun 'optconform generate' and commit the result"


def test_every_algorithm_has_vectors():
    from optconform.reference.model import algorithms

    manifest = V.read_manifest(SHIPPED)
    have = {rel.split("/", 1)[0] for rel in manifest["files"]}
    assert set(algorithms()) <= have
