"""SequentialLR / join_schedules: children restart at their milestone; torch's recursive child continues."""
from fractions import Fraction as F

from ._sched_util import close, lrs

ETA = F(1, 10)  # the defaults: lambda_lr inverse c = 1/2, then multiplicative constant 7/8 from k = 6


def test_restart_by_hand():
    r = lrs("sequential", 12)
    assert all(close(r[k], ETA / (1 + F(k, 2))) for k in range(6))
    assert close(r[6], ETA) and close(r[8], ETA * F(7, 8) ** 2)


def test_torch_recursive_child_continues_and_applies_f0():
    r = lrs("sequential", 12, {"milestone_restart": "continue"})
    carried = ETA / (1 + F(5, 2))  # the rate of update 5
    assert close(r[6], carried * F(7, 8))  # entry: f(0) = 7/8 multiplies the rate in force
    assert close(r[8], carried * F(7, 8) ** 3)


def test_probe_three_children():
    # multiplicative 3/4 on 0..3, lambda power 7/8 on 4..8, multiplicative inverse 1/4 from 9
    r = lrs("sequential", 16, lr="0.5", children=[
        {"algorithm": "multiplicative", "hyper": {"fn": "constant", "c": "0.75"}},
        {"algorithm": "lambda_lr", "hyper": {"fn": "power", "c": "0.875"}},
        {"algorithm": "multiplicative", "hyper": {"fn": "inverse", "c": "0.25"}}], milestones=["4", "9"])
    assert close(r[3], F(1, 2) * F(3, 4) ** 3) and close(r[4], F(1, 2)) and close(r[8], F(1, 2) * F(7, 8) ** 4)
    assert close(r[9], F(1, 2)) and close(r[11], F(1, 2) / (1 + F(1, 4)) / (1 + F(2, 4)))
