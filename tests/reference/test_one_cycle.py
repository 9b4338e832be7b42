"""One-cycle: initial, peak and final values, phase boundaries under each convention, momentum, past T."""
from fractions import Fraction as F

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, records


def cos_between(a, b, pct):
    """Independent cosine anneal a → b at fraction pct."""
    a, b = mpmath.mpf(a.numerator) / a.denominator, mpmath.mpf(b.numerator) / b.denominator
    return b + (a - b) * (1 + mpmath.cos(mpmath.pi * pct)) / 2


def test_spec_defaults_endpoints_and_peak():
    # T = 20, p = 0.3 (peak at update 6 exactly), η = 0.1, d = 25, f = 1e4
    r = records("one_cycle", 25)
    eta, init, final = F(1, 10), F(1, 250), F(1, 2500000)
    assert close(r[0][0], init) and close(r[0][1]["momentum"], F(95, 100))
    assert close(r[6][0], eta) and close(r[6][1]["momentum"], F(85, 100))
    assert close(r[3][0], (init + eta) / 2)  # halfway up: cos(π/2) = 0
    assert close(r[13][0], (eta + final) / 2) and close(r[13][1]["momentum"], F(90, 100))
    assert close(r[20][0], final) and all(close(x[0], final) for x in r[20:])  # clamped from k = T
    assert close(r[24][1]["momentum"], F(95, 100))


def test_torch_phase_ends_minus_one_and_raise():
    sem = {"phase_ends": "minus_one", "after_end": "raise"}
    r = records("one_cycle", 23, sem)
    init, eta, final = F(1, 250), F(1, 10), F(1, 2500000)
    assert close(r[5][0], eta)  # peak at p·T − 1 = 5
    assert close(r[19][0], final)  # final at T − 1
    # k = T extrapolates the last phase (from 5 to 19): pct = 15/14
    assert abs(r[20][0] - cos_between(eta, final, mpmath.mpf(15) / 14)) < mpmath.mpf(10) ** -55
    assert r[20][0] > mpmath.mpf(final.numerator) / final.denominator
    assert r[21][0] == mpmath.inf and r[21][1]["raises"] is True and r[22][1]["raises"] is True


def test_floor_vs_exact_boundaries():
    # p = 0.3125, T = 20: p·T = 6.25; optax's peak at ⌊6.25⌋ = 6, the exact rule peaks between updates
    kw = dict(pct_start="0.3125", lr="0.5", div_factor="8", final_div_factor="16")
    floor = records("one_cycle", 21, {"phase_ends": "floor"}, **kw)
    exact = records("one_cycle", 21, {"phase_ends": "exact"}, **kw)
    init, eta = F(1, 16), F(1, 2)
    assert close(floor[6][0], eta) and close(floor[20][0], F(1, 256))
    assert abs(exact[6][0] - cos_between(init, eta, mpmath.mpf(6) / mpmath.mpf("6.25"))) < mpmath.mpf(10) ** -55
    assert exact[6][0] < mpmath.mpf("0.5")


def test_decimal_floor_snaps():
    # p = 0.3 read as a decimal: ⌊0.3·20⌋ = 6 even though mpf('0.3') is a binary approximation
    r = records("one_cycle", 8, {"phase_ends": "floor"})
    assert close(r[6][0], F(1, 10))


def test_three_phase_linear_symmetric():
    # p = 0.25, T = 20, exact ends: b1 = 5, b2 = 10 (symmetric), end 20
    r = records("one_cycle", 21, three_phase=True, anneal="linear", pct_start="0.25", lr="0.5",
                div_factor="8", final_div_factor="16")
    init, eta, final = F(1, 16), F(1, 2), F(1, 256)
    assert close(r[5][0], eta) and close(r[10][0], init) and close(r[20][0], final)
    assert close(r[15][0], (init + final) / 2) and close(r[15][1]["momentum"], F(95, 100))
    assert close(r[2][0], init + (eta - init) * F(2, 5))


def test_three_phase_pct_final():
    r = records("one_cycle", 21, {"middle_end": "pct_final"}, three_phase=True, anneal="linear",
                pct_start="0.25", pct_final="0.75", lr="0.5", div_factor="8", final_div_factor="16")
    assert close(r[15][0], F(1, 16))  # back at η/d at 0.75·20 = 15


@settings(max_examples=30, deadline=None)
@given(T=st.integers(4, 40), num=st.integers(1, 15))
def test_momentum_mirrors_lr_in_the_warmup(T, num):
    pct = F(num, 16)
    if not pct * T > 1:
        return
    r = records("one_cycle", T, total_steps=T, pct_start=str(float(pct)), lr="0.5", div_factor="8", final_div_factor="16",
                base_momentum="0.75", max_momentum="0.875")
    init, eta, m, M = F(1, 16), F(1, 2), F(3, 4), F(7, 8)
    for k, (lr, extra) in enumerate(r):
        assert lr <= mpmath.mpf(0.5) + mpmath.mpf(10) ** -55
        if k <= pct * T:
            up = (lr - mpmath.mpf(init.numerator) / init.denominator) / float(eta - init)
            down = (mpmath.mpf(7) / 8 - extra["momentum"]) / float(M - m)
            assert abs(up - down) < mpmath.mpf(10) ** -50
