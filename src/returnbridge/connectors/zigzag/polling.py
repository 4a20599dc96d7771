"""ZigZag's polling feed: pages of events from the API, into the inbox with a persisted cursor.

Auth is ZigZag's published one: ``POST {base}/token`` with the API username and password gives
a JWT valid 30 minutes, sent as ``Authorization: Bearer``. The client renews it shortly before
it expires and, if the API still answers 401, once per request. The feed's shape
(``GET {base}/events?cursor=&limit=`` answering ``{"events": [...], "next_cursor": "..."}``,
an empty page at the end) is ours: ZigZag does not publish it (docs/zigzag-feeds.md).

Every page is stored in one transaction together with the cursor after it, so a crash between
fetching and committing leaves the cursor where it was and the page is asked for again: no page
is skipped, and the inbox's (source, event id) key keeps a page met twice from counting twice.
Each event becomes the same inbox record the CSV export and the webhooks give it
(``records.inbox_record``), or is kept raw as unreadable.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import jwt

from returnbridge.connectors.zigzag.records import inbox_record, storable, unreadable_record
from returnbridge.connectors.zigzag.wire import parse_wire
from returnbridge.domain.errors import InvalidEvent, ReturnBridgeError
from returnbridge.services.pipeline import IngestResult, ingest
from returnbridge.services.ports import Clock, InboxRecord, Store

FEED = "zigzag.events"
TOKEN_PATH = "/token"
EVENTS_PATH = "/events"
DEFAULT_TOKEN_SECONDS = 1800.0  # ZigZag's published token lifetime, if an answer names none


class ZigZagFeedError(ReturnBridgeError):
    """The feed answered something that is not a page of events."""

    code = "zigzag.feed_invalid"


class ZigZagAuthRefused(ZigZagFeedError):
    """ZigZag refused the API username and password, or a fresh token."""

    code = "zigzag.auth_refused"


class ZigZagRequestRejected(ZigZagFeedError):
    """ZigZag refused a request as invalid (4xx): asking again unchanged cannot help."""

    code = "zigzag.request_rejected"


class ZigZagUnavailable(ZigZagFeedError):
    """ZigZag did not answer after every retry (5xx, 429, lost connections, timeouts)."""

    code = "zigzag.unavailable"


class FeedStore(Store, Protocol):
    """The store a poller writes through: the inbox, plus where each feed stands."""

    def read_cursor(self, feed: str) -> str | None: ...
    def save_cursor(self, feed: str, cursor: str, now: datetime) -> None: ...


FeedStores = Callable[[], AbstractContextManager[FeedStore]]


@dataclass(frozen=True)
class ZigZagApiConfig:
    """Where ZigZag's API is and how to talk to it."""

    base_url: str
    username: str
    password: str = field(repr=False)
    page_size: int = 500
    """Events asked for per page (the API may send fewer)."""
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    """Tries per request before ``ZigZagUnavailable`` (5xx, 429, lost connections)."""
    backoff_seconds: float = 0.5
    """First retry waits up to this long (full jitter), doubling each time..."""
    backoff_cap_seconds: float = 30.0
    """...up to this."""
    renew_before_seconds: float = 60.0
    """A token this close to expiry is renewed before the request, not after a 401."""


@dataclass
class ApiCounters:
    requests: int = 0
    tokens: int = 0
    renewals_after_401: int = 0
    retries: int = 0


@dataclass(frozen=True)
class FeedPage:
    events: list[Any]
    next_cursor: str


