"""The chunker polynomial of a restic repository config: a random irreducible polynomial of
degree 53 over GF(2), tested with Ben-Or's algorithm as restic/chunker does (`Pol.Irreducible`)."""

from __future__ import annotations

from typing import Callable

#: restic's content-defined chunking bounds, which ours follows.
MIN_CHUNK = 512 * 1024
MAX_CHUNK = 8 * 1024 * 1024


def _mod(a: int, m: int) -> int:
    while a.bit_length() >= m.bit_length():
        a ^= m << (a.bit_length() - m.bit_length())
    return a


def _mulmod(a: int, b: int, m: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a = _mod(a << 1, m)
    return _mod(result, m)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, _mod(a, b)
    return a


def is_irreducible(poly: int) -> bool:
    """True when `poly` (bit i = coefficient of x^i) has no factor of lower degree over GF(2)."""
    x_power = 2  # x
    for _ in range((poly.bit_length() - 1) // 2):
        x_power = _mulmod(x_power, x_power, poly)  # x^(2^i) mod poly
        if _gcd(poly, _mod(x_power ^ 2, poly)) != 1:
            return False
    return True


def random_polynomial(random64: Callable[[], int]) -> int:
    """A random irreducible degree-53 polynomial, drawing 64-bit integers from `random64`."""
    while True:
        poly = (random64() & ((1 << 54) - 1)) | (1 << 53) | 1
        if poly.bit_length() == 54 and is_irreducible(poly):
            return poly
