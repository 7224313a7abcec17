"""Coupons live in Postgres (`billing_coupons`), never in the request: a client only names a code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, text

from .errors import InvalidCouponError
from .money import check_currency


@dataclass(frozen=True)
class Coupon:
    """A server-side discount: either `percent_off` or `amount_off_minor` (in `currency`)."""

    code: str
    percent_off: Decimal | None
    amount_off_minor: int | None
    currency: str | None
    active: bool
    expires_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.active and (self.expires_at is None or now < self.expires_at)


class CouponStore:
    """Reads coupons; `create` is for administrators and tests (the table's CHECK validates shape)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(self, code: str, now: datetime) -> Coupon:
        """The usable coupon `code`, or InvalidCouponError (unknown, inactive and expired look alike)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT code, percent_off, amount_off_minor, currency, active, expires_at "
                    "FROM billing_coupons WHERE code = :code"
                ),
                {"code": code},
            ).first()
        if row is None:
            raise InvalidCouponError
        coupon = Coupon(*row)
        if not coupon.usable(now):
            raise InvalidCouponError
        return coupon

    def create(
        self,
        code: str,
        *,
        percent_off: Decimal | None = None,
        amount_off_minor: int | None = None,
        currency: str | None = None,
        expires_at: datetime | None = None,
    ) -> Coupon:
        if (percent_off is None) == (amount_off_minor is None):
            raise ValueError("a coupon has exactly one of percent_off and amount_off_minor")
        currency = check_currency(currency) if currency else None
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO billing_coupons (code, percent_off, amount_off_minor, currency, expires_at) "
                    "VALUES (:code, :percent_off, :amount_off_minor, :currency, :expires_at)"
                ),
                {
                    "code": code,
                    "percent_off": percent_off,
                    "amount_off_minor": amount_off_minor,
                    "currency": currency,
                    "expires_at": expires_at,
                },
            )
        return Coupon(code, percent_off, amount_off_minor, currency, True, expires_at)