class ZigZagFeedClient:
    """Reads pages of ZigZag's feed over ``client`` (its base URL is the config's)."""

    def __init__(
        self,
        config: ZigZagApiConfig,
        client: httpx.Client,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.counters = ApiCounters()
        self._client = client
        self._base = config.base_url.rstrip("/")
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        """A live JWT: the cached one, or a new one if it is missing or about to expire."""
        if (
            self._token is None
            or self._clock() >= self._expires_at - self.config.renew_before_seconds
        ):
            self._token = None
            self._token, self._expires_at = self._new_token()
        return self._token

    def fetch_page(self, cursor: str | None) -> FeedPage:
        """The page after ``cursor`` (None: from the start)."""
        params: dict[str, str | int] = {"limit": self.config.page_size}
        if cursor is not None:
            params["cursor"] = cursor
        answer = self._authorized("GET", f"{self._base}{EVENTS_PATH}", params)
        if answer.status_code != 200:
            raise ZigZagRequestRejected(
                f"ZigZag answered {answer.status_code} to GET {EVENTS_PATH}: {answer.text[:300]}"
            )
        try:
            body = answer.json()
        except ValueError as exc:
            raise ZigZagFeedError(f"the feed answered text that is not JSON: {exc}") from exc
        events = body.get("events") if isinstance(body, dict) else None
        next_cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not isinstance(events, list) or not isinstance(next_cursor, str) or not next_cursor:
            raise ZigZagFeedError(
                "the feed answered without an 'events' list and a 'next_cursor' string"
            )
        return FeedPage(events, next_cursor)

    def _authorized(self, method: str, url: str, params: dict[str, str | int]) -> httpx.Response:
        answer = self._send(method, url, params=params, headers=self._bearer())
        if answer.status_code == 401:
            # Expired early, revoked, or the clocks disagree: one new token, one more try.
            self.counters.renewals_after_401 += 1
            self._token = None
            answer = self._send(method, url, params=params, headers=self._bearer())
            if answer.status_code == 401:
                raise ZigZagAuthRefused(f"ZigZag refused a fresh token for {method} {url}")
        return answer

    def _bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token()}"}

    def _new_token(self) -> tuple[str, float]:
        asked_at = self._clock()
        answer = self._send(
            "POST",
            f"{self._base}{TOKEN_PATH}",
            json={"username": self.config.username, "password": self.config.password},
        )
        if answer.status_code in (401, 403):
            raise ZigZagAuthRefused(
                f"ZigZag refused the API username and password ({answer.status_code}); check "
                "RETURNBRIDGE_ZIGZAG_API_USERNAME and RETURNBRIDGE_ZIGZAG_API_PASSWORD"
            )
        if answer.status_code != 200:
            raise ZigZagRequestRejected(
                f"ZigZag answered {answer.status_code} to POST {TOKEN_PATH}: {answer.text[:300]}"
            )
        token, lifetime = _read_token(answer)
        self.counters.tokens += 1
        return token, asked_at + lifetime

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The answer to one request, retried with backoff on 5xx, 429 and lost connections."""
        config = self.config
        problem = ""
        for attempt in range(config.max_attempts):
            if attempt:
                self.counters.retries += 1
            self.counters.requests += 1
            wait = self._jitter() * min(
                config.backoff_cap_seconds, config.backoff_seconds * 2**attempt
            )
            try:
                answer = self._client.request(method, url, timeout=config.timeout_seconds, **kwargs)
            except httpx.TransportError as exc:
                problem = f"no answer ({exc.__class__.__name__}: {exc})"
            else:
                if answer.status_code < 500 and answer.status_code != 429:
                    return answer
                problem = f"answered {answer.status_code}"
                wait = max(wait, min(_retry_after(answer), config.backoff_cap_seconds))
            if attempt + 1 < config.max_attempts:
                self._sleep(wait)
        path = httpx.URL(url).path
        raise ZigZagUnavailable(
            f"ZigZag {method} {path}: {problem} after {config.max_attempts} attempts"
        )


def _retry_after(answer: httpx.Response) -> float:
    try:
        return max(0.0, float(answer.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def _read_token(answer: httpx.Response) -> tuple[str, float]:
    """The JWT and its lifetime in seconds from a token answer.

    ZigZag publishes that ``POST /token`` returns a JWT, not the answer's shape, so this reads
    the usual ones: a JSON object (``token``, ``access_token``, ``accessToken`` or ``jwt``, and
    ``expires_in`` / ``expiresIn`` if given), a JSON string, or the bare token as text. The
    lifetime is taken as a duration (not the token's ``exp``), so a clock skew between ZigZag
    and us cannot make every token look expired.
    """
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text.strip()
    expires_in: Any = None
    if isinstance(body, dict):
        token = next(
            (body[k] for k in ("token", "access_token", "accessToken", "jwt") if k in body), None
        )
        expires_in = body.get("expires_in", body.get("expiresIn"))
    else:
        token = body
    if not isinstance(token, str) or token.count(".") != 2:
        raise ZigZagFeedError("POST /token answered without a JWT")
    if isinstance(expires_in, int | float) and expires_in > 0:
        return token, float(expires_in)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise ZigZagFeedError(f"POST /token answered a token that is not a JWT: {exc}") from exc
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, int | float) and isinstance(iat, int | float) and exp > iat:
        return token, float(exp - iat)
    return token, DEFAULT_TOKEN_SECONDS


def feed_record(data: object, origin: str) -> InboxRecord:
    """The inbox record of one polled event: the event as the CSV export and the webhooks store
    it, or, if it breaks the contract, its JSON kept raw as unreadable (keyed by its ``id`` and
    a digest of the text, so polling it again is a duplicate)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"))
    body = data if isinstance(data, dict) else {}
    event_id = body.get("id")
    event_type = body.get("type")
    key = event_id.strip() if isinstance(event_id, str) else ""
    try:
        wire = parse_wire(raw)
    except InvalidEvent as exc:
        reason = exc.message
    else:
        if storable(wire.id) == wire.id and storable(wire.returnId) == wire.returnId:
            return inbox_record(wire)
        reason = "id or returnId holds a NUL or an unpaired surrogate, which cannot be stored"
        key = ""
    kind = event_type if isinstance(event_type, str) and event_type.strip() else None
    return unreadable_record(key or "polled", raw, kind, f"{origin}: {reason}")


@dataclass
class PollResult:
    """What polling stored: pages, events, and where the feed now stands."""

    pages: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)
    cursor: str | None = None

    def add(self, got: IngestResult, events: int, keep_problems: int) -> None:
        self.pages += 1
        self.events += events
        self.accepted += got.accepted
        self.duplicates += got.duplicates
        self.invalid += got.invalid
        self.problems.extend(got.problems[: max(0, keep_problems - len(self.problems))])


