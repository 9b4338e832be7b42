"""Exact arithmetic helpers: working precision, decimal I/O, IEEE formats, non-finite values.

The reference computes in mpmath at ``DEFAULT_DPS`` significant decimal digits (configurable
with :func:`precision`).  That default is chosen so that 1,000 steps of any algorithm are exact to
at least ``VECTOR_DIGITS`` (40) significant digits; ``tests/test_precision.py`` proves it by
recomputing at twice the precision.

Values leave the reference as decimal strings (:func:`to_decimal`) with ``VECTOR_DIGITS``
significant digits, correctly rounded from the working precision, and non-finite values as
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (the spellings JSON parsers and ``float()`` accept).

The emulations of spec/tolerance.md (every operation rounded to a format's width, or parameters
stored in it) run the same algorithm code on MPFR values through gmpy2 instead
(:func:`mpfr_arithmetic`): +, −, ×, ÷, √ and sums are correctly rounded in both libraries, so the
values are the same, and MPFR computes them several times faster. The helpers below (:func:`num`,
:func:`div`, :func:`sqrt`, :func:`fsum`, :func:`isnan`, ...) take either kind of number and answer
in the arithmetic in use; reference/mpfr_run.py converts a run's inputs and results.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Iterator, Union

import gmpy2
import mpmath
from mpmath import libmp

DEFAULT_DPS = 64
VECTOR_DIGITS = 40

mpf = mpmath.mpf
_MPF = type(mpmath.mpf(0))  # the mpf class of the global context
Number = Union[int, float, str, "mpmath.mpf"]

NAN = mpmath.mpf("nan")
INF = mpmath.mpf("inf")
ZERO = mpmath.mpf(0)
ONE = mpmath.mpf(1)

mpmath.mp.dps = DEFAULT_DPS


@contextlib.contextmanager
def precision(dps: int | None = None, bits: int | None = None) -> Iterator[int]:
    """Run a block at ``dps`` significant decimal digits (default ``DEFAULT_DPS``), or — to emulate
    a floating-point format's rounding — at ``bits`` significand bits (every operation rounded to
    nearest at that width)."""
    saved = mpmath.mp.prec
    if bits is not None:
        mpmath.mp.prec = int(bits)
    else:
        dps = DEFAULT_DPS if dps is None else int(dps)
        if dps < 20:
            raise ValueError(f"working precision must be at least 20 digits, got {dps}")
        mpmath.mp.dps = dps
    try:
        yield mpmath.mp.dps
    finally:
        mpmath.mp.prec = saved


@contextlib.contextmanager
def directed(rounding: str | None) -> Iterator[None]:
    """Round every mpmath operation in the block toward −∞ (``"f"``) or +∞ (``"c"``) instead of to
    nearest (``None`` leaves it): with ``precision(bits=p)``, the systematic extremes of a
    format's rounding, which the one-step spread uses."""
    if rounding is None:
        yield
        return
    saved = mpmath.mp._prec_rounding[1]
    mpmath.mp._prec_rounding[1] = rounding
    try:
        yield
    finally:
        mpmath.mp._prec_rounding[1] = saved


def to_mpf(value: Number) -> "mpmath.mpf":
    """Parse a number exactly: decimal strings are read to the working precision, never via float."""
    if isinstance(value, mpmath.mpf):
        return +value
    if isinstance(value, bool):
        return mpf(int(value))
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in ("nan", "+nan", "-nan"):
            return NAN
        if lowered in ("inf", "+inf", "infinity", "+infinity"):
            return INF
        if lowered in ("-inf", "-infinity"):
            return -INF
        if "/" in text:
            num, den = text.split("/", 1)
            return mpf(num) / mpf(den)
        return mpf(text)
    return mpf(value)


def is_finite(x) -> bool:
    return bool(mpmath.isfinite(x))


