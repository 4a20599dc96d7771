"""Amazon's refusals of returnbridge's credentials, as typed errors that say what to check.

LWA (the token endpoint) answers a refused refresh-token grant with an OAuth error body, which
python-amazon-sp-api raises as ``AuthorizationError(error_code, error_description, status)``:
``invalid_client`` (401) for a wrong client id or secret, ``invalid_grant`` (400) for a refresh
token that expired, was revoked or belongs to another app. SP-API answers 403 ``Unauthorized``
when a valid token lacks the operation's role (or is for another region); the library raises
``SellingApiForbiddenException``. None of these is helped by retrying, so each becomes an
``AmazonAuthRefused`` that stops the run with one line naming the setting to check.

The messages name settings, never their values: a secret or a refresh token never appears,
even if Amazon were to echo one in its description.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import SellingApiException

from returnbridge.domain.errors import (
    AmazonAccessDenied,
    AmazonAuthRefused,
    AmazonClientRefused,
    AmazonGrantRefused,
)

LEFT_PREPARED = "requests not sent stay prepared for the next run"


@dataclass(frozen=True)
class SettingNames:
    """The names of the settings an ``SpApiConfig``'s values come from: what a refusal tells
    the operator to check. The defaults are the single account's settings."""

    client_id: str = "RETURNBRIDGE_AMAZON_CLIENT_ID"
    client_secret: str = "RETURNBRIDGE_AMAZON_CLIENT_SECRET"
    refresh_token: str = "RETURNBRIDGE_AMAZON_REFRESH_TOKEN"
    selling_party: str = "RETURNBRIDGE_AMAZON_SELLING_PARTY"
    region: str = "RETURNBRIDGE_AMAZON_REGION"
    endpoint: str = "RETURNBRIDGE_AMAZON_ENDPOINT"


def lwa_is_unwell(exc: AuthorizationError) -> bool:
    """Whether LWA failed rather than refused (429 or 5xx): that is retried like SP-API's."""
    status = _status(exc)
    return status == 429 or status >= 500


def lwa_refusal(
    exc: AuthorizationError, names: SettingNames, secrets: Iterable[str] = ()
) -> AmazonAuthRefused:
    """The error for an LWA refusal; ``secrets`` are blanked out of Amazon's description."""
    error = str(exc.error_code or "unknown")
    said = f"{error}: {_scrubbed(exc.message, secrets)}" if exc.message else error
    if error == "invalid_client":
        return AmazonClientRefused(
            f"Amazon's LWA refused the app's credentials ({said}): check {names.client_id} and "
            f"{names.client_secret} against the app's LWA credentials in Amazon's developer "
            f"console (a secret rotated there must be set here too); {LEFT_PREPARED}"
        )
    if error == "invalid_grant":
        return AmazonGrantRefused(
            f"Amazon's LWA refused the refresh token ({said}): it has expired, was revoked, or "
            f"was issued to another app; the vendor must authorise the app again and the new "
            f"refresh token goes in {names.refresh_token}; {LEFT_PREPARED}"
        )
    return AmazonAuthRefused(
        f"Amazon's LWA refused a token (HTTP {_status(exc)}, {said}): check {names.client_id}, "
        f"{names.client_secret} and {names.refresh_token} against the app in Amazon's developer "
        f"console; {LEFT_PREPARED}"
    )


def access_denied(
    operation: str,
    exc: SellingApiException,
    names: SettingNames,
    selling_party: str,
    endpoint: str,
) -> AmazonAccessDenied:
    """The error for a 403 that a freshly issued token met too."""
    code = getattr(exc, "amzn_code", None) or "Forbidden"
    message = _scrubbed(getattr(exc, "message", None) or "access denied", ())
    return AmazonAccessDenied(
        f"Amazon denied {operation} (403 {code}: {message}) to a freshly issued token: the "
        f"vendor has not granted the app the role {operation} needs, or the app is authorised "
        f"in another region; check the app's roles in Amazon's developer console (authorise it "
        f"again after adding one), {names.selling_party} ({selling_party or 'not set'}), and "
        f"{names.region} or {names.endpoint} (now {urlsplit(endpoint).netloc or endpoint}) "
        f"against the vendor's region; {LEFT_PREPARED}"
    )


def _status(exc: AuthorizationError) -> int:
    try:
        return int(exc.status_code)
    except (TypeError, ValueError):
        return 0


def _scrubbed(text: object, secrets: Iterable[str]) -> str:
    said = " ".join(str(text).split())  # one line, whatever Amazon sent
    for secret in secrets:
        if secret:
            said = said.replace(secret, "[redacted]")
    return said
