"""Amazon vendor accounts as a brand has them: one Vendor Central account (vendor code,
currency, region) per marketplace, each owning its Amazon warehouses.

A ZigZag DC maps to an Amazon warehouse (``domain/stock.py``); the account that owns that
warehouse is the DC's account, so a DC maps to an (account, warehouse id) pair. Secrets are never
here: an account names the environment variables that hold its LWA credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Region(StrEnum):
    """The SP-API selling region: it picks the SP-API host."""

    EU = "eu"
    NA = "na"
    FE = "fe"


@dataclass(frozen=True)
class Marketplace:
    id: str
    country: str
    region: Region
    currency: str


# Amazon's marketplace ids (SP-API "Marketplace IDs"), their region and currency.
MARKETPLACES: Mapping[str, Marketplace] = {
    m.id: m
    for m in (
        Marketplace("A2EUQ1WTGCTBG2", "CA", Region.NA, "CAD"),
        Marketplace("ATVPDKIKX0DER", "US", Region.NA, "USD"),
        Marketplace("A1AM78C64UM0Y8", "MX", Region.NA, "MXN"),
        Marketplace("A2Q3Y263D00KWC", "BR", Region.NA, "BRL"),
        Marketplace("A28R8C7NBKEWEA", "IE", Region.EU, "EUR"),
        Marketplace("A1RKKUPIHCS9HS", "ES", Region.EU, "EUR"),
        Marketplace("A1F83G8C2ARO7P", "UK", Region.EU, "GBP"),
        Marketplace("A13V1IB3VIYZZH", "FR", Region.EU, "EUR"),
        Marketplace("AMEN7PMS3EDWL", "BE", Region.EU, "EUR"),
        Marketplace("A1805IZSGTT6HS", "NL", Region.EU, "EUR"),
        Marketplace("A1PA6795UKMFR9", "DE", Region.EU, "EUR"),
        Marketplace("APJ6JRA9NG5V4", "IT", Region.EU, "EUR"),
        Marketplace("A2NODRKZP88ZB9", "SE", Region.EU, "SEK"),
        Marketplace("AE08WJ6YKNBMC", "ZA", Region.EU, "ZAR"),
        Marketplace("A1C3SOZRARQ6R3", "PL", Region.EU, "PLN"),
        Marketplace("ARBP9OOSHTCHU", "EG", Region.EU, "EGP"),
        Marketplace("A33AVAJ2PDY3EV", "TR", Region.EU, "TRY"),
        Marketplace("A17E79C6D8DWNP", "SA", Region.EU, "SAR"),
        Marketplace("A2VIGQ35RCS4UG", "AE", Region.EU, "AED"),
        Marketplace("A21TJRUUN4KGV", "IN", Region.EU, "INR"),
        Marketplace("A19VAU5U5O7RUS", "SG", Region.FE, "SGD"),
        Marketplace("A39IBJ37TRP1C6", "AU", Region.FE, "AUD"),
        Marketplace("A1VC38T7YXB528", "JP", Region.FE, "JPY"),
    )
}


class ClaimStart(StrEnum):
    """The event a claim window is counted from."""

    REFUND = "refund"  # the customer's refund (SAFE-T's rule outside the US)
    LATER_OF_DELIVERY_AND_REFUND = "later_of_delivery_and_refund"  # the US rule from 2026-02-16


class ClaimRoute(StrEnum):
    """Where the account claims a return that came back damaged or as another product."""

    VENDOR_DISPUTE = "vendor-dispute"  # Vendor Central: Payments > Dispute management
    SAFE_T = "safe-t"  # Seller Central's SAFE-T claims

    @property
    def words(self) -> str:
        if self is ClaimRoute.SAFE_T:
            return "a SAFE-T claim in Seller Central"
        return "a dispute in Vendor Central (Payments > Dispute management > Vendor returns)"


@dataclass(frozen=True)
class ClaimRule:
    """How long an account has to claim a return, counted from which event, and where."""

    window_days: int = 60
    starts: ClaimStart = ClaimStart.REFUND
    route: ClaimRoute = ClaimRoute.VENDOR_DISPUTE

    def deadline(self, refunded_at: datetime, delivered_at: datetime | None) -> datetime:
        start = refunded_at
        if self.starts is ClaimStart.LATER_OF_DELIVERY_AND_REFUND and delivered_at is not None:
            start = max(refunded_at, delivered_at)
        return start + timedelta(days=self.window_days)


US = "ATVPDKIKX0DER"


def default_claim_rule(marketplace: str) -> ClaimRule:
    """Today's rules: 60 days from the refund; in the US, 30 days from the later of the
    return's delivery scan and the refund (Amazon's change effective 16 February 2026)."""
    if marketplace == US:
        return ClaimRule(30, ClaimStart.LATER_OF_DELIVERY_AND_REFUND)
    return ClaimRule()


@dataclass(frozen=True)
class Credentials:
    """The names of the environment variables that hold an account's LWA credentials."""

    client_id_env: str
    client_secret_env: str
    refresh_token_env: str


