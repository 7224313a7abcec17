"""Amounts are integers in the currency's minor unit; arithmetic that divides uses Decimal.

Floats never touch money. Every division rounds exactly once, half-up (the
commercial rounding tax authorities expect; banker's rounding is for
statistics, not invoices), via `round_minor`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

#: ISO 4217 minor-unit exponents of the currencies the catalog may use.
CURRENCY_EXPONENTS: dict[str, int] = {"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "DKK": 2, "JPY": 0}


def check_currency(currency: str) -> str:
    """Return the upper-case code, or raise ValueError for a currency the catalog does not support."""
    code = currency.upper()
    if code not in CURRENCY_EXPONENTS:
        raise ValueError(f"unsupported currency {currency!r}")
    return code


def round_minor(value: Decimal | Fraction) -> int:
    """Round an exact amount of minor units to an integer, half-up (0.5 -> 1, -0.5 -> -1)."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount_minor: int, percent: Decimal) -> int:
    """`percent` % of an amount, rounded half-up to the minor unit."""
    return round_minor(Decimal(amount_minor) * percent / Decimal(100))


def to_major(amount_minor: int, currency: str) -> Decimal:
    """1900 EUR -> Decimal('19.00'): the form Braintree's API and the invoice PDF use."""
    exponent = CURRENCY_EXPONENTS[check_currency(currency)]
    return (Decimal(amount_minor) / (Decimal(10) ** exponent)).quantize(Decimal(1).scaleb(-exponent))


def format_amount(amount_minor: int, currency: str) -> str:
    return f"{to_major(amount_minor, currency):,} {currency.upper()}"
