"""IEEE formats, exact decimal I/O and NaN-propagating helpers, against independent oracles."""
import math
import struct

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.numeric import (FORMATS, div, fmax, fmin, mpf, precision, representable, round_to,
                                          sign, sqrt, to_decimal, to_mpf)


def f32(x: float) -> float:
    """float32 rounding by the C library (round to nearest even), an oracle independent of the code."""
    return struct.unpack("f", struct.pack("f", x))[0]


def test_format_constants_are_the_ieee_ones():
    assert FORMATS["float64"].eps == mpf(2) ** -52
    assert FORMATS["float32"].eps == mpf(2) ** -23
    assert FORMATS["bfloat16"].eps == mpf(2) ** -7
    assert FORMATS["float16"].eps == mpf(2) ** -10
    assert float(FORMATS["float16"].largest) == 65504.0
    assert float(FORMATS["float32"].largest) == 3.4028234663852886e38
    assert float(FORMATS["float64"].largest) == 1.7976931348623157e308
    assert FORMATS["float16"].smallest_subnormal == mpf(2) ** -24


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38))
def test_round_to_float32_matches_the_c_cast(x):
    assert float(round_to(mpf(x), "float32")) == f32(x)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_double_is_float64_representable_and_reads_back_exactly(x):
    assert representable(mpf(x), "float64")
    with precision(64):
        assert float(to_mpf(to_decimal(mpf(x)))) == x


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30))
def test_representable_in_float32_iff_the_cast_is_exact(x):
    assert representable(mpf(x), "float32") == (f32(x) == x)


def test_representable_edges():
    assert representable(mpf(2) ** -24, "float16") and not representable(mpf(2) ** -25, "float16")
    assert representable(65504, "float16") and not representable(65505, "float16")
    assert representable(mpf(255) / 128, "bfloat16") and not representable(mpf(257) / 256, "bfloat16")
    assert representable(mpf("0.1") * 0 + mpf(1) / 1024, "float16")
    assert not representable(mpf("0.1"), "float64")  # 0.1 is not a binary fraction


def test_round_to_ties_to_even_and_overflow():
    one = mpf(1)
    assert round_to(one + mpf(2) ** -24, "float32") == one  # tie -> even (1)
    assert round_to(one + 3 * mpf(2) ** -24, "float32") == one + mpf(2) ** -22  # tie -> even
    assert round_to(mpf(70000), "float16") == mpmath.inf
    assert round_to(mpf(2) ** -26, "float16") == 0  # below half the smallest subnormal


def test_to_decimal_spellings():
    assert to_decimal(mpf("0.5")) == "0.5"
    assert to_decimal(mpf(1) / 3) == "0.3333333333333333333333333333333333333333"
    assert to_decimal(mpf(2) ** -24) == "5.9604644775390625e-8"
    assert to_decimal(mpf("1e-8")) == "1e-8"
    assert to_decimal(mpf("nan")) == "NaN" and to_decimal(mpf("-inf")) == "-Infinity"
    assert to_decimal(mpf(0)) == "0"
    assert to_decimal(mpf(12345)) == "12345"


def test_decimal_strings_are_read_exactly_not_through_float():
    with precision(64):
        assert to_mpf("0.1") != mpf(0.1)
        assert to_mpf("1/3") * 3 == 1 or abs(to_mpf("1/3") * 3 - 1) < mpf(10) ** -60


def test_nan_propagating_helpers():
    nan = mpf("nan")
    assert mpmath.isnan(fmax(nan, 1)) and mpmath.isnan(fmax(1, nan))
    assert mpmath.isnan(fmin(nan, 1))
    assert fmax(2, 3) == 3 and fmin(2, 3) == 2
    assert mpmath.isnan(sign(nan)) and sign(mpf(-2)) == -1 and sign(mpf(0)) == 0
    assert mpmath.isnan(sqrt(mpf(-1)))
    assert div(mpf(1), mpf(0)) == mpmath.inf and mpmath.isnan(div(mpf(0), mpf(0)))
    assert mpmath.isnan(div(mpmath.inf, mpmath.inf))


