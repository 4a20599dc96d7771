"""The ERP stand-in: takes journal batches, keeps the first of each ``Idempotency-Key``.

It checks what an ERP would check on its own terms (a bearer token when one is set, the key,
every line's columns, and that debits equal credits per currency), answers 201 for a new
batch and 200 for a repeat of a held key, and can be told to answer 5xx (or any status) to
the next requests. Nothing here comes from returnbridge's own export code.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

BATCHES_PATH = "/journal-batches"
REQUIRED = ("journal_id", "date", "gl_account", "debit", "credit", "currency")


@dataclass
class ErpSandbox:
    """What the stand-in holds and how it misbehaves; tests read and set it directly."""

    token: str = ""
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first body
    requests: list[tuple[str | None, int]] = field(default_factory=list)  # (key, status)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str | None, auth: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            status, detail = self._answer(key, auth, body)
            self.requests.append((key, status))
            return status, detail

    def _answer(self, key: str | None, auth: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"error": "injected", "status": status}
        if self.token and auth != f"Bearer {self.token}":
            return 401, {"error": "unauthorized"}
        if not key:
            return 400, {"error": "the Idempotency-Key header is required"}
        if key in self.accepted:
            return 200, {"batch": key, "status": "duplicate"}
        problem = _problem(body)
        if problem:
            return 422, {"error": problem}
        self.accepted[key] = body
        return 201, {"batch": key, "status": "accepted", "lines": len(body["lines"])}


def _problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        return "the body must be an object with a list of lines"
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for n, line in enumerate(body["lines"]):
        if not isinstance(line, dict):
            return f"lines[{n}] is not an object"
        missing = [name for name in REQUIRED if line.get(name) in (None, "")]
        if missing:
            return f"lines[{n}] lacks {', '.join(missing)}"
        debit, credit = line["debit"], line["credit"]
        if not (isinstance(debit, int) and isinstance(credit, int)) or debit < 0 or credit < 0:
            return f"lines[{n}]: debit and credit must be non-negative integers (minor units)"
        sums[line["currency"]][0] += debit
        sums[line["currency"]][1] += credit
    for currency, (debit, credit) in sorted(sums.items()):
        if debit != credit:
            return f"{currency} debits {debit} and credits {credit} do not balance"
    return None


def create_app(sandbox: ErpSandbox) -> FastAPI:
    app = FastAPI(title="ERP sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(BATCHES_PATH)
    async def take_batch(
        request: Request,
        idempotency_key: str | None = Header(default=None),
        authorization: str | None = Header(default=None),
    ) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        status, detail = sandbox.answer(idempotency_key, authorization, body)
        return JSONResponse(detail, status_code=status)

    @app.get("/_sandbox/state")
    async def state() -> dict[str, Any]:
        with sandbox.lock:
            return {"accepted": sorted(sandbox.accepted), "requests": len(sandbox.requests)}

    return app
