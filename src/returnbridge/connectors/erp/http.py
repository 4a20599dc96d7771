"""``HttpErpEndpoint``: POST a journal batch to the ERP, with retries and an idempotency key.

The batch's name is its ``Idempotency-Key``, the same on every retry and every later run, so
an ERP that keeps the first batch of a key cannot post it twice. 5xx, 429 and lost connections
are retried with exponential backoff and full jitter; any other 4xx is the ERP refusing the
batch, and is not retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from returnbridge.services.erp_export import ErpRequestRefused, ErpUnavailable

_ANSWER_CHARS = 2_000  # of the ERP's answer kept for a person


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (from 0) waits uniform(0, min(cap, base * 2^n)) before the next one."""

    attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


@dataclass(frozen=True)
class ErpHttpConfig:
    url: str
    token: str = ""  # sent as a bearer token when set
    retry: RetryPolicy = RetryPolicy()


class HttpErpEndpoint:
    """Implements ``services.erp_export.ErpEndpoint``; the httpx client is the caller's."""

    def __init__(
        self,
        config: ErpHttpConfig,
        client: httpx.Client,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.client = client
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.calls = 0
        self.retries = 0

    def deliver(self, batch_key: str, body: dict[str, Any]) -> int:
        headers = {"Idempotency-Key": batch_key}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        retry = self.config.retry
        last = ""
        for attempt in range(retry.attempts):
            if attempt:
                self.retries += 1
                self.sleep(retry.delay(attempt - 1, self.rng))
            self.calls += 1
            try:
                answer = self.client.post(self.config.url, json=body, headers=headers)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if answer.is_success:
                return answer.status_code
            text = answer.text[:_ANSWER_CHARS]
            if answer.status_code == 429 or answer.status_code >= 500:
                last = f"HTTP {answer.status_code}: {text}"
                continue
            raise ErpRequestRefused(
                f"the ERP refused batch {batch_key} with HTTP {answer.status_code}",
                answer.status_code,
                text,
            )
        raise ErpUnavailable(
            f"the ERP did not take batch {batch_key} after {retry.attempts} attempts ({last})"
        )


__all__ = ["ErpHttpConfig", "HttpErpEndpoint", "RetryPolicy"]
