"""Benchmark: `optconform check --adapter keras` (Keras 3 on every backend) and `--adapter tf_keras`
over their CPU matrices, as a user runs them, with where the time goes.

    python benchmarks/keras_check_bench.py [--jobs N] [--adapter keras|tf_keras ...] [--runs K] [--unbatched]

benchmarks/check_bench.py for each adapter in turn (default: keras, then tf_keras): a first run
with empty caches (reference results, jax's and torch.compile's compilation caches), then runs with
them filled; ``--unbatched`` adds a run with OPTCONFORM_BATCH=off, so the Keras batches are
measured side by side. Every backend runs in workers of its own, which import TensorFlow, jax or
torch once and keep it for every case they run.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_bench import main  # noqa: E402


if __name__ == "__main__":
    argv = sys.argv[1:]
    chosen = [argv[i + 1] for i, a in enumerate(argv) if a == "--adapter"] or ["keras", "tf_keras"]
    rest = [a for i, a in enumerate(argv) if a != "--adapter" and (i == 0 or argv[i - 1] != "--adapter")]
    for adapter in chosen:
        main(rest + ["--adapter", adapter])