@dataclass(frozen=True)
class VendorAccount:
    """One Vendor Central account: where it sells, who it is, what it owns."""

    name: str
    region: Region
    marketplace: str  # Amazon's marketplace id
    selling_party: str  # the vendor code
    remit_to_party: str
    currency: str
    warehouses: tuple[str, ...]  # the Amazon warehouse ids it owns
    credentials: Credentials
    credit_note_series: str  # e.g. RBCN-UK: its credit notes are RBCN-UK-000001, ...
    claims: ClaimRule = ClaimRule()


@dataclass(frozen=True)
class Accounts:
    """Every vendor account, by name."""

    accounts: Mapping[str, VendorAccount] = field(default_factory=dict)

    def owner_of(self, warehouse_id: str) -> VendorAccount | None:
        for account in self.accounts.values():
            if warehouse_id in account.warehouses:
                return account
        return None

    def of_marketplace(self, marketplace: str) -> VendorAccount | None:
        found = [a for a in self.accounts.values() if a.marketplace == marketplace]
        return found[0] if len(found) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                "region": a.region.value,
                "marketplace": a.marketplace,
                "selling_party": a.selling_party,
                "remit_to_party": a.remit_to_party,
                "currency": a.currency,
                "warehouses": list(a.warehouses),
                "lwa_client_id_env": a.credentials.client_id_env,
                "lwa_client_secret_env": a.credentials.client_secret_env,
                "lwa_refresh_token_env": a.credentials.refresh_token_env,
                "credit_note_series": a.credit_note_series,
                "claims": {
                    "window_days": a.claims.window_days,
                    "starts": a.claims.starts.value,
                    "route": a.claims.route.value,
                },
            }
            for name, a in sorted(self.accounts.items())
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Accounts:
        return cls(
            {
                name: VendorAccount(
                    name=name,
                    region=Region(a["region"]),
                    marketplace=a["marketplace"],
                    selling_party=a["selling_party"],
                    remit_to_party=a["remit_to_party"],
                    currency=a["currency"],
                    warehouses=tuple(a["warehouses"]),
                    credentials=Credentials(
                        a["lwa_client_id_env"],
                        a["lwa_client_secret_env"],
                        a["lwa_refresh_token_env"],
                    ),
                    credit_note_series=a["credit_note_series"],
                    claims=ClaimRule(
                        int(a["claims"]["window_days"]),
                        ClaimStart(a["claims"]["starts"]),
                        ClaimRoute(a["claims"]["route"]),
                    )
                    if "claims" in a
                    else default_claim_rule(a["marketplace"]),
                )
                for name, a in data.items()
            }
        )


__all__ = [
    "MARKETPLACES",
    "Accounts",
    "ClaimRoute",
    "ClaimRule",
    "ClaimStart",
    "Credentials",
    "Marketplace",
    "Region",
    "VendorAccount",
    "default_claim_rule",
]