def to_decimal(x, digits: int = VECTOR_DIGITS) -> str:
    """Decimal string of ``x`` correctly rounded to ``digits`` significant digits, ties to even.

    The conversion is exact integer arithmetic on x = man·2^exp, so it does not depend on the
    mpmath version (mpmath 1.3 and 1.4 round decimal ties differently).  Trailing zeros are
    stripped, so exact short values stay short (``0.5``); scientific notation is used outside
    ``1e-5 <= |x| < 1e17``.
    """
    raw = getattr(x, "_mpf_", None)
    if raw is None or not raw[1] or raw[3] > mpmath.mp.prec:  # not a finite non-zero mpf at this precision
        x = mpf(x)
        if mpmath.isnan(x):
            return "NaN"
        if mpmath.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        if x == 0:
            return "0"
        raw = x._mpf_
    negative, man, exp, _bc = raw
    # x = man·2^exp exactly = D·10^e10
    if exp >= 0:
        D, e10 = man << exp, 0
    else:
        D, e10 = man * 5 ** (-exp), exp
    text = str(D)
    extra = len(text) - digits
    if extra > 0:
        q, r = divmod(D, 10 ** extra)
        half = 5 * 10 ** (extra - 1)
        if r > half or (r == half and q % 2 == 1):
            q += 1
        D, e10 = q, e10 + extra
        text = str(D)
        if len(text) > digits:  # rounding carried into a new digit (999.. -> 1000..)
            D //= 10
            e10 += 1
            text = str(D)
    stripped = text.rstrip("0")
    e10 += len(text) - len(stripped)
    text = stripped
    point = len(text) + e10  # the decimal exponent of the leading digit is point - 1
    sign = "-" if negative else ""
    if -4 <= point - 1 < 17:
        if e10 >= 0:
            body = text + "0" * e10
        elif point > 0:
            body = text[:point] + "." + text[point:]
        else:
            body = "0." + "0" * (-point) + text
        return sign + body
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{point - 1:+d}" if point - 1 > 0 else f"{sign}{mantissa}e{point - 1}"


# --- MPFR arithmetic for the emulations -------------------------------------------------------

MPFR = type(gmpy2.mpfr(0))
GMPY_ROUNDING = {"n": gmpy2.RoundToNearest, "c": gmpy2.RoundUp, "f": gmpy2.RoundDown}
_WIDE = gmpy2.context(precision=4096)  # reads an mpf's significand exactly (any working precision here)
_mpfr_on = False  # inside mpfr_arithmetic: the helpers answer in MPFR


class MixedArithmetic(TypeError):
    """An mpf among the values of an MPFR emulation: some constant or function of the algorithm did
    not go through this module (num, fsum, sqrt, ...), and mpmath read an MPFR value through a float
    (53 bits) without a word."""

    def __init__(self):
        super().__init__("an mpmath value inside an MPFR emulation: some constant or function of the "
                         "algorithm did not go through reference/numeric.py (num, fsum, sqrt, ...)")


def refuse_mpf(values) -> None:
    """MixedArithmetic where one of ``values`` (the results of an MPFR emulation) is an mpf."""
    for x in values:
        if type(x) is _MPF:
            raise MixedArithmetic()


class LeavesFiniteArithmetic(Exception):
    """An MPFR emulation met a value that is not finite (a NaN or infinite input, an IEEE division
    by zero, an overflow to a format's infinity, an invalid operation): the run is repeated in
    mpmath, whose rules for those values (and the helpers' IEEE-like ones) the reference is written
    against. MPFR's own rules differ there: −0, ∞/0 = ∞ where mpmath raises, log(0)."""


@contextlib.contextmanager
def mpfr_arithmetic() -> Iterator[None]:
    """Run a block's arithmetic on MPFR values at mpmath's working precision and rounding (as set
    by :func:`precision` and :func:`directed` around it), the exponent unbounded as in mpmath.

    The block converts its inputs with :func:`to_mpfr` (reference/mpfr_run.py); mpf and MPFR values
    must not meet inside it (mpmath would read an MPFR value through a float): whoever reads its
    results checks them (:func:`refuse_mpf`, :func:`from_mpfr`). As mpmath's, an exact division of a finite
    non-zero value by zero raises ZeroDivisionError. The block computes with finite values only:
    an invalid operation (0/0, ∞ − ∞, √−1, a comparison with NaN) raises gmpy2's
    InvalidOperationError, and the helpers raise :class:`LeavesFiniteArithmetic` where they would
    return a non-finite value; the caller reruns such a block in mpmath."""
    global _mpfr_on
    prec, rounding = mpmath.mp._prec_rounding
    context = gmpy2.context(precision=prec, round=GMPY_ROUNDING[rounding], emax=gmpy2.get_emax_max(),
                            emin=gmpy2.get_emin_min(), trap_divzero=True, trap_invalid=True)
    saved = _mpfr_on
    _mpfr_on = True
    try:
        with context:
            yield
    finally:
        _mpfr_on = saved


def mpfr_active() -> bool:
    """Whether the arithmetic in use is MPFR (inside :func:`mpfr_arithmetic`)."""
    return _mpfr_on


