"""The cost of one-step documents (reference/onestep.py): the reference's largest cost in a first
run of the conformance suite or of ``optconform check --mode one-step``, where the disk cache of
reference results starts empty.

Computes the one-step document of every ``--every``-th optimizer vector (default 5) for each of
its profiles, each of its dtypes, without precision effects and under each declared effect on its
own (the documents the checker asks for), and prints the CPU seconds and a SHA-256 over every
document. With ``--against FILE`` (another version of reference/onestep.py) it computes each
document with both, alternating, in this process, so a busy moment of the machine hurts both
alike, and says whether every document is byte-identical::

    python benchmarks/onestep_bench.py --against <(git show d2ce264~1:reference/onestep.py)
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import time

from optconform.reference import onestep
from optconform.reference import vectors as V
from optconform.reference.model import get


def documents(every: int) -> list:
    """(vector, profile, dtype, effects) of every ``every``-th optimizer vector, in path order."""
    directory = V.default_vector_dir()
    manifest = V.read_manifest(directory)
    rels = sorted(r for r in manifest["files"] if get(r.split("/", 1)[0]).kind == "optimizer")[::every]
    out = []
    for rel in rels:
        doc = V.load_vector(directory, rel, manifest)
        alg = get(doc["algorithm"])
        for profile in doc["profiles"]:
            for dtype in doc["dtypes"]:
                variants = [{}]
                for effect in alg.profiles[profile].precision:
                    declared = {name: effect.resolved_dtype(dtype) for name in effect.hypers}
                    if declared not in variants:
                        variants.append(declared)
                out += [(doc, profile, dtype, effects) for effects in variants]
    return out


def load_version(path: str):
    """Another version of reference/onestep.py, as a module of the reference package."""
    name = "optconform.reference._onestep_against"
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "optconform.reference"
    loader.exec_module(module)
    return module


def _text(module, item) -> str:
    doc, profile, dtype, effects = item
    try:
        return json.dumps(module.one_step_document(doc, profile, dtype, effects))
    except Exception as exc:  # noqa: BLE001 - a document that cannot be computed is compared as its error
        return f"{type(exc).__name__}: {exc}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="every N-th optimizer vector (default 5)")
    parser.add_argument("--against", metavar="FILE", help="another version of reference/onestep.py")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every must be at least 1")
    items = documents(args.every)
    versions = [("this checkout", onestep)] + ([(args.against, load_version(args.against))] if args.against else [])
    seconds = [0.0] * len(versions)
    digests = [hashlib.sha256() for _ in versions]
    differ = 0
    for item in items:
        texts = []
        for i, (_, module) in enumerate(versions):
            start = time.process_time()
            texts.append(_text(module, item))
            seconds[i] += time.process_time() - start
            digests[i].update(texts[-1].encode("utf-8"))
        differ += len(set(texts)) > 1
    print(f"{len(items)} one-step documents (every {args.every}th optimizer vector x profile x dtype x effects)")
    for (label, _), s, digest in zip(versions, seconds, digests):
        print(f"{label}: {s:.1f} CPU s, sha256 {digest.hexdigest()[:16]}")
    if args.against:
        print(f"{len(items) - differ} of {len(items)} documents byte-identical; "
              f"CPU ratio {seconds[0] / seconds[1]:.2f} (this checkout / the other)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
