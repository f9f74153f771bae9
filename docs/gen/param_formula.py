"""A mixer's parameter count as a polynomial in its width D, fitted on built mixers, never typed.

The mixer is built on CPU at a few widths (one head, the 8x8 token grid of the CIFAR models) and
the exact polynomial through those counts is solved for in rational arithmetic, so a count such as
SWformer's `D^2/b + 10 s^2 + 2 s + 10 D` with s = D/4 comes out as `7D²/8 + 21D/2`. Four widths fit
up to a cubic; the tests check the result at a width it was not fitted on.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

GRID = (8, 8)
#: Widths the polynomial is fitted on: multiples of 16, so every block count and head count used divides them.
WIDTHS = (16, 32, 48, 64)
#: The head counts tried at one width: a count that changes with heads gets a note instead of a silent formula.
HEADS = (1, 4)
SUPERSCRIPTS = {2: "²", 3: "³"}


def parameter_count(name: str, dim: int, *, heads: int = 1, grid: tuple[int, int] = GRID) -> int:
    """Trainable parameters of the mixer `name` built for `dim` channels (BN statistics are buffers)."""
    import torch

    from fwformer.mixers import create_mixer

    torch.manual_seed(0)
    mixer = create_mixer(name, dim=dim, grid=grid, num_heads=heads)
    return sum(p.numel() for p in mixer.parameters() if p.requires_grad)


def solve(widths: Sequence[int], counts: Sequence[int]) -> tuple[Fraction, ...]:
    """Coefficients c_0 .. c_k (k = len - 1) of the polynomial through (width, count), exactly."""
    n = len(widths)
    rows = [[Fraction(w) ** j for j in range(n)] + [Fraction(c)] for w, c in zip(widths, counts)]
    for col in range(n):  # Gauss-Jordan on a Vandermonde system: distinct widths make it regular
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                rows[r] = [a - rows[r][col] * b for a, b in zip(rows[r], rows[col])]
    coefficients = [row[-1] for row in rows]
    while len(coefficients) > 1 and coefficients[-1] == 0:
        coefficients.pop()
    return tuple(coefficients)


def fit(name: str, widths: Sequence[int] = WIDTHS) -> tuple[Fraction, ...]:
    return solve(widths, [parameter_count(name, d) for d in widths])


def evaluate(coefficients: Sequence[Fraction], dim: int) -> Fraction:
    return sum((c * Fraction(dim) ** j for j, c in enumerate(coefficients)), Fraction(0))


def depends_on_heads(name: str, dim: int = WIDTHS[-1]) -> bool:
    return len({parameter_count(name, dim, heads=h) for h in HEADS}) > 1


def formula_text(coefficients: Sequence[Fraction]) -> str:
    """`4D² + 12D`, `7D²/8 + 21D/2`, `4D² + 109D + 8,856`, or `0`."""
    terms = []
    for power in range(len(coefficients) - 1, -1, -1):
        c = coefficients[power]
        if c == 0:
            continue
        sign = "-" if c < 0 else "+"
        c = abs(c)
        variable = "" if power == 0 else "D" + SUPERSCRIPTS.get(power, "")
        if power == 0:
            body = f"{c.numerator:,}" if c.denominator == 1 else f"{c.numerator:,}/{c.denominator}"
        else:
            numerator = "" if c.numerator == 1 else f"{c.numerator:,}"
            body = numerator + variable + ("" if c.denominator == 1 else f"/{c.denominator}")
        terms.append((sign, body))
    if not terms:
        return "0"
    first_sign, first = terms[0]
    text = ("-" if first_sign == "-" else "") + first
    return text + "".join(f" {sign} {body}" for sign, body in terms[1:])