def to_mpfr(x):
    """An mpf (or a float) as the MPFR value equal to it (exactly, whatever the working precision);
    integers, booleans, strings and None are returned as they are (exact operands in both
    libraries)."""
    t = type(x)
    if t is MPFR:
        return x
    if t is not _MPF:
        if t in (int, bool, str) or x is None:
            return x
        if t is float:
            return gmpy2.mpfr(x, 53)
        raise TypeError(f"to_mpfr: cannot read {t.__name__} {x!r} exactly")
    sign_, man, exp, bc = x._mpf_
    if not man:
        return _MPFR_SPECIAL[x._mpf_]
    if bc > _WIDE.precision:
        with gmpy2.context(precision=bc):
            return gmpy2.mul_2exp(gmpy2.mpz(-man if sign_ else man), exp)
    return _WIDE.mul_2exp(gmpy2.mpz(-man if sign_ else man), exp)


_MPFR_SPECIAL = {libmp.fzero: gmpy2.mpfr(0), libmp.fnan: gmpy2.mpfr("nan"), libmp.finf: gmpy2.mpfr("inf"),
                 libmp.fninf: gmpy2.mpfr("-inf")}


def from_mpfr(x):
    """An MPFR value as the mpf equal to it (exactly; −0 is 0, mpmath having no signed zero);
    integers, booleans, strings and None as they are. An mpf here is a value of the emulation that
    met mpmath's arithmetic (read through a float): MixedArithmetic."""
    t = type(x)
    if t is MPFR:
        if gmpy2.is_regular(x):
            man, exp = x.as_mantissa_exp()
            return _make(libmp.from_man_exp(man, int(exp)))
        if gmpy2.is_zero(x):
            return ZERO
        return NAN if gmpy2.is_nan(x) else (INF if x > 0 else -INF)
    if t is _MPF:
        raise MixedArithmetic()
    return x


def num(value):
    """A number of the arithmetic in use, rounded to the working precision as ``mpf(value)``
    rounds it: an mpf, or an MPFR value inside :func:`mpfr_arithmetic`. For the algorithms'
    constants (``num(1)``, ``num(t)``, ``num("0.96")``)."""
    if _mpfr_on:
        x = gmpy2.mpfr(to_mpfr(value) if type(value) is _MPF else value)
        if not gmpy2.is_finite(x):
            raise LeavesFiniteArithmetic(f"the constant {value!r}")
        return x
    return mpf(value)


def operand(x):
    """A module's constant (an mpf) as an exact operand of the arithmetic in use: itself, or the
    MPFR value equal to it inside :func:`mpfr_arithmetic`."""
    return to_mpfr(x) if _mpfr_on else x


def isnan(x) -> bool:
    if _mpfr_on:
        return gmpy2.is_nan(x)
    return mpmath.isnan(x)


def isfinite(x) -> bool:
    if _mpfr_on:
        return gmpy2.is_finite(x)
    return mpmath.isfinite(x)


def fsum(terms):
    """Σ terms rounded once to the working precision: MPFR's sum, or mpmath.fsum (which at a
    narrow width drops terms more than twice the precision below the running sum: spec/vectors.md)."""
    if _mpfr_on:
        return gmpy2.fsum(list(terms))
    return mpmath.fsum(terms)


def exp(x):
    return gmpy2.exp(x) if _mpfr_on else mpmath.exp(x)


def log(x):
    if _mpfr_on:
        if x == 0:
            raise LeavesFiniteArithmetic("log(0)")
        return gmpy2.log(x)
    return mpmath.log(x)


def exact_mul(a, b):
    """a·b exactly, whatever the working precision (mpmath.fmul(a, b, exact=True))."""
    if _mpfr_on:
        a, b = _exact_mpfr(a), _exact_mpfr(b)
        with gmpy2.context(precision=a.precision + b.precision, emax=gmpy2.get_emax_max(),
                           emin=gmpy2.get_emin_min()):
            return a * b
    return mpmath.fmul(a, b, exact=True)


def _exact_mpfr(x):
    """An MPFR value or an integer as an MPFR value equal to it."""
    if type(x) is MPFR:
        return x
    return gmpy2.mpfr(x, max(int(x).bit_length(), 2))