def poll_feed(
    client: ZigZagFeedClient,
    stores: FeedStores,
    clock: Clock,
    *,
    feed: str = FEED,
    max_pages: int | None = None,
    stop: threading.Event | None = None,
    on_page: Callable[[PollResult], None] = lambda _: None,
    keep_problems: int = 50,
) -> PollResult:
    """Store every page from the persisted cursor until the feed is empty (or ``max_pages``, or
    ``stop``): each page's events and the cursor after it in one transaction."""
    result = PollResult()
    with stores() as store:
        cursor = store.read_cursor(feed)
    result.cursor = cursor
    while max_pages is None or result.pages < max_pages:
        if stop is not None and stop.is_set():
            break
        page = client.fetch_page(cursor)
        if not page.events:
            if page.next_cursor != cursor:
                with stores() as store:
                    store.save_cursor(feed, page.next_cursor, clock())
                result.cursor = page.next_cursor
            break
        origin = f"{feed} page after cursor {cursor or '(start)'}"
        records = [feed_record(event, origin) for event in page.events]
        with stores() as store:
            now = clock()
            got = ingest(store, records, now)
            store.save_cursor(feed, page.next_cursor, now)
        cursor = result.cursor = page.next_cursor
        result.add(got, len(records), keep_problems)
        on_page(result)
    return result


__all__ = [
    "FEED",
    "FeedPage",
    "FeedStore",
    "FeedStores",
    "PollResult",
    "ZigZagApiConfig",
    "ZigZagAuthRefused",
    "ZigZagFeedClient",
    "ZigZagFeedError",
    "ZigZagRequestRejected",
    "ZigZagUnavailable",
    "feed_record",
    "poll_feed",
]
