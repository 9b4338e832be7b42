"""Reduce on plateau: decision sequences worked by hand on the first 22 metrics of the stream.

Stream: 8, 7, 6, 6, 6, 6, 5.625, 5.625, 5.5625 ×7, 7, 5.5, ...; probe: η = 1/2, γ = 1/2, P = 2,
C = 2, rtol = 1/16 (6 → 5.625 is exactly at the threshold: not an improvement), floor 1/16.
"""
from fractions import Fraction as F

from optconform.reference.model import get
from ._sched_util import close, lrs, records

PROBE = dict(lr="0.5", factor="0.5", patience=2, cooldown=2, rtol="0.0625", atol="0", min_lr="0.0625")


def runs(values):
    """[(value, count)] → the list."""
    return [F(v) for v, n in values for _ in range(n)]


def test_metric_stream():
    m = get("reduce_on_plateau").impl.metrics(40)
    assert [F(str(x)) if x == int(x) else None for x in m[:3]] == [8, 7, 6]
    assert m[6] == 6 * (1 - 1 / 16) and m[8] == m[6] - 1 / 16
    assert m[32] == 4 and m[38] == 5.625 / 2  # the next cycle, halved


def test_torch_rule_by_hand():
    # bad > 2 at m_5 → rate 1/4 from update 6; cooldown m_6, m_7; m_8 improves; reduce at m_11 and
    # m_16 (to the floor 1/16); at m_21 the floor holds the rate
    r = lrs("reduce_on_plateau", 24, **PROBE)
    assert r == runs([("1/2", 6), ("1/4", 6), ("1/8", 5), ("1/16", 7)])


def test_keras_rule_by_hand():
    sem = {"patience_rule": "reaches", "cooldown_rule": "resume_at_zero"}
    r = lrs("reduce_on_plateau", 16, sem, **PROBE)
    assert r == runs([("1/2", 5), ("1/4", 3), ("1/8", 3), ("1/16", 5)])


def test_optax_rule_by_hand():
    sem = {"patience_rule": "equals", "decision_timing": "same", "floor": "relative"}
    r = lrs("reduce_on_plateau", 24, sem, **PROBE)
    assert r == runs([("1/2", 4), ("1/4", 6), ("1/8", 4), ("1/16", 4), ("1/32", 6)])


def test_state_records():
    rec = records("reduce_on_plateau", 7, **PROBE)
    assert rec[0][1]["state"] == {"best": float("inf"), "num_bad": 0, "cooldown": 0}
    assert rec[5][1]["state"]["num_bad"] == 2 and rec[6][1]["state"]["cooldown"] == 2


def test_patience_zero_optax_reduces_on_improvement():
    sem = {"patience_rule": "equals", "decision_timing": "same", "floor": "relative"}
    r = lrs("reduce_on_plateau", 3, sem, lr="0.5", factor="0.5", patience=0, rtol="0.0625", atol="0")
    assert r == [F(1, 4), F(1, 8), F(1, 16)]  # 8, 7, 6 are all improvements
    torch = lrs("reduce_on_plateau", 6, lr="0.5", factor="0.5", patience=0, rtol="0.0625", atol="0")
    assert torch == runs([("1/2", 4), ("1/4", 1), ("1/8", 1)])  # reduces on the plateau m_3, m_4


def test_eps_guard_skips_small_reductions():
    r = lrs("reduce_on_plateau", 8, **dict(PROBE, eps="0.25"))
    assert r[7] == F(1, 2)  # 1/2 − 1/4 is not more than ε = 1/4
    assert close(lrs("reduce_on_plateau", 8, **PROBE)[7], F(1, 4))
