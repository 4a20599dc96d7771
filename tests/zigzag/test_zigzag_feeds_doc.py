"""docs/zigzag-feeds.md shows what the client reads and what the sandbox serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from returnbridge.connectors.zigzag.polling import ZigZagApiConfig, ZigZagFeedClient, feed_record
from returnbridge.sandboxes.zigzag.state import decode_cursor

DOC = Path(__file__).parents[2] / "docs" / "zigzag-feeds.md"


def json_blocks() -> list[dict[str, Any]]:
    text = DOC.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_the_documented_token_answer_and_page_are_read_by_the_client_as_shown() -> None:
    token_answer = next(b for b in json_blocks() if "token" in b)
    page = next(b for b in json_blocks() if "events" in b)
    asked: list[str] = []

    def zigzag(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.url.path == "/token":
            return httpx.Response(200, json=token_answer)
        assert request.headers["authorization"] == f"Bearer {token_answer['token']}"
        return httpx.Response(200, json=page)

    config = ZigZagApiConfig("http://zigzag.test", "user", "password")
    with httpx.Client(transport=httpx.MockTransport(zigzag)) as http:
        got = ZigZagFeedClient(config, http).fetch_page(None)

    assert asked == ["POST /token", "GET /events"]
    assert (got.events, got.next_cursor) == (page["events"], page["next_cursor"])
    assert decode_cursor(page["next_cursor"], size=len(page["events"])) == 2
    assert all(feed_record(e, "doc").invalid_reason is None for e in got.events)
