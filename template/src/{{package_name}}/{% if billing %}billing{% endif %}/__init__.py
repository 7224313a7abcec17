"""Billing: hosted checkout, verified webhooks, server-side amounts, dual approval, sealed invoices.

Framework-free: the web adapter calls `Billing` (see `service.py`) and maps the
typed errors of `billing/errors.py` to HTTP. Card data never reaches this
code: checkout is always the provider's hosted page, hosted fields or drop-in
(PCI-DSS SAQ A, see docs/billing.md).
"""
