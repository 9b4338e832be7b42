"""Measure the accuracy of torch's float32 pow and sqrt on 0-d CPU tensors against exact values.

The precision effect ``scalars`` (reference/common.py: TORCH_FLOAT32_ULPS) assumes these bounds
for torch's capturable/differentiable Adam scalars. Run:

    python benchmarks/torch_scalar_accuracy.py [--samples N]

It prints, for each operation, the largest error in ulps of the result and how often the result
is not the nearest float32 value.
"""
from __future__ import annotations

import argparse

import mpmath
import numpy as np
import torch

from optconform.reference.numeric import mpf, precision, round_to
from optconform.reference.tolerance import ulp

SCENARIO_BETAS = (0.9, 0.999, 0.875, 0.9990234375, 0.99, 0.95, 0.98, 0.5, 0.8, 0.9999)


def _error(result: float, exact) -> tuple[float, bool]:
    return float(abs(mpf(result) - exact) / ulp(exact, "float32")), result != float(round_to(exact, "float32"))


def measure_pow(samples: int, rng) -> tuple[float, int, int]:
    """``python_float ** tensor`` with a float32 0-d step, as torch's Adam computes βᵗ."""
    pairs = [(float(np.float32(b)), t) for b in SCENARIO_BETAS for t in range(1, 2000)]
    betas = (0.5 + 0.5 * rng.random(samples)).astype(np.float32)
    pairs += [(float(b), int(t)) for b, t in zip(betas, rng.integers(1, 300, samples))]
    worst, wrong = 0.0, 0
    for b, t in pairs:
        exact = mpf(b) ** t
        if exact == 0:
            continue
        err, miss = _error(float(b ** torch.tensor(float(t))), exact)
        worst, wrong = max(worst, err), wrong + miss
    return worst, wrong, len(pairs)


def measure_sqrt(samples: int, rng) -> tuple[float, int, int]:
    xs = rng.random(samples).astype(np.float32)
    worst, wrong = 0.0, 0
    for x in xs:
        err, miss = _error(float(torch.tensor(float(x), dtype=torch.float32).sqrt()), mpmath.sqrt(mpf(float(x))))
        worst, wrong = max(worst, err), wrong + miss
    return worst, wrong, len(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    with precision(60):
        for name, fn in (("pow", measure_pow), ("sqrt", measure_sqrt)):
            worst, wrong, n = fn(args.samples, rng)
            print(f"{name:5s} worst {worst:.3f} ulp, not the nearest in {wrong} of {n} ({100 * wrong / n:.2f}%)")


if __name__ == "__main__":
    main()
