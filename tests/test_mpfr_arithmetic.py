"""The emulations' MPFR arithmetic (reference/numeric.py mpfr_arithmetic, reference/mpfr_run.py)
gives the values mpmath gives: the same algorithms, the same roundings, every result compared with
the one mpmath computes (the spread and vectors built on them are compared byte for byte by
``optconform generate --check``); values that are not finite leave MPFR for mpmath; an mpmath value
inside an MPFR run is caught rather than read through a float."""
from __future__ import annotations

import gmpy2
import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference import numeric as N
from optconform.reference.model import get
from optconform.reference.mpfr_run import attempt, state_in, state_map, value_in
from optconform.reference.scenarios import cases
from optconform.reference.tensor import Tensor
from optconform.reference.tolerance import flatten, lead_exponent, ulp
from optconform.reference.trajectory import run

finite = st.floats(allow_nan=False, allow_infinity=False)
DTYPES = list(N.FORMATS)


def both(fn, *args, bits=None, rounding=None):
    """fn(*args) in mpmath and in MPFR at the same precision and rounding, both as mpf."""
    with N.precision(bits=bits), N.directed(rounding):
        exact = fn(*(N.mpf(a) for a in args))
        with N.mpfr_arithmetic():
            fast = N.from_mpfr(fn(*(N.to_mpfr(N.mpf(a)) for a in args)))
    return exact, fast


@settings(max_examples=300, deadline=None)
@given(finite, finite, st.sampled_from([8, 11, 24, 53, 216]), st.sampled_from([None, "f", "c"]))
def test_the_four_operations_and_the_root_are_the_same_values(a, b, bits, rounding):
    ops = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, N.mul, N.fmax, N.fmin,
           lambda x, y: N.sqrt(abs(x))]
    if b != 0:
        ops += [lambda x, y: x / y, N.div]
    for op in ops:
        exact, fast = both(op, a, b, bits=bits, rounding=rounding)
        assert exact == fast


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e40, max_value=1e40),
       st.sampled_from(DTYPES), st.sampled_from(["n", "f", "c"]))
def test_round_to_a_format_is_the_same_in_both(x, dtype, rounding):
    """Subnormals, overflow (∞ to nearest, the largest finite value when rounding away from it)
    and directed roundings: MPFR in the format's own context against numeric.round_to. An overflow
    to ∞ leaves MPFR (the run is redone in mpmath)."""
    with N.precision():
        want = N.round_to(N.mpf(x), dtype, rounding)
        with N.mpfr_arithmetic():
            if mpmath.isinf(want):
                with pytest.raises(N.LeavesFiniteArithmetic):
                    N.round_to(N.to_mpfr(N.mpf(x)), dtype, rounding)
            else:
                assert N.from_mpfr(N.round_to(N.to_mpfr(N.mpf(x)), dtype, rounding)) == want


@settings(max_examples=200, deadline=None)
@given(finite.filter(bool), st.sampled_from(DTYPES))
def test_ulp_and_lead_exponent_agree(x, dtype):
    with N.precision(bits=24):
        want_lead, want_ulp = lead_exponent(N.mpf(x)), ulp(N.mpf(x), dtype)
        with N.mpfr_arithmetic():
            y = N.to_mpfr(N.mpf(x))
            assert lead_exponent(y) == want_lead
            assert N.from_mpfr(ulp(y, dtype)) == want_ulp


def test_conversions_are_exact_at_any_precision():
    third = mpmath.mpf(1) / 3  # 216 bits
    with N.precision(bits=8), N.mpfr_arithmetic():
        y = N.to_mpfr(third)
        assert N.from_mpfr(y) == third  # not rounded to the 8 bits of the context
        assert N.from_mpfr(y * 1) != third  # an operation rounds to them
        assert N.to_mpfr(0.1) == gmpy2.mpfr(0.1, 53)  # a float is read exactly


def test_constants_follow_the_arithmetic_in_use():
    assert type(N.num(1)) is type(mpmath.mpf(1))
    with N.mpfr_arithmetic():
        assert type(N.num(1)) is N.MPFR and type(N.operand(mpmath.mpf("0.96"))) is N.MPFR
        assert N.from_mpfr(N.operand(mpmath.mpf("0.96"))) == mpmath.mpf("0.96")


def test_an_mpmath_value_inside_an_mpfr_run_is_caught():
    """mpmath reads a foreign number through float(): an mpf that meets MPFR values would carry 53
    bits silently. What reads an MPFR run's results refuses an mpf among them: the conversion, the
    rounding spread and the one-step error."""
    from optconform.reference.tolerance import rounding_spread

    with N.mpfr_arithmetic():
        leaked = mpmath.mpf(1) + gmpy2.mpfr(1)
        with pytest.raises(N.MixedArithmetic):
            N.from_mpfr(leaked)
        row = [gmpy2.mpfr(1), leaked]
    exact = [[N.mpf(1), N.mpf(2)]]
    with pytest.raises(N.MixedArithmetic):
        rounding_spread(exact, [[row]], exact, "float32")


def test_values_that_are_not_finite_leave_mpfr():
    """mpmath's rules for NaN and ∞ (and the helpers' IEEE ones) are the reference's; MPFR's differ
    (∞/0 is ∞ where mpmath raises, 0/0 is NaN where it raises, −0), so MPFR never computes them."""
    with N.mpfr_arithmetic():
        with pytest.raises(N.LeavesFiniteArithmetic):
            value_in(mpmath.mpf("nan"))
        with pytest.raises(N.LeavesFiniteArithmetic):
            N.div(gmpy2.mpfr(1), gmpy2.mpfr(0))  # IEEE's ∞
        with pytest.raises(N.LeavesFiniteArithmetic):
            N.num("inf")
        with pytest.raises(gmpy2.InvalidOperationError):
            gmpy2.mpfr(0) / gmpy2.mpfr(0)
        with pytest.raises(ZeroDivisionError):  # as mpmath: an exact division by zero raises
            gmpy2.mpfr(1) / gmpy2.mpfr(0)
    assert attempt(lambda: N.div(gmpy2.mpfr(1), 0), lambda: "mpmath") == "mpmath"


