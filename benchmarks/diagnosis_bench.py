"""How long diagnosis takes for one failing case (issue budget: at most 1 s), with an empty cache of
neighbouring trajectories and with it filled.

The failing cases are real: torch.optim.Adam and torch.optim.SGD (forloop, float64 and float32)
run against the vectors of the profiles they do not implement (Keras's ε-hat Adam, the spec's SGD
with the learning rate inside the momentum buffer, ...), each failing case diagnosed by
adapters/diagnosis.py in this process. Prints the distribution of the time per case and the
diagnoses found.

    python benchmarks/diagnosis_bench.py
"""
from __future__ import annotations

import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def failing_runs():
    from optconform.adapters.checker import compare
    from optconform.adapters.frameworks.torch_adapter import TorchAdapter
    from optconform.adapters.protocol import Implementation
    from optconform.reference.vectors import default_vector_dir, read_manifest

    adapter = TorchAdapter()
    directory = default_vector_dir()
    manifest = read_manifest(directory)
    out = []
    for rel, entry in manifest["files"].items():
        algorithm = rel.split("/", 1)[0]
        if algorithm not in ("adam", "sgd") or "torch" in entry["profiles"]:
            continue
        doc = json.loads((directory / rel).read_text())
        profile = entry["profiles"][0]
        for dtype in ("float64", "float32"):
            if dtype not in doc["dtypes"]:
                continue
            impl = Implementation("torch", "forloop", "cpu", dtype)
            run = adapter.run(dict(doc, profile="torch"), impl)
            result = compare(doc, run, impl, profile)
            if result.verdict == "fail":
                out.append((rel, doc, run, impl, profile, result))
    return out


def timed(cases) -> tuple[list, collections.Counter]:
    from optconform.adapters.diagnosis import diagnose, line

    times, found = [], collections.Counter()
    for rel, doc, run, impl, profile, result in cases:
        start = time.perf_counter()
        d = diagnose(doc, run, impl, profile, result)
        times.append(time.perf_counter() - start)
        found[line(d).split("; residual")[0]] += 1
    return times, found


def describe(label: str, times: list) -> str:
    times = sorted(times)
    return (f"{label}: {len(times)} failing cases, median {statistics.median(times) * 1000:.0f} ms, "
            f"90th percentile {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms, "
            f"max {times[-1] * 1000:.0f} ms, total {sum(times):.1f} s")


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["OPTCONFORM_CACHE"] = cache  # an empty cache: the first diagnosis of each vector
        cases = failing_runs()
        cold, found = timed(cases)
        warm, _ = timed(cases)
    print(describe("empty cache ", cold))
    print(describe("cache filled", warm))
    print("diagnoses:")
    for text, n in found.most_common(12):
        print(f"  {n:>4} × {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
