"""How the samples print numbers. Facts store the printed form, so one formatter per kind of number."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_cents(amount: Decimal) -> Decimal:
    """Half-up rounding to cents, as invoices and tills do (Python's default would round half to even)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    """``2390.5`` -> ``2,390.50``."""
    return f"{round_cents(amount):,.2f}"


def thousands(n: int) -> str:
    """``291259`` -> ``291,259``."""
    return f"{n:,}"


def percent(value: Decimal, digits: str = "0.1") -> str:
    """``Decimal("17.6896")`` -> ``17.7%``; ``digits`` is the quantum (``"1"`` for whole percents)."""
    return f"{value.quantize(Decimal(digits), rounding=ROUND_HALF_UP)}%"


def growth(current: Decimal, previous: Decimal) -> str:
    """Change of ``current`` over ``previous``, e.g. ``15.5%``."""
    return percent((current / previous - 1) * 100)