def test_state_conversion_keeps_shared_tensors_shared():
    t = Tensor((2,), [mpmath.mpf(1), mpmath.mpf("0.5")])
    state = {"w": {"a": t, "b": t, "n": 3, "flag": True, "mu": mpmath.mpf("0.25")}}
    with N.mpfr_arithmetic():
        converted = state_in(state)
        assert converted["w"]["a"] is converted["w"]["b"]
        assert converted["w"]["n"] == 3 and converted["w"]["flag"] is True
        back = state_map(converted, N.from_mpfr, lambda v: Tensor(v.shape, [N.from_mpfr(x) for x in v.data]))
    assert back["w"]["a"].data == t.data and back["w"]["mu"] == mpmath.mpf("0.25")


def _correctly_rounded(exact_fn, bits: int, rounding: str | None = None):
    """exact_fn() computed at 400 bits, then rounded once to ``bits``."""
    with N.precision(bits=400):
        exact = exact_fn()
    with N.precision(bits=bits), N.directed(rounding):
        return +exact


def test_where_the_two_differ_mpfr_is_the_correctly_rounded_one():
    """mpmath's sums and non-integer powers are not always correctly rounded at a format's width,
    MPFR's are: the only differences between the arithmetics (no committed vector changes; three
    one-step documents of ADOPT, whose clip is n^(1/4), and Adafactor's 8-bit emulation of the
    zero_grad scenario, whose row means are sums)."""
    def mpfr_value(fn, *args, bits, rounding=None):
        with N.precision(bits=bits), N.directed(rounding), N.mpfr_arithmetic():
            return N.from_mpfr(fn(*(N.to_mpfr(a) for a in args)))

    def mpmath_value(fn, *args, bits, rounding=None):
        with N.precision(bits=bits), N.directed(rounding):
            return fn(*args)

    # 1 + 2⁻⁸ + 2⁻³⁰ at 8 bits: just above a tie, so it rounds up; mpmath.fsum drops terms more
    # than 2p bits below the running sum and rounds the tie to even
    terms = [N.mpf(1), N.mpf(2) ** -8, N.mpf(2) ** -30]
    right = _correctly_rounded(lambda: mpmath.fsum(terms), 8)
    assert right == N.mpf("1.0078125")
    assert mpfr_value(lambda *xs: N.fsum(xs), *terms, bits=8) == right
    assert mpmath_value(lambda *xs: mpmath.fsum(xs), *terms, bits=8) == 1
    # 81^e in float64 width, e the double nearest −0.8 (Adafactor's β₂ schedule t^−0.8 at t = 81
    # with its exponent rounded to the format)
    e = N.mpf(-0.8)
    right = _correctly_rounded(lambda: N.mpf(81) ** e, 53)
    assert mpfr_value(lambda a, b: a ** b, N.mpf(81), e, bits=53) == right
    assert mpmath_value(lambda a, b: a ** b, N.mpf(81), e, bits=53) != right
    # 16^0.25 = 2 exactly, which a directed rounding leaves as it is; mpmath returns 2 − 2⁻²³
    # toward −∞ and 2 + 2⁻²² toward +∞ at 24 bits
    for rounding, mpmath_result in (("f", N.mpf(2) - N.mpf(2) ** -23), ("c", N.mpf(2) + N.mpf(2) ** -22)):
        assert mpfr_value(lambda a, b: a ** b, N.mpf(16), N.mpf("0.25"), bits=24, rounding=rounding) == 2
        assert mpmath_value(lambda a, b: a ** b, N.mpf(16), N.mpf("0.25"), bits=24, rounding=rounding) == mpmath_result


EMULATIONS = [{"bits": 24}, {"bits": 8}, {"bits": 11}, {"store": "float32"}, {"store": "bfloat16", "store_rounding": "c"},
              {"store": "float16", "store_rounding": "f"}]


@pytest.mark.parametrize("algorithm", ["adam", "nadam", "muon", "rprop", "ftrl", "schedule_free_adamw", "ademamix",
                                       "lamb", "adopt", "sgd"])
def test_emulated_trajectories_are_the_same_in_both_arithmetics(algorithm):
    """Every emulation mode on every scenario of the algorithm's spec profile: the MPFR run's
    values equal the mpmath run's element for element (NaN where NaN), or both raise. (Adafactor's
    8-bit zero_grad run differs: a sum that mpmath rounds wrongly, the test above.)"""
    alg = get(algorithm)
    for case in cases(alg, alg.profiles["spec"]):
        for mode in EMULATIONS:
            try:
                want = [flatten(r, "optimizer") for r in run(case, **mode)]
            except ZeroDivisionError:
                with pytest.raises(ZeroDivisionError):
                    run(case, arithmetic="mpfr", **mode)
                continue
            got = [flatten(r, "optimizer") for r in run(case, arithmetic="mpfr", **mode)]
            for w, g in zip(want, got, strict=True):
                g = [N.from_mpfr(y) if type(y) is N.MPFR else y for y in g]  # mpf: the run left MPFR
                same = [x == y or (mpmath.isnan(x) and mpmath.isnan(y)) for x, y in zip(w, g, strict=True)]
                assert all(same), f"{algorithm}/{case.scenario} {mode}"