# --- IEEE formats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: ``precision`` significand bits (implicit bit included),
    normal exponents ``emin <= e <= emax`` for values ``1.f * 2**e``."""

    name: str
    precision: int
    emin: int
    emax: int

    @property
    def eps(self):
        """Machine epsilon: the distance from 1 to the next larger number, ``2**(1-p)``."""
        return mpf(2) ** (1 - self.precision)

    @property
    def smallest_subnormal(self):
        return mpf(2) ** (self.emin - self.precision + 1)

    @functools.cached_property
    def largest(self):
        return (2 - mpf(2) ** (1 - self.precision)) * mpf(2) ** self.emax


FORMATS = {
    "float64": Format("float64", 53, -1022, 1023),
    "float32": Format("float32", 24, -126, 127),
    "bfloat16": Format("bfloat16", 8, -126, 127),
    "float16": Format("float16", 11, -14, 15),
}
DTYPES = tuple(FORMATS)


ROUNDINGS = {"n": libmp.round_nearest, "c": libmp.round_ceiling, "f": libmp.round_floor}


def round_to(x, dtype: str, rounding: str = "n"):
    """Round ``x`` to ``dtype``: to nearest with ties to even (``rounding="n"``, the default), or
    toward +∞ (``"c"``) or −∞ (``"f"``), the directed roundings the rounding spread uses for the
    extremes of a one-ulp storage error. Subnormals are kept; a finite value past the largest
    overflows to ±∞ when rounding to nearest (directed rounding stops at the largest finite value
    in the direction away from the infinity it rounds from)."""
    if _mpfr_on:
        return _round_to_mpfr(x, dtype, rounding)
    fmt = FORMATS[dtype]
    raw = x._mpf_ if type(x) is _MPF else None
    if raw is None or raw[3] > mpmath.mp._prec_rounding[0]:
        x = mpf(x)  # read at the working precision (an mpf that fits it already is)
        raw = x._mpf_
    _s, man, exp, bc = raw
    if not man:  # zero, ±∞, NaN
        return x
    if exp + bc - 1 >= fmt.emin:  # normal range: round the significand to p bits
        raw = libmp.mpf_pos(raw, fmt.precision, ROUNDINGS[rounding])
        if raw[2] + raw[3] - 1 > fmt.emax:  # past the largest (a p-bit value above it has a larger exponent)
            positive = not raw[0]
            if rounding == "n" or (rounding == "c") == positive:
                return INF if positive else -INF
            return fmt.largest if positive else -fmt.largest
        return mpmath.mp.make_mpf(raw)
    sign = -1 if x < 0 else 1
    a = abs(x)
    man, exp = mpmath.frexp(a)  # a = man * 2**exp with 0.5 <= man < 1
    e = int(exp) - 1  # a = 1.f * 2**e
    e = max(e, fmt.emin)
    quantum = mpf(2) ** (e - fmt.precision + 1)
    with precision(max(mpmath.mp.dps, 40)):
        scaled = a / quantum
        q = mpmath.floor(scaled)
        rem = scaled - q
        if rounding == "n":
            if rem > 0.5 or (rem == 0.5 and int(q) % 2 == 1):
                q += 1
        elif rem > 0 and (rounding == "c") == (sign > 0):  # away from zero in the magnitude
            q += 1
        result = q * quantum
    if result > fmt.largest:
        return sign * INF
    return sign * result


def _ieee_context(dtype: str, rounding: str):
    """MPFR arithmetic in ``dtype`` itself: its precision, its exponent range (MPFR writes values
    0.1f·2^e, so e runs from emin − p + 2, the smallest subnormal, to emax + 1) and its subnormals."""
    fmt = FORMATS[dtype]
    return gmpy2.context(precision=fmt.precision, round=GMPY_ROUNDING[rounding], subnormalize=True,
                         emin=fmt.emin - fmt.precision + 2, emax=fmt.emax + 1)


_IEEE_CONTEXTS = {(d, r): _ieee_context(d, r) for d in FORMATS for r in GMPY_ROUNDING}


def _round_to_mpfr(x, dtype: str, rounding: str):
    """:func:`round_to` of an MPFR value: read at the working precision first (as round_to reads an
    mpf with more bits than it), then rounded in the format (IEEE overflow: ±∞ to nearest, the
    largest finite value in a directed rounding away from the infinity)."""
    if type(x) is not MPFR:
        x = gmpy2.mpfr(to_mpfr(x) if type(x) is _MPF else x)
    elif x.precision > gmpy2.get_context().precision:
        x = +x
    return _finite(_IEEE_CONTEXTS[dtype, rounding].plus(x))


def cast_mpfr(x, dtype: str):
    """An MPFR value (or integer) rounded to nearest in ``dtype``, read exactly whatever the working
    precision (effects.cast in an MPFR emulation)."""
    if type(x) is _MPF:
        raise MixedArithmetic()
    return _finite(_IEEE_CONTEXTS[dtype, "n"].plus(x))


def _finite(x):
    """``x``, an MPFR result, where it is finite (LeavesFiniteArithmetic: an overflow to ∞)."""
    if gmpy2.is_finite(x):
        return x
    raise LeavesFiniteArithmetic("a value rounded past a format's largest")


def representable(x, dtype: str) -> bool:
    """True when ``x`` is exactly a value of ``dtype`` (non-finite values always are).

    ``x = man·2^exp`` with ``man`` odd and ``bc`` bits: it is a value of the format when the
    significand fits (``bc <= p``), the leading bit is not above ``emax`` and the lowest bit is
    not below the smallest subnormal's ``emin − p + 1``.
    """
    x = mpf(x)
    if not mpmath.isfinite(x) or x == 0:
        return True
    fmt = FORMATS[dtype]
    _sign, man, exp, bc = x._mpf_
    return bc <= fmt.precision and exp + bc - 1 <= fmt.emax and exp >= fmt.emin - fmt.precision + 1


# --- IEEE-like operations on non-finite values ------------------------------------------------


# The helpers below are called for nearly every element of every emulated step, so each first
# reads the operands' raw mpf values (sign, significand, exponent, bit count): a non-zero
# significand means a finite non-zero value, ``_NAN_RAW`` is NaN. Where both operands are
# ordinary numbers the result is computed by the same libmp call that mpf's own operator or
# mpmath's function makes, at the working precision and rounding; the other cases take the
# general path.
_NAN_RAW = libmp.fnan
_make = mpmath.mp.make_mpf


def fmax(a, b):
    """``max`` that propagates NaN, as ``torch.maximum``, ``jnp.maximum`` and ``tf.maximum`` do."""
    if _mpfr_on:  # finite values only (a comparison with NaN raises there)
        return a if a >= b else b
    ra, rb = getattr(a, "_mpf_", _NAN_RAW), getattr(b, "_mpf_", _NAN_RAW)
    if ra != _NAN_RAW and rb != _NAN_RAW:
        return a if libmp.mpf_ge(ra, rb) else b
    if mpmath.isnan(a) or mpmath.isnan(b):
        return NAN
    return a if a >= b else b


def fmin(a, b):
    """``min`` that propagates NaN."""
    if _mpfr_on:
        return a if a <= b else b
    ra, rb = getattr(a, "_mpf_", _NAN_RAW), getattr(b, "_mpf_", _NAN_RAW)
    if ra != _NAN_RAW and rb != _NAN_RAW:
        return a if libmp.mpf_le(ra, rb) else b
    if mpmath.isnan(a) or mpmath.isnan(b):
        return NAN
    return a if a <= b else b


def sign(x):
    """sign(x) in {-1, 0, 1}; sign(NaN) = NaN, as in torch, jax and TensorFlow."""
    if _mpfr_on:
        return gmpy2.mpfr(1 if x > 0 else (-1 if x < 0 else 0))
    if mpmath.isnan(x):
        return NAN
    return mpf(1) if x > 0 else (mpf(-1) if x < 0 else ZERO)


def sqrt(x):
    """Square root; sqrt of a negative number is NaN (IEEE), not a complex number."""
    if _mpfr_on:
        return gmpy2.sqrt(x)  # below 0: an invalid operation
    raw = getattr(x, "_mpf_", None)
    if raw is not None and raw[1] and not raw[0]:  # finite and positive
        return _make(libmp.mpf_sqrt(raw, *mpmath.mp._prec_rounding))
    if mpmath.isnan(x) or x < 0:
        return NAN
    return mpmath.sqrt(x)


def div(a, b):
    """IEEE-like division: x/0 is ±inf, 0/0 and inf/inf are NaN."""
    if _mpfr_on:
        if b:
            return a / b
        raise LeavesFiniteArithmetic("an IEEE division by zero")
    ra, rb = getattr(a, "_mpf_", None), getattr(b, "_mpf_", None)
    if ra is not None and rb is not None and rb[1] and ra != _NAN_RAW:  # b finite non-zero, a not NaN
        return _make(libmp.mpf_div(ra, rb, *mpmath.mp._prec_rounding))
    if mpmath.isnan(a) or mpmath.isnan(b):
        return NAN
    if b == 0:
        if a == 0:
            return NAN
        return INF if a > 0 else -INF
    if mpmath.isinf(a) and mpmath.isinf(b):
        return NAN
    return a / b


def mul(a, b):
    """IEEE-like multiplication: 0 * inf is NaN."""
    if _mpfr_on:
        return a * b
    ra, rb = getattr(a, "_mpf_", None), getattr(b, "_mpf_", None)
    if ra is not None and rb is not None and ra[1] and rb[1]:  # both finite and non-zero
        return _make(libmp.mpf_mul(ra, rb, *mpmath.mp._prec_rounding))
    if (a == 0 and mpmath.isinf(b)) or (b == 0 and mpmath.isinf(a)):
        return NAN
    return a * b
