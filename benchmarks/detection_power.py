"""The detection power of ``optconform audit`` on the catalog of deliberately faulty and faithful
implementations (tests/audit_targets): how many faulty ones it flags, how many of those whose fault
is an axis value it names, and how many faithful ones it wrongly flags. Also prints each target.

    python benchmarks/detection_power.py [--framework torch|optax]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from tests.audit_targets import detection
    from tests.audit_targets.catalog import TARGETS

    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=("torch", "optax"))
    args = parser.parse_args()
    targets = [t for t in TARGETS if args.framework in (None, t.framework)]
    start = time.perf_counter()
    outcomes = detection.run(targets)
    elapsed = time.perf_counter() - start
    for o in outcomes:
        kind = "faithful" if o.target.faithful else "fault"
        axis = f" axis {o.target.axis}={o.target.value}: {'named' if o.named else 'NOT named'}" if o.target.axis else ""
        print(f"{'FLAGGED' if o.flagged else 'passed ':<7} {kind:<8} {o.target.target}{axis} "
              f"({o.failing}/{o.cases} cases fail)")
    s = detection.score(outcomes)
    print(f"\nflagged {s['flagged']}/{s['faulty']} faulty, axis named {s['axis_named']}/{s['with_axis']}, "
          f"false positives {s['false_positives']}/{s['faithful']} faithful; {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
