"""A wheel (not only an editable install) carries the vectors, the profiles and the schema."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from optconform.reference import vectors as V

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b.json"
    V.atomic_write(target, b"old")

    class Boom(Exception):
        pass

    real_replace = V.os.replace

    def failing_replace(src, dst):
        raise Boom()

    monkeypatch.setattr(V.os, "replace", failing_replace)
    with pytest.raises(Boom):
        V.atomic_write(target, b"new content")
    monkeypatch.setattr(V.os, "replace", real_replace)
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_wheel_carries_package_data(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    wheel, = tmp_path.glob("optconform-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "optconform/vectors/manifest.json" in names
    assert "optconform/reference/axes.toml" in names
    assert "optconform/reference/profiles/adam.toml" in names
    assert "optconform/spec/vector.schema.json" in names
    assert "optconform/adapters/cli.py" in names
    shipped = {n for n in names if n.startswith("optconform/vectors/") and n.endswith(".json")}
    manifest = V.read_manifest(ROOT / "vectors")
    assert {f"optconform/vectors/{rel}" for rel in manifest["files"]} <= shipped
