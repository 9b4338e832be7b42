"""Timing two implementations of the same work side by side in one process (the benchmarks'
overhead ratios): each round runs ``first`` then ``second`` over every document, alternating, and
the best round of each is kept, so that a busy moment of the machine hurts both alike."""
from __future__ import annotations

import time


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
