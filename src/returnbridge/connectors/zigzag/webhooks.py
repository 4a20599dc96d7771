"""ZigZag webhook deliveries: Standard Webhooks signature checks, and the delivery as a record.

A delivery carries three headers: ``webhook-id`` (the message id, the same on every retry),
``webhook-timestamp`` (Unix seconds, new on every attempt) and ``webhook-signature``, a
space-separated list of ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. The secrets
are ``whsec_<base64 key>``, space-separated; a delivery signed with any of them passes, so a
secret can be rotated without downtime (add the new one, let ZigZag switch, remove the old one).

The HMAC itself is the ``standardwebhooks`` library's (``Webhook.sign``, one ``Webhook`` per
secret). Its ``Webhook.verify`` is not used: it takes one secret, reads the wall clock with a
fixed five-minute window, and raises ``ValueError`` or ``binascii.Error`` (not its own error) on
a malformed signature list. So this module parses the headers, compares every signature against
every secret in constant time, and checks the timestamp against the caller's clock and window.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from returnbridge.connectors.validation import describe
from returnbridge.connectors.zigzag.records import (
    canonical_json,
    inbox_record,
    storable,
    unreadable_record,
)
from returnbridge.connectors.zigzag.wire import MAX_PAYLOAD, WireEvent, parse_wire
from returnbridge.domain.errors import InvalidEvent, ReturnBridgeError
from returnbridge.services.ports import InboxRecord

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
MAX_WEBHOOK_ID = 200
_TIMESTAMP = re.compile(r"[0-9]{1,11}")  # Unix seconds, up to the year 5138


class WebhookRejected(ReturnBridgeError):
    """A delivery that does not prove it comes from ZigZag; nothing of it is stored as an event."""

    code = "bad_signature"


class MissingSignature(WebhookRejected):
    """A signature header is absent or empty."""

    code = "missing_signature"


class BadSignature(WebhookRejected):
    """The headers cannot be read, or no signature matches any configured secret."""

    code = "bad_signature"


class StaleTimestamp(WebhookRejected):
    """Correctly signed, but signed too long ago (or too far ahead): a replay, or a bad clock."""

    code = "stale_timestamp"


class WebhookSecretsInvalid(ReturnBridgeError):
    """The configured webhook secrets cannot be read (say which one, never its value)."""

    code = "config.invalid"


def parse_secrets(text: str) -> tuple[Webhook, ...]:
    """One verifier per ``whsec_<base64>`` secret of the space-separated ``text``."""
    verifiers = []
    for number, secret in enumerate(text.split(), start=1):
        where = f"secret {number} of RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET"
        if not secret.startswith(SECRET_PREFIX):
            raise WebhookSecretsInvalid(f"{where} does not start with {SECRET_PREFIX!r}")
        encoded = secret[len(SECRET_PREFIX) :].rstrip("=")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise WebhookSecretsInvalid(f"{where} is not base64 after the prefix") from exc
        if not key:
            raise WebhookSecretsInvalid(f"{where} is empty after the prefix")
        verifiers.append(Webhook(key))
    return tuple(verifiers)


def _signatures(header: str) -> list[bytes]:
    """The ``v1`` signatures of the header; other versions and malformed entries are skipped."""
    found = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return found


@dataclass(frozen=True)
class WebhookVerifier:
    """Checks deliveries against ``secrets`` (any may match) and a window around ``now``."""

    secrets: tuple[Webhook, ...]
    tolerance: timedelta = timedelta(seconds=300)

    @classmethod
    def from_settings(cls, secrets: str, tolerance_seconds: int) -> WebhookVerifier | None:
        """The verifier for the configured secrets, or None when none is configured."""
        parsed = parse_secrets(secrets)
        return cls(parsed, timedelta(seconds=tolerance_seconds)) if parsed else None

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> str:
        """The delivery's ``webhook-id`` if it is authentic and fresh; raises ``WebhookRejected``.

        The signature is checked before the timestamp, so ``stale_timestamp`` always means a
        genuine delivery that is too old or too new, never a forgery.
        """
        values = {name: (headers.get(name) or "").strip() for name in _HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise MissingSignature(f"missing header(s) {', '.join(missing)}")
        msg_id, stamp = values[ID_HEADER], values[TIMESTAMP_HEADER]
        if len(msg_id) > MAX_WEBHOOK_ID:
            raise BadSignature(f"{ID_HEADER} is over {MAX_WEBHOOK_ID} characters")
        if not _TIMESTAMP.fullmatch(stamp):
            raise BadSignature(f"{TIMESTAMP_HEADER} {stamp[:40]!r} is not a Unix time in seconds")
        signed_at = datetime.fromtimestamp(int(stamp), UTC)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadSignature("the body is not UTF-8 text, so it cannot be verified") from exc
        given = _signatures(values[SIGNATURE_HEADER])
        if not given:
            raise BadSignature(f"{SIGNATURE_HEADER} holds no v1 signature")
        expected = [_expected(secret, msg_id, signed_at, text) for secret in self.secrets]
        if not any(hmac.compare_digest(e, g) for e in expected for g in given):
            raise BadSignature("no signature matches a configured secret")
        drift = abs((now - signed_at).total_seconds())
        if drift > self.tolerance.total_seconds():
            raise StaleTimestamp(
                f"{TIMESTAMP_HEADER} {stamp} is {drift:.0f} s from the server's clock; "
                f"the window is {self.tolerance.total_seconds():.0f} s"
            )
        return msg_id


_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)


def _expected(secret: Webhook, msg_id: str, signed_at: datetime, text: str) -> bytes:
    return base64.b64decode(secret.sign(msg_id, signed_at, text).partition(",")[2])


def delivery_record(body: str, webhook_id: str) -> InboxRecord:
    """The inbox record of an authentic delivery: the event, or the raw body kept as unreadable.

    A readable event is stored exactly as the CSV export stores it (``records.inbox_record``).
    An unreadable one is kept as received, keyed by its ``id`` where that is a non-empty string,
    else by the ``webhook-id`` (``webhook:<id>``), plus a digest of the body (of its canonical
    JSON where it is JSON, as polling keys it): ZigZag's retry of the same delivery is a
    duplicate, and a corrected event under the same id is still accepted.
    """
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        data, is_json = None, False
    else:
        is_json = True
    try:
        wire = _read_wire(body, data)
    except InvalidEvent as exc:
        reason = exc.message
        fields = data if isinstance(data, dict) else {}
        body_id = fields.get("id")
        key = body_id.strip() if isinstance(body_id, str) and body_id.strip() else ""
    else:
        if storable(wire.id) == wire.id and storable(wire.returnId) == wire.returnId:
            return inbox_record(wire)
        reason = "id or returnId holds a NUL or an unpaired surrogate, which cannot be stored"
        fields, key = data if isinstance(data, dict) else {}, ""
    body_type = fields.get("type")
    event_type = body_type if isinstance(body_type, str) and body_type.strip() else None
    return unreadable_record(
        key or f"webhook:{webhook_id}",
        body,
        event_type,
        f"webhook {webhook_id}: {reason}",
        digest_of=canonical_json(data) if is_json else None,
    )


def _read_wire(body: str, data: object) -> WireEvent:
    """``parse_wire(body)``, given ``data``, the body already read as JSON (None if it is not):
    a webhook's body is read once on the way in."""
    if isinstance(data, dict) and len(body) <= MAX_PAYLOAD:
        try:
            return WireEvent.model_validate(data)
        except ValidationError as exc:
            raise InvalidEvent(describe(exc)) from exc
    return parse_wire(body)  # not a JSON object, or too long: it raises, saying why
