"""The price catalog: the ONLY source of amounts. Edit freely; it is yours after generation.

A client never sends an amount: it names a price id and a quantity, and the
server computes the total from this table (billing/pricing.py). Amounts are in
minor units (cents). `interval` is None for one-off prices; `trial_days` gives
new subscriptions a free trial; `max_quantity` bounds what one checkout may buy.
"""

from __future__ import annotations

PRICES: list[dict[str, object]] = [
    {
        "id": "starter-monthly",
        "product": "Starter",
        "description": "Starter plan, monthly",
        "unit_amount": 1900,
        "currency": "EUR",
        "interval": "month",
        "trial_days": 0,
        "max_quantity": 50,
    },
    {
        "id": "pro-monthly",
        "product": "Pro",
        "description": "Pro plan, monthly, 14-day free trial",
        "unit_amount": 4900,
        "currency": "EUR",
        "interval": "month",
        "trial_days": 14,
        "max_quantity": 50,
    },
    {
        "id": "onboarding",
        "product": "Onboarding",
        "description": "One-off onboarding workshop",
        "unit_amount": 25000,
        "currency": "EUR",
        "interval": None,
        "trial_days": 0,
        "max_quantity": 5,
    },
]
