"""Constant learning rate.

For update index k = 0, 1, ... (k = 0 is the first update) and learning rate η:

    η_k = η
"""
from __future__ import annotations


def horizon(h):
    return 10


def value(k, h, sem):
    return +h.lr
