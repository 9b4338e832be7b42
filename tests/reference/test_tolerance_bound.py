"""The one tolerance bound of spec/tolerance.md (reference/tolerance.py), which the checker applies."""
import pytest

from optconform.adapters import checker
from optconform.reference import tolerance
from optconform.reference.tolerance import bound


@pytest.mark.parametrize("t, spread, dtype, expected", [
    (1, 0.0, "float64", 8),          # the float64 floor: 8 ulps per step
    (250, 0.0, "float64", 2000),
    (10, 30.0, "float64", 120),      # 4·S_t above the floor
    (10, 19.9, "float64", 80),       # 4·S_t = 79.6 below it
    (3, 0.1, "float32", 6),          # the floor of the other dtypes: 2 ulps per step
    (3, 2.0, "bfloat16", 8),
    (7, 0.0, "float16", 14),
    (0, 0.0, "float64", 8),          # a schedule's k = 0 is held to t = 1 by the caller; t = 0 too
])
def test_the_bound_is_max_of_the_floor_and_four_spreads(t, spread, dtype, expected):
    assert bound(t, spread, dtype) == expected


def test_the_checker_applies_the_reference_bound_and_has_no_copy():
    assert checker.bound is tolerance.bound
    for name in ("FLOAT64_PER_STEP", "LOW_PER_STEP", "SPREAD_FACTOR"):
        assert not hasattr(checker, name)
    assert not hasattr(tolerance, "float64_bound")
