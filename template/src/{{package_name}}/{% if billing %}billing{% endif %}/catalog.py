"""Typed, validated view of `prices.py`; a malformed catalog stops the process at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationError
from .errors import UnknownPriceError
from .money import check_currency

Interval = Literal["month", "year"]


@dataclass(frozen=True)
class Price:
    """One sellable price.

    Attributes:
        id: what clients send (`price_id`).
        product / description: shown on the hosted checkout page and the invoice.
        unit_amount: minor units per unit, before discount and tax.
        currency: ISO 4217, upper case.
        interval: `month`/`year` for subscriptions, None for one-off purchases.
        trial_days: free-trial length for new subscriptions (0 = none).
        max_quantity: the most one checkout may buy.
    """

    id: str
    product: str
    description: str
    unit_amount: int
    currency: str
    interval: Interval | None
    trial_days: int
    max_quantity: int

    @property
    def recurring(self) -> bool:
        return self.interval is not None


def _price(raw: Mapping[str, object]) -> Price:
    try:
        price = Price(
            id=str(raw["id"]),
            product=str(raw["product"]),
            description=str(raw["description"]),
            unit_amount=int(raw["unit_amount"]),  # type: ignore[call-overload]
            currency=check_currency(str(raw["currency"])),
            interval=raw.get("interval"),  # type: ignore[arg-type]
            trial_days=int(raw.get("trial_days", 0)),  # type: ignore[call-overload]
            max_quantity=int(raw.get("max_quantity", 1)),  # type: ignore[call-overload]
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"price catalog entry {raw.get('id')!r} is invalid: {error}") from error
    if price.unit_amount <= 0 or price.max_quantity < 1 or price.trial_days < 0:
        raise ConfigurationError(f"price {price.id!r} needs a positive amount, max_quantity >= 1, trial_days >= 0")
    if price.interval not in (None, "month", "year"):
        raise ConfigurationError(f"price {price.id!r} has interval {price.interval!r}; use month, year or None")
    if price.trial_days and not price.recurring:
        raise ConfigurationError(f"price {price.id!r}: only subscriptions can have a trial")
    return price


class Catalog:
    """Prices by id."""

    def __init__(self, prices: Iterable[Price]) -> None:
        self._prices: dict[str, Price] = {}
        for price in prices:
            if price.id in self._prices:
                raise ConfigurationError(f"price {price.id!r} is defined twice")
            self._prices[price.id] = price

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, object]]) -> Catalog:
        return cls(_price(entry) for entry in entries)

    @classmethod
    def default(cls) -> Catalog:
        from .prices import PRICES

        return cls.from_entries(PRICES)

    def get(self, price_id: str) -> Price:
        try:
            return self._prices[price_id]
        except KeyError:
            raise UnknownPriceError(price_id) from None

    def __iter__(self):
        return iter(self._prices.values())
