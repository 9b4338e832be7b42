"""Timing two implementations of the same work side by side in one process (the benchmarks'
overhead ratios): each round runs ``first`` then ``second`` over every document, alternating, and
the best round of each is kept, so that a busy moment of the machine hurts both alike."""
from __future__ import annotations

import time

from optconform.reference import vectors as V


def best_of(first, second, docs: list, rounds: int) -> tuple[float, float]:
    """(best seconds of ``first``, best seconds of ``second``) over ``rounds`` alternating rounds,
    each calling the function on every document of ``docs``."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((first, second)):
            start = time.perf_counter()
            for doc in docs:
                fn(doc)
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def plain_vectors(profile: str, algorithms=("adam", "sgd"), skip_scenarios=()) -> list:
    """The shipped vectors a bare hand-written loop can run as well as the adapter: of
    ``algorithms`` under ``profile``, with an explicit gradient stream, one parameter group, no
    schedule, no checkpoint, in float32 (each with ``profile`` set, as the harness hands it)."""
    directory = V.default_vector_dir()
    manifest = V.read_manifest(directory)
    docs = []
    for rel, entry in manifest["files"].items():
        if rel.split("/", 1)[0] in algorithms and profile in entry["profiles"]:
            doc = V.load_vector(directory, rel, manifest)
            inputs = doc["inputs"]
            if "grads" in inputs and len(inputs["groups"]) == 1 and "schedule" not in inputs \
                    and "checkpoint_at" not in inputs and "float32" in doc["dtypes"] \
                    and doc["scenario"] not in skip_scenarios:
                docs.append(dict(doc, profile=profile))
    return docs
