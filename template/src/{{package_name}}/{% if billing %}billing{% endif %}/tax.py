"""Tax/VAT by jurisdiction: a rules table plus one documented rounding rule.

Rounding (docs/billing.md, "Tax rounding"): tax is computed **per invoice and
per rate** -- the net amounts of all lines taxed at one rate are added first,
then multiplied by the rate and rounded **once, half-up** to the minor unit.
Why: per-line rounding drifts by up to half a minor unit per line (ten lines
of 0.02 EUR at 19% carry 0.0038 each, which rounds to 0.00 per line: no tax at
all, while the invoice-level 0.20 x 19% = 0.038 rounds to 0.04). The EU VAT
directive and HMRC both accept invoice-level rounding, and half-up is the
commercial rounding they expect.
Banker's rounding (half-even) is not used: it is a statistical device and
would disagree with the tax shown by most accounting systems.

Rates change; `RATES_AS_OF` says when the table was last reviewed. The US
table holds *state-level* rates for states that tax SaaS only (local rates are
not included): use the provider's tax engine where available (Stripe Tax;
Paddle is merchant of record and computes tax itself) and treat this table as
the documented fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from .errors import TaxError
from .money import round_minor

RATES_AS_OF = "2025-07-01"

#: Standard VAT rates of the EU member states (percent). Greece's VAT ids use the prefix EL.
EU_VAT_RATES: dict[str, Decimal] = {
    code: Decimal(rate)
    for code, rate in {
        "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25", "EE": "24",
        "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27", "IE": "23", "IT": "22",
        "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21", "PL": "23", "PT": "23", "RO": "21",
        "SE": "25", "SI": "22", "SK": "23",
    }.items()
}  # fmt: skip

#: ISO 3166-1 alpha-2: a customer country outside this list is refused, never taxed at 0% by default.
_ISO_ALPHA2 = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI "
    "BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN "
    "CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK "
    "FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK "
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
    "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF "
    "TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS YE YT ZA ZM ZW"
)
ISO_COUNTRIES: frozenset[str] = frozenset(_ISO_ALPHA2.split())

UK_VAT_RATE = Decimal("20")

#: State-level sales tax on SaaS, for the states that tax it (percent of the taxable base).
#: Texas taxes 80% of the price of data processing services: 6.25% x 0.8 = 5%.
US_SAAS_STATE_RATES: dict[str, Decimal] = {
    code: Decimal(rate)
    for code, rate in {
        "CT": "1", "NY": "4", "OH": "5.75", "PA": "6", "SC": "6", "TN": "7", "TX": "5", "UT": "6.1", "WA": "6.5",
    }.items()
}  # fmt: skip

_VAT_ID = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,12}$")


def _vat_prefix(country: str) -> str:
    return "EL" if country == "GR" else country


@dataclass(frozen=True)
class TaxCustomer:
    """Where the customer is and whether they buy as a VAT-registered business.

    Attributes:
        country: ISO 3166-1 alpha-2 (GB for the United Kingdom).
        region: the US state (two letters) when country is US.
        postal_code: needed by provider tax engines for US addresses (local rates).
        vat_id: a B2B customer's VAT registration number (format-checked here; validate it
            against VIES / HMRC when the customer is onboarded).
    """

    country: str
    region: str | None = None
    vat_id: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class TaxDecision:
    """The rate to apply and the legal note the invoice must carry."""

    jurisdiction: str
    rate_percent: Decimal
    reverse_charge: bool = False
    note: str = ""


@dataclass(frozen=True)
class TaxTotals:
    net_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_minor


class TaxEngine(Protocol):
    """Decides the tax treatment of a sale; the table below or a provider's engine."""

    def decide(self, customer: TaxCustomer) -> TaxDecision: ...


REVERSE_CHARGE_NOTE = "Reverse charge: VAT to be accounted for by the recipient (Article 196, Directive 2006/112/EC)."
UK_REVERSE_CHARGE_NOTE = "Reverse charge: customer to account for UK VAT to HMRC."


class TableTaxEngine:
    """The rules table: EU VAT (OSS destination rates, B2B reverse charge), UK VAT, US SaaS state rates."""

    def __init__(self, seller_country: str) -> None:
        self.seller_country = seller_country.upper()
        if self.seller_country not in EU_VAT_RATES and self.seller_country not in ("GB", "US"):
            # Its domestic sales would fall through to "outside the scope" and be taxed at 0%.
            raise TaxError(
                f"the tax table has no rules for a seller in {self.seller_country!r}: "
                "set APP_BILLING_SELLER_COUNTRY to an EU country, GB or US, or plug in a tax engine for it"
            )

    def decide(self, customer: TaxCustomer) -> TaxDecision:
        country = customer.country.strip().upper()
        if country not in ISO_COUNTRIES:
            raise TaxError(f"{customer.country!r} is not an ISO 3166-1 alpha-2 country code")
        vat_id = self._checked_vat_id(country, customer.vat_id)
        if country in EU_VAT_RATES:
            return self._eu(country, vat_id)
        if country == "GB":
            return self._uk(vat_id)
        if country == "US":
            return self._us(customer.region)
        return TaxDecision(country, Decimal(0), note="Outside the scope of EU/UK VAT and US sales tax.")

    def _eu(self, country: str, vat_id: str | None) -> TaxDecision:
        if vat_id and country != self.seller_country:
            # B2B across a border (or from outside the EU): the customer self-assesses.
            return TaxDecision(
                country, Decimal(0), reverse_charge=True, note=REVERSE_CHARGE_NOTE + f" VAT id {vat_id}."
            )
        # B2C is taxed where the customer is (OSS); domestic B2B at the domestic rate.
        return TaxDecision(country, EU_VAT_RATES[country], note=f"VAT {EU_VAT_RATES[country]}% ({country}).")

    def _uk(self, vat_id: str | None) -> TaxDecision:
        if vat_id and self.seller_country != "GB":
            return TaxDecision(
                "GB", Decimal(0), reverse_charge=True, note=UK_REVERSE_CHARGE_NOTE + f" VAT id {vat_id}."
            )
        return TaxDecision("GB", UK_VAT_RATE, note=f"VAT {UK_VAT_RATE}% (UK).")

    def _us(self, region: str | None) -> TaxDecision:
        if not region or not re.fullmatch(r"[A-Z]{2}", region.upper()):
            raise TaxError("a US customer needs a two-letter state for sales tax")
        state = region.upper()
        rate = US_SAAS_STATE_RATES.get(state, Decimal(0))
        note = f"Sales tax {rate}% ({state}, state rate)." if rate else f"{state} does not tax SaaS at state level."
        return TaxDecision(f"US-{state}", rate, note=note)

    @staticmethod
    def _checked_vat_id(country: str, vat_id: str | None) -> str | None:
        if not vat_id:
            return None
        normalized = re.sub(r"[\s.-]", "", vat_id.upper())
        if not _VAT_ID.fullmatch(normalized):
            raise TaxError("the VAT id is not well-formed")
        if normalized[:2] != _vat_prefix(country) and not (country == "GB" and normalized.startswith("GB")):
            raise TaxError("the VAT id does not belong to the customer's country")
        return normalized


def tax_totals(net_lines_minor: Iterable[int], decision: TaxDecision) -> TaxTotals:
    """Invoice-level rounding: sum the nets, apply the rate once, round half-up once."""
    net = sum(net_lines_minor)
    if net < 0:
        raise TaxError("an invoice cannot have a negative net total")
    tax = round_minor(Decimal(net) * decision.rate_percent / Decimal(100))
    return TaxTotals(net_minor=net, tax_minor=tax)