def test_precision_context_restores():
    before = mpmath.mp.dps
    with precision(100):
        assert mpmath.mp.dps == 100
    assert mpmath.mp.dps == before
    with pytest.raises(ValueError):
        with precision(5):
            pass


def test_float_rounding_oracle_sanity():
    assert f32(0.1) != 0.1 and math.isclose(f32(0.1), 0.1, rel_tol=1e-7)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2 ** 200), max_value=2 ** 200).filter(bool), st.integers(min_value=-400, max_value=200))
def test_to_decimal_is_correctly_rounded_ties_to_even(man, exp):
    """Against Python's decimal module (an independent oracle): man·2^exp rounded to 40 digits,
    half to even. Dyadic numbers with long expansions hit exact decimal ties often."""
    import decimal

    with precision(80):
        x = mpmath.ldexp(mpf(man), exp)
        got = to_decimal(x)
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    with decimal.localcontext(decimal.Context(prec=2000)):
        exact = decimal.Decimal(man) * (decimal.Decimal(2) ** exp) if exp >= 0 else \
            decimal.Decimal(man) / (decimal.Decimal(2) ** -exp)
    assert decimal.Decimal(got) == ctx.plus(exact)


def test_to_decimal_tie_cases():
    # 2^-25 = 2.98023223876953125e-8 has 18 digits: exact. A 41-digit tie rounds to even:
    tie = mpf(1) + mpf(2) ** -40  # 1.0000000000009094947017729282379150390625 (41 digits, ends in 5)
    with precision(64):
        assert to_decimal(tie) == "1.000000000000909494701772928237915039062"
        assert to_decimal(-tie) == "-1.000000000000909494701772928237915039062"


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-6e4, max_value=6e4),
       st.sampled_from(["float32", "bfloat16", "float16"]))
def test_directed_rounding_brackets_the_value_with_neighbours(x, dtype):
    """floor(x) ≤ x ≤ ceil(x), both are values of the format, they are equal exactly when x is
    representable, and otherwise they are adjacent: nearest rounding picks one of them."""
    third = mpf(x) / 3  # a value that is rarely representable
    lo, hi = round_to(third, dtype, "f"), round_to(third, dtype, "c")
    assert lo <= third <= hi
    assert representable(lo, dtype) and representable(hi, dtype)
    assert round_to(third, dtype) in (lo, hi)
    if representable(third, dtype):
        assert lo == hi
    else:
        assert lo < hi
        midpoint_ulp = hi - lo
        assert round_to(lo + midpoint_ulp / 4, dtype, "c") == hi  # nothing in between
        assert round_to(hi - midpoint_ulp / 4, dtype, "f") == lo


def test_directed_rounding_at_the_edges_of_the_range():
    big = FORMATS["float16"].largest
    assert round_to(big + 1, "float16", "f") == big  # rounds down to the largest finite value
    assert round_to(big + 1, "float16", "c") == mpmath.inf
    assert round_to(-(big + 1), "float16", "c") == -big
    tiny = FORMATS["float16"].smallest_subnormal
    assert round_to(tiny / 3, "float16", "c") == tiny
    assert round_to(tiny / 3, "float16", "f") == 0
    assert round_to(-tiny / 3, "float16", "f") == -tiny


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False),
       st.integers(-1100, 1100))
def test_the_spreads_float_difference_is_mpfs(a, b, shift):
    """The rounding spread takes float(y − x) on mpmath's raw values: the same float as mpf's own
    subtraction at the working precision, for values past float64's range too (then ±inf or 0)."""
    from optconform.reference.tolerance import _float_difference

    with precision():
        y, x = mpf(a) * mpf(2) ** shift / 3, mpf(b) / 7
        assert _float_difference(y, x) == float(y - x)
