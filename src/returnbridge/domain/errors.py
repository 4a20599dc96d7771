"""One rooted hierarchy of errors, each with a stable machine-readable code.

Expected business outcomes (an unknown SKU, an inactive product) are not raised: they become
exception records (see ``ExceptionCode``). What is raised here is a refusal to go on: a bad
master-data file, a request that breaks a rule, a store that cannot be reached.
"""

from __future__ import annotations

from enum import StrEnum


class ExceptionCode(StrEnum):
    """Stable codes of exception records: lines or events that cannot flow on their own."""

    UNKNOWN_SKU = "UNKNOWN_SKU"
    INACTIVE_SKU = "INACTIVE_SKU"
    UNMAPPED_REASON = "UNMAPPED_REASON"
    UNMAPPED_DISPOSITION = "UNMAPPED_DISPOSITION"
    UNMAPPED_GRADE = "UNMAPPED_GRADE"
    UNMAPPED_CHARGE = "UNMAPPED_CHARGE"
    GRADE_DISPOSITION_CONFLICT = "GRADE_DISPOSITION_CONFLICT"
    QUANTITY_MISMATCH = "QUANTITY_MISMATCH"
    INVALID_EVENT = "INVALID_EVENT"
    PROCESSING_FAILED = "PROCESSING_FAILED"
    AMAZON_REJECTED = "AMAZON_REJECTED"
    AMAZON_STUCK = "AMAZON_STUCK"
    CREDIT_OVERSTATED = "CREDIT_OVERSTATED"
    RFS_NOT_RECEIVED = "RFS_NOT_RECEIVED"
    OVER_RETURN = "OVER_RETURN"  # more units received than Amazon approved for an order + ASIN
    # Stock held back from Amazon (domain/stock.py): never guessed, never sent on returns alone.
    STOCK_SNAPSHOT_MISSING = "STOCK_SNAPSHOT_MISSING"  # no snapshot from the stock authority
    STOCK_SNAPSHOT_STALE = "STOCK_SNAPSHOT_STALE"  # the snapshot is older than the limit
    STOCK_DROP_HELD = "STOCK_DROP_HELD"  # a fall far below what Amazon confirmed: a person looks
    UNMAPPED_WAREHOUSE = "UNMAPPED_WAREHOUSE"  # a ZigZag DC with restocks and no Amazon warehouse


class ReturnBridgeError(Exception):
    """Root of every error returnbridge raises on purpose."""

    code = "returnbridge.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MasterDataError(ReturnBridgeError):
    """A catalog or mapping file breaks a rule; the message names file, row and field."""

    code = "masterdata.invalid"


class CatalogAmbiguity(MasterDataError):
    """Two catalog items answer to the same identifier."""

    code = "catalog.ambiguous"


class InvalidEvent(ReturnBridgeError):
    """An inbound event cannot be read; the message says which field and why."""

    code = "event.invalid"


class ExceptionActionRefused(ReturnBridgeError):
    """A resolution that would lose units or money, or that does not fit the exception."""

    code = "exception.action_refused"


class NotFound(ReturnBridgeError):
    """The record asked for does not exist."""

    code = "record.not_found"


class TokenRefused(ReturnBridgeError):
    """A token cannot be created or revoked as asked (a name in use, a token revoked already)."""

    code = "token.refused"


class StoreUnavailable(ReturnBridgeError):
    """The database cannot be reached or answered with a driver error."""

    code = "store.unavailable"


class AmazonRequestRejected(ReturnBridgeError):
    """Amazon refused a request as invalid (HTTP 400): resending it unchanged cannot help."""

    code = "amazon.request_rejected"

    def __init__(self, message: str, errors: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


class AmazonUnavailable(ReturnBridgeError):
    """Amazon did not accept a request after every retry (throttling, 5xx, lost connections)."""

    code = "amazon.unavailable"


class AmazonAuthRefused(ReturnBridgeError):
    """Amazon refused returnbridge's credentials or access: a person must change a setting or
    an authorisation, so the request is not retried. Not ``AmazonUnavailable``: the run stops
    here, and what was prepared stays prepared for the next run. The message names the setting
    to check and never holds a secret. Each cause has its own code (the subclasses); this one is
    for an LWA refusal of any other kind (``invalid_request``, ``unauthorized_client``, ...)."""

    code = "amazon.auth_refused"


class AmazonClientRefused(AmazonAuthRefused):
    """LWA answered ``invalid_client``: the app's client id or client secret is wrong."""

    code = "amazon.client_refused"


class AmazonGrantRefused(AmazonAuthRefused):
    """LWA answered ``invalid_grant``: the refresh token has expired, was revoked, or was issued
    to another app; the vendor must authorise the app again."""

    code = "amazon.grant_refused"


class AmazonAccessDenied(AmazonAuthRefused):
    """SP-API answered 403 ``Unauthorized`` to a freshly issued token: the vendor did not grant
    the app the operation's role, or the token is for another region."""

    code = "amazon.access_denied"
