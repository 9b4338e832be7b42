"""ChainedScheduler: multipliers compound; in torch an absolute child overwrites the ones before it."""
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from ._sched_util import close, lrs

PROBE = [{"algorithm": "multiplicative", "hyper": {"fn": "constant", "c": "0.875"}},
         {"algorithm": "lambda_lr", "hyper": {"fn": "inverse", "c": "0.5"}}]


def test_product_vs_in_order():
    prod = lrs("chained", 10, lr="0.5", children=PROBE)
    torch = lrs("chained", 10, {"compose": "in_order"}, lr="0.5", children=PROBE)
    for k in range(10):
        assert close(prod[k], F(1, 2) * F(7, 8) ** k / (1 + F(k, 2)))
        assert close(torch[k], F(1, 2) / (1 + F(k, 2)))  # the LambdaLR overwrites the product


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, 20))
def test_recursive_after_absolute_applies_one_factor(k):
    # defaults: lambda_lr power 0.9 then multiplicative inverse 1/4.  The product compounds every
    # factor; in torch the LambdaLR resets the rate each step, so the recursive child contributes
    # only its current factor f(k) = 1/(1 + k/4) (none at k = 0)
    a = lrs("chained", k + 1)
    b = lrs("chained", k + 1, {"compose": "in_order"})
    product = F(1, 10) * F(9, 10) ** k
    for i in range(1, k + 1):
        product /= 1 + F(i, 4)
    last = F(1, 10) * F(9, 10) ** k / (1 + F(k, 4) if k else 1)
    assert close(a[k], product) and close(b[k], last)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, 20))
def test_only_recursive_children_agree(k):
    kids = [{"algorithm": "multiplicative", "hyper": {"fn": "constant", "c": "0.875"}},
            {"algorithm": "multiplicative", "hyper": {"fn": "inverse", "c": "0.5"}}]
    a = lrs("chained", k + 1, lr="0.5", children=kids)
    b = lrs("chained", k + 1, {"compose": "in_order"}, lr="0.5", children=kids)
    assert close(a[k], b[k])
