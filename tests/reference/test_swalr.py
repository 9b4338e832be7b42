"""SWALR: the cosine and linear anneals at hand-computed points, E = 0, the constant tail, and torch's recursive
SWALR run directly in float64 against the closed form."""
from fractions import Fraction

import mpmath
import pytest

from ._sched_util import close, evaluator

value = evaluator("swalr")
KW = dict(lr="0.5", swa_lr="0.125", anneal_epochs=4)


def test_cosine_anneal_by_hand():
    """t = k/4; A = (1 − cos πt)/2 = 0, (2 − √2)/4, 1/2, (2 + √2)/4, 1: η = 0.5 − 0.375·A."""
    assert close(value(0, **KW), Fraction(1, 2))
    assert close(value(2, **KW), Fraction(1, 2) - Fraction(3, 8) * Fraction(1, 2))
    assert close(value(4, **KW), Fraction(1, 8))
    a1 = (2 - mpmath.sqrt(2)) / 4
    assert abs(value(1, **KW) - (mpmath.mpf("0.5") - mpmath.mpf("0.375") * a1)) < mpmath.mpf(10) ** -55


def test_linear_anneal_and_the_tail():
    lin = dict(KW, anneal_strategy="linear")
    assert close(value(1, **lin), Fraction(1, 2) - Fraction(3, 8) * Fraction(1, 4))
    assert close(value(3, **lin), Fraction(1, 2) - Fraction(3, 8) * Fraction(3, 4))
    assert all(close(value(k, **lin), Fraction(1, 8)) for k in (4, 5, 20))


def test_no_anneal_is_the_swa_rate_at_once():
    assert all(close(value(k, lr="0.5", swa_lr="0.125", anneal_epochs=0), Fraction(1, 8)) for k in (0, 1, 7))


def test_torch_swalr_in_float64():
    """torch's SWALR recovers the starting rate from the current one each step; its float64 rates agree with
    the closed form to a few ulps, for both strategies."""
    torch = pytest.importorskip("torch")
    for strategy in ("cos", "linear"):
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=0.5)
        sched = torch.optim.swa_utils.SWALR(opt, swa_lr=0.125, anneal_epochs=8, anneal_strategy=strategy)
        for k in range(20):
            want = float(value(k, lr="0.5", swa_lr="0.125", anneal_epochs=8, anneal_strategy=strategy))
            assert abs(opt.param_groups[0]["lr"] - want) <= 4e-16 * want
            opt.step()
            sched.step()
