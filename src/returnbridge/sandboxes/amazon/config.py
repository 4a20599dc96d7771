"""``SandboxConfig``: every knob of the Amazon SP-API vendor sandbox, in one frozen object."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from returnbridge.sandboxes.amazon.catalog import (
    DF_STATUS,
    RETAIL_STATUS,
    SUBMIT_INVENTORY,
    SUBMIT_INVOICES,
)

DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.returnbridge-sandbox"
DEFAULT_CLIENT_SECRET = "returnbridge-sandbox-secret"  # published: it only opens the sandbox
DEFAULT_REFRESH_TOKEN = "Atzr|returnbridge-sandbox-refresh-token"

# How ``with_faults`` spreads one total rate. Drops get the smallest share: they are the
# nastiest fault (the request was applied but the caller cannot know), so a little goes far.
FAULT_SHARES = {"throttle_storm_rate": 0.4, "error_rate": 0.4, "drop_rate": 0.2}
SERVED_OPERATIONS = frozenset({SUBMIT_INVENTORY, SUBMIT_INVOICES, DF_STATUS, RETAIL_STATUS})
SET_KNOBS = (
    "refresh_tokens",
    "unauthorized_operations",
    "known_items",
    "known_invoices",
    "hold_operations",
)


def _frozen(values: Iterable[str]) -> frozenset[str]:
    return values if isinstance(values, frozenset) else frozenset(values)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves. The same config and seed give the same run, request for request.

    Rates are probabilities in [0, 1] drawn from RNGs seeded by ``seed``, one RNG per concern
    (faults, outcomes, ids), so turning one knob does not reshuffle the others.
    """

    seed: int = 0
    """Seeds every random choice: faults, rejections, stuck transactions and ids."""

    client_id: str = DEFAULT_CLIENT_ID
    """The LWA client id the token endpoint accepts."""
    client_secret: str = field(default=DEFAULT_CLIENT_SECRET, repr=False)
    """The LWA client secret the token endpoint accepts."""
    refresh_tokens: frozenset[str] = frozenset({DEFAULT_REFRESH_TOKEN})
    """Refresh tokens the token endpoint accepts; empty accepts any non-empty token."""
    token_ttl_seconds: int = 3600
    """Lifetime of an issued access token (LWA's own is 3600 s)."""
    unauthorized_operations: frozenset[str] = frozenset()
    """operationIds answered 403 ``Unauthorized`` even with a valid token, as SP-API answers an
    app the vendor did not grant the operation's role (empty: every operation is granted)."""

    rate_multiplier: float = 1.0
    """Scales every operation's rate and burst from the models (e.g. 100 for fast demos)."""

    polls_until_final: int = 1
    """Status reads answered ``Processing`` before the outcome shows (0: the first read)."""
    seconds_until_final: float | None = None
    """If set, the outcome also shows once this much time has passed since submission."""

    known_items: frozenset[str] = frozenset()
    """vendorProductIdentifier / ASIN values Amazon knows; empty: every identifier is known."""
    known_invoices: frozenset[str] = frozenset()
    """Invoice numbers a credit note may reference (plus invoices accepted by this sandbox);
    empty: every reference is known."""
    reject_rate: float = 0.0
    """Share of items (inventory items, invoices) Amazon rejects for no reason it states."""
    stuck_rate: float = 0.0
    """Share of transactions that stay ``Processing`` forever and are never applied."""

    error_rate: float = 0.0
    """Share of vendor requests answered 500 or 503 before any handling."""
    throttle_storm_rate: float = 0.0
    """Share of vendor requests answered 429 whatever the token bucket holds."""
    drop_rate: float = 0.0
    """Share of vendor requests processed in full whose connection is then cut mid-response."""
    slow_rate: float = 0.0
    """Share of vendor requests delayed by ``slow_seconds`` before handling."""
    slow_seconds: float = 2.0
    """The delay of a slow request."""
    hold_response_seconds: float = 0.0
    """Every vendor answer waits this long *after* the request was handled (crash tests kill
    the client in that window: the state changed, the client never heard)."""
    hold_operations: frozenset[str] = frozenset()
    """The operationIds ``hold_response_seconds`` applies to (empty: every vendor operation)."""
    hold_token_seconds: float = 0.0
    """Every LWA token answer waits this long (a client killed then has sent nothing)."""
    opening_stock: tuple[tuple[str, str, int], ...] = ()
    """(warehouseId, SKU, units) Amazon holds before any request: what the vendor's own feed
    told it, so that a vendor's first update lands on real stock, as it does at Amazon."""

    def __post_init__(self) -> None:
        # Accept plain sets and lists for the set-valued knobs; store them frozen.
        for name in SET_KNOBS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        for name in (
            "reject_rate",
            "stuck_rate",
            "error_rate",
            "throttle_storm_rate",
            "drop_rate",
            "slow_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SandboxConfig.{name} must be within [0, 1], got {value!r}")
        unknown = self.unauthorized_operations - SERVED_OPERATIONS
        if unknown:
            raise ValueError(
                f"SandboxConfig.unauthorized_operations: no such operation {sorted(unknown)!r}; "
                f"the sandbox serves {sorted(SERVED_OPERATIONS)!r}"
            )
        total = self.error_rate + self.throttle_storm_rate + self.drop_rate
        if total > 1.0 + 1e-9:
            raise ValueError(
                "SandboxConfig: error_rate + throttle_storm_rate + drop_rate must not exceed 1, "
                f"got {total!r}"
            )
        if self.rate_multiplier <= 0:
            raise ValueError(
                f"SandboxConfig.rate_multiplier must be > 0, got {self.rate_multiplier!r}"
            )
        if self.token_ttl_seconds <= 0:
            raise ValueError(
                f"SandboxConfig.token_ttl_seconds must be > 0, got {self.token_ttl_seconds!r}"
            )
        if self.polls_until_final < 0:
            raise ValueError(
                f"SandboxConfig.polls_until_final must be >= 0, got {self.polls_until_final!r}"
            )
        if self.hold_response_seconds < 0 or self.hold_token_seconds < 0:
            raise ValueError("SandboxConfig: hold times must be >= 0")
        if self.slow_seconds < 0:
            raise ValueError(f"SandboxConfig.slow_seconds must be >= 0, got {self.slow_seconds!r}")

    def with_faults(self, rate: float) -> SandboxConfig:
        """A copy whose vendor requests fail with total probability ``rate``.

        Spread as 40 % throttle storms (429), 40 % server errors (500/503) and 20 % drops.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"with_faults: rate must be within [0, 1], got {rate!r}")
        return replace(
            self,
            throttle_storm_rate=rate * FAULT_SHARES["throttle_storm_rate"],
            error_rate=rate * FAULT_SHARES["error_rate"],
            drop_rate=rate * FAULT_SHARES["drop_rate"],
        )

    def public_dict(self) -> dict[str, Any]:
        """The knobs as JSON-ready values, without the client secret."""
        data = asdict(self)
        data.pop("client_secret")
        for name in SET_KNOBS:
            data[name] = sorted(data[name])
        data["opening_stock"] = [list(position) for position in self.opening_stock]
        return data


def read_opening_stock(path: Path) -> tuple[tuple[str, str, int], ...]:
    """The positions of a snapshot file (``sandbox amazon --stock FILE``); ``as_of`` is not
    Amazon's business."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return tuple(
            (row["warehouse"].strip(), row["sku"].strip(), int(row["available"]))
            for row in csv.DictReader(handle)
        )
