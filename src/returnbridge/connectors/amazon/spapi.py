"""``SpApiVendor``: the ``AmazonVendor`` port over python-amazon-sp-api.

The field's client library is pointed at Amazon's regional endpoint, or at the project's
sandbox, by configuration only: its ``endpoint`` attribute and an LWA token-client class built
from the configured token URL (the library has no setting for either; see
shared/reference/sp-api/NOTES.md §4). The library neither limits its rate nor retries, so
this adapter does both; it also keeps its own token cache that honours the token's
``expires_in`` (the library's cache keeps tokens for a fixed 3,200 s). A refusal of the
credentials is never retried: it raises ``AmazonAuthRefused`` (see ``refusals``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from sp_api.api import (
    VendorDirectFulfillmentInventory,
    VendorDirectFulfillmentTransactions,
    VendorInvoices,
    VendorTransactionStatus,
)
from sp_api.auth import AccessTokenClient, AccessTokenResponse
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import ApiResponse, SellingApiException
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiForbiddenException,
    SellingApiGatewayTimeoutException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from returnbridge.connectors.amazon.limits import RateLimiter, RetryPolicy
from returnbridge.connectors.amazon.refusals import (
    SettingNames,
    access_denied,
    lwa_is_unwell,
    lwa_refusal,
)
from returnbridge.domain.errors import AmazonRequestRejected, AmazonUnavailable
from returnbridge.services.ports import (
    CreditNote,
    InventoryPosition,
    TransactionError,
    TransactionStatus,
)

RETRYABLE = (
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
    SellingApiGatewayTimeoutException,
)


@dataclass(frozen=True)
class SpApiConfig:
    """Where Amazon is and who we are. Secrets never appear in logs or reprs."""

    endpoint: str
    lwa_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    selling_party: str
    remit_to_party: str
    timeout_seconds: float = 10.0
    names: SettingNames = field(default_factory=SettingNames)
    """Where these values come from, for the refusals that say which setting to check."""


@dataclass
class CallStats:
    """What it cost to talk to Amazon: submissions (retries included) counted apart from polls."""

    calls: int = 0
    retries: int = 0
    throttled: int = 0  # of submissions (throttled calls), so a share of ``calls``
    throttled_polls: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    rejected_requests: int = 0
    status_polls: int = 0
    token_requests: int = 0
    # A clearing cycle sends on one thread and polls on another: counts go up under a lock.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def token_client_class(lwa_url: str, stats: CallStats) -> type[AccessTokenClient]:
    """An LWA token client for ``lwa_url`` that refreshes tokens before they expire."""
    parts = urlsplit(lwa_url)
    lock = threading.Lock()
    shared: dict[str, Any] = {"token": None, "expires": 0.0}

    class ConfiguredTokenClient(AccessTokenClient):  # type: ignore[misc]
        scheme = f"{parts.scheme}://"
        host = parts.netloc
        path = parts.path or "/auth/o2/token"

        def get_auth(self) -> AccessTokenResponse:
            # One token serves every client of this vendor (same app, same refresh token).
            with lock:
                if shared["token"] is None or time.monotonic() >= shared["expires"]:
                    url = self.scheme + self.host + self.path
                    stats.count("token_requests")
                    token = self._request(url, self.data, self.headers)
                    # Refresh a minute early, so no request carries a token about to lapse.
                    lifetime = max(1, int(token.get("expires_in", 3600)) - 60)
                    shared["expires"] = time.monotonic() + lifetime
                    shared["token"] = token
                return AccessTokenResponse(**shared["token"])

        def forget(self) -> None:
            with lock:
                shared["token"] = None

    return ConfiguredTokenClient


class SpApiVendor:
    """Implements ``returnbridge.services.ports.AmazonVendor``."""

    def __init__(
        self,
        config: SpApiConfig,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        stats: CallStats | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.stats = stats or CallStats()
        self.limiter = limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.sleep = sleep
        credentials = {
            "refresh_token": config.refresh_token,
            "lwa_app_id": config.client_id,
            "lwa_client_secret": config.client_secret,
        }
        token_class = token_client_class(config.lwa_url, self.stats)
        common: dict[str, Any] = {
            "credentials": credentials,
            "timeout": config.timeout_seconds,
            "auth_token_client_class": token_class,
        }
        self._inventory = VendorDirectFulfillmentInventory(**common)
        self._invoices = VendorInvoices(**common)
        self._df_status = VendorDirectFulfillmentTransactions(**common)
        self._retail_status = VendorTransactionStatus(**common)
        for client in (self._inventory, self._invoices, self._df_status, self._retail_status):
            client.endpoint = config.endpoint.rstrip("/")

    def close(self) -> None:
        for client in (self._inventory, self._invoices, self._df_status, self._retail_status):
            client.close()
            client._auth._transport.close()  # the library never closes its token client

    # -------------------------------------------------------------- submissions
    def submit_inventory(self, warehouse_id: str, positions: Sequence[InventoryPosition]) -> str:
        body = {
            "sellingParty": {"partyId": self.config.selling_party},
            "isFullUpdate": False,
            "items": [
                {
                    "vendorProductIdentifier": p.identifier,
                    **({"buyerProductIdentifier": p.asin} if p.asin else {}),
                    "availableQuantity": {"amount": p.quantity, "unitOfMeasure": "Each"},
                }
                for p in positions
            ],
        }
        response = self._send(
            "submitInventoryUpdate",
            lambda: self._inventory.submit_inventory_update(warehouse_id, inventory=body),
        )
        return _transaction_id(response)

    def submit_credit_notes(self, notes: Sequence[CreditNote]) -> str:
        invoices = [self._credit_note(note) for note in notes]
        response = self._send(
            "submitInvoices", lambda: self._invoices.submit_invoices({"invoices": invoices})
        )
        return _transaction_id(response)

    def _credit_note(self, note: CreditNote) -> dict[str, Any]:
        return {
            "invoiceType": "CreditNote",
            "id": note.number,
            "date": note.issued_at.isoformat(),
            "remitToParty": {"partyId": self.config.remit_to_party},
            "invoiceTotal": _money(note.total, note.currency),
            "items": [
                {
                    "itemSequenceNumber": n,
                    "vendorProductIdentifier": line.sku,
                    **({"amazonProductIdentifier": line.asin} if line.asin else {}),
                    "invoicedQuantity": {"amount": line.quantity, "unitOfMeasure": "Eaches"},
                    "netCost": _money(line.unit_amount, note.currency),
                    "creditNoteDetails": {
                        "returnsReferenceNumber": note.returns_reference,
                        "goodsReturnDate": note.goods_returned_at.isoformat(),
                        **({"rmaId": note.rma_id} if note.rma_id else {}),
                    },
                }
                for n, line in enumerate(note.lines, start=1)
            ],
        }

    # ------------------------------------------------------------------ status
    def inventory_status(self, transaction_id: str) -> TransactionStatus:
        response = self._send(
            "getTransactionStatus",
            lambda: self._df_status.get_transaction_status(transaction_id),
            poll=True,
        )
        return _status(transaction_id, response)

    def credit_note_status(self, transaction_id: str) -> TransactionStatus:
        response = self._send(
            "getTransaction",
            lambda: self._retail_status.get_transaction(transaction_id),
            poll=True,
        )
        return _status(transaction_id, response)

    def check_access(self, transaction_id: str = "doctor-probe-0") -> str:
        """Prove the credentials without changing anything (``returnbridge doctor``): an LWA
        token, then the status of a transaction that does not exist. Amazon answering that read
        404 (or 400) means the token and the role were accepted. A refusal of the credentials
        raises ``AmazonAuthRefused``; no answer, ``AmazonUnavailable``."""
        try:
            self._send(
                "getTransactionStatus",
                lambda: self._df_status.get_transaction_status(transaction_id),
                poll=True,
            )
        except AmazonRequestRejected:
            return "LWA token issued; getTransactionStatus answered 400 (expected)"
        except AmazonUnavailable as exc:
            if isinstance(exc.__cause__, SellingApiNotFoundException):
                return "LWA token issued; getTransactionStatus answered 404 (expected)"
            raise
        return "LWA token issued; getTransactionStatus answered"

    # ------------------------------------------------------------------ the wire
    def _send(
        self, operation: str, request: Callable[[], ApiResponse], poll: bool = False
    ) -> ApiResponse:
        """One logical request: paced, retried on throttling, 5xx and lost connections.
        A refusal of the credentials (LWA's ``invalid_client`` or ``invalid_grant``, or a 403
        that a fresh token meets too) is not retried: it raises ``AmazonAuthRefused``."""
        last: Exception | None = None
        renewed = False
        for attempt in range(self.retry.attempts):
            if poll:
                self.stats.count("status_polls")
            else:
                self.stats.count("calls")
                if attempt:
                    self.stats.count("retries")
            try:
                self._token_first()
                with self.limiter.paced(operation):
                    response = request()
            except AuthorizationError as exc:
                if not lwa_is_unwell(exc):
                    secrets = (self.config.client_secret, self.config.refresh_token)
                    raise lwa_refusal(exc, self.config.names, secrets) from exc
                self.stats.count("server_errors")  # LWA itself failed (429, 5xx): retried
                last = exc
            except SellingApiBadRequestException as exc:
                self.stats.count("rejected_requests")
                errors = tuple(
                    (e.get("code", ""), e.get("message", ""), e.get("details", ""))
                    for e in (exc.error or [])
                )
                raise AmazonRequestRejected(
                    f"Amazon refused {operation}: {exc.message}", errors
                ) from exc
            except SellingApiForbiddenException as exc:
                # An expired or revoked token: fetch a new one once. Refused again, the token
                # is not the problem: the app lacks the role, or the region is wrong.
                if renewed:
                    c = self.config
                    raise access_denied(
                        operation, exc, c.names, c.selling_party, c.endpoint
                    ) from exc
                renewed = True
                self._forget_tokens()
                last = exc
                continue
            except RETRYABLE as exc:
                if isinstance(exc, SellingApiRequestThrottledException):
                    if poll:
                        self.stats.count("throttled_polls")
                    else:
                        self.stats.count("throttled")
                    self.limiter.drain(operation)
                else:
                    self.stats.count("server_errors")
                last = exc
            except httpx.TransportError as exc:
                self.stats.count("connection_errors")
                last = exc
            except SellingApiException as exc:
                raise AmazonUnavailable(f"Amazon answered {operation} with {exc!r}") from exc
            else:
                self.limiter.observe(operation, response.rate_limit)
                return response
            self.sleep(self.retry.delay(attempt, self.rng))
        raise AmazonUnavailable(
            f"Amazon did not accept {operation} after {self.retry.attempts} attempts: {last!r}"
        )

    def _token_first(self) -> None:
        """Have the access token in hand before taking a pacing slot: an LWA round trip between
        the slot and the request would let requests reach Amazon closer together than paced.
        LWA's answer is handled as the request's own would be (refusal, retry)."""
        self._inventory._auth.get_auth()  # cached: no request while the token is valid

    def _forget_tokens(self) -> None:
        self._inventory._auth.forget()  # the token is shared: forgetting once renews all


def _money(minor: int, currency: str) -> dict[str, str]:
    sign = "-" if minor < 0 else ""
    return {"currencyCode": currency, "amount": f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"}


def _transaction_id(response: ApiResponse) -> str:
    transaction_id = (response.payload or {}).get("transactionId")
    if not transaction_id:
        raise AmazonUnavailable(f"Amazon accepted a submission without a transactionId: {response}")
    return str(transaction_id)


def _status(transaction_id: str, response: ApiResponse) -> TransactionStatus:
    payload = response.payload or {}
    status = payload.get("transactionStatus") or {}
    if "status" not in status:
        raise AmazonUnavailable(f"no transaction status for {transaction_id}: {payload}")
    return TransactionStatus(
        transaction_id=str(status.get("transactionId", transaction_id)),
        status=str(status["status"]),
        errors=tuple(
            TransactionError(
                str(e.get("code", "")), str(e.get("message", "")), str(e.get("details", "") or "")
            )
            for e in status.get("errors") or ()
        ),
    )
