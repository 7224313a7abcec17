"""Server-side amounts: catalog price x bounded quantity - capped coupon. The client sends no amount.

Caps come from configuration (`APP_BILLING_MAX_DISCOUNT_PERCENT`,
`APP_BILLING_MAX_DISCOUNT_MINOR`) and apply to the *effective* discount of every
coupon, whatever its kind: a coupon that would exceed either cap is refused
(not silently clipped), so a mis-entered coupon is noticed instead of sold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .catalog import Catalog, Price
from .coupons import Coupon, CouponStore
from .errors import DiscountAboveCapError, InvalidCouponError, QuantityOutOfRangeError
from .money import percent_of


@dataclass(frozen=True)
class DiscountCaps:
    """The most any coupon may take off one checkout."""

    max_percent: int
    max_minor: int


@dataclass(frozen=True)
class Quote:
    """What the server will charge, all in minor units of `currency`.

    Attributes:
        subtotal_minor: unit amount x quantity.
        discount_minor: the coupon's effective discount (already checked against the caps).
        amount_minor: subtotal - discount: the net price per period (tax is added by the provider
            or on the invoice, see tax.py).
        due_now_minor: what the hosted checkout charges today: 0 during a free trial.
    """

    price: Price
    quantity: int
    coupon_code: str | None
    subtotal_minor: int
    discount_minor: int
    amount_minor: int
    due_now_minor: int

    @property
    def currency(self) -> str:
        return self.price.currency


def discount_for(coupon: Coupon, subtotal_minor: int, currency: str) -> int:
    """The coupon's effective discount on `subtotal_minor` (never more than the subtotal)."""
    if coupon.percent_off is not None:
        return percent_of(subtotal_minor, coupon.percent_off)
    if coupon.currency != currency or coupon.amount_off_minor is None:
        raise InvalidCouponError
    return min(coupon.amount_off_minor, subtotal_minor)


def check_caps(discount_minor: int, subtotal_minor: int, caps: DiscountCaps) -> None:
    """Refuse a discount above either cap; compared exactly, without rounding."""
    if discount_minor > caps.max_minor:
        raise DiscountAboveCapError(
            f"the coupon discounts {discount_minor} minor units; the configured cap is {caps.max_minor}"
        )
    if Decimal(discount_minor) * 100 > Decimal(subtotal_minor) * caps.max_percent:
        raise DiscountAboveCapError(f"the coupon discounts more than the configured cap of {caps.max_percent}%")


class Pricing:
    """Turns (price id, quantity, coupon code) into a Quote."""

    def __init__(self, catalog: Catalog, coupons: CouponStore, caps: DiscountCaps) -> None:
        self.catalog = catalog
        self._coupons = coupons
        self._caps = caps

    def quote(self, price_id: str, quantity: int, coupon_code: str | None, *, now: datetime) -> Quote:
        price = self.catalog.get(price_id)
        if not 1 <= quantity <= price.max_quantity:
            raise QuantityOutOfRangeError(price.max_quantity)
        subtotal = price.unit_amount * quantity
        discount = 0
        if coupon_code:
            discount = discount_for(self._coupons.find(coupon_code, now), subtotal, price.currency)
            check_caps(discount, subtotal, self._caps)
        amount = subtotal - discount
        due_now = 0 if price.trial_days else amount
        return Quote(price, quantity, coupon_code or None, subtotal, discount, amount, due_now)
