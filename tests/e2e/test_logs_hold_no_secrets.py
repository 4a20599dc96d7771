"""No secret and no customer personal data in the logs of a full demo.

The demo runs as an operator would run it, with JSON logs at DEBUG and every secret setting set
to a recognisable value: the webhook secret, ZigZag's API password, Amazon's client secret and
refresh token, the ERP's API token and the alert webhook's address. The demo's day talks to the
partners' sandboxes with the sandboxes' own published credentials (and a webhook secret of its
own), so those, and the short-lived tokens they issue, are looked for too. Then the service runs
on the day (``--serve``): a person signs in to the dashboard with the printed token and takes a
decision, and a caller presents a wrong token to the API.

Customer personal data: ZigZag's event contract (docs/zigzag-events.md, the JSON Schemas in the
package) and Amazon's refund records carry no customer name, email, phone or address; the test
asserts that, so that a contract that grows such a field must grow this test too. What they do
carry that leads to a customer is the Amazon order id (``channelOrderRef``, ``orderId``) and
ZigZag's order number: the logs must hold none of those either (they name events by id).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from returnbridge.entrypoints.cli.demo_zigzag import demo_secret
from returnbridge.sandboxes.amazon.config import DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN
from returnbridge.sandboxes.zigzag.config import DEFAULT_JWT_KEY, DEFAULT_PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SEED = 11  # a day with Amazon rejections, unknown SKUs and unreadable events: every log path
CONFIGURED = {
    "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": "whsec_"
    + base64.b64encode(b"logscan-webhook-secret-0451").decode(),
    "RETURNBRIDGE_ZIGZAG_API_USERNAME": "logscan-user",
    "RETURNBRIDGE_ZIGZAG_API_PASSWORD": "logscan-zigzag-password-7731",
    "RETURNBRIDGE_AMAZON_CLIENT_ID": "amzn1.application-oa2-client.logscan",
    "RETURNBRIDGE_AMAZON_CLIENT_SECRET": "logscan-amazon-client-secret-5512",
    "RETURNBRIDGE_AMAZON_REFRESH_TOKEN": "Atzr|logscan-amazon-refresh-token-9043",
    "RETURNBRIDGE_ERP_API_TOKEN": "logscan-erp-api-token-3380",
    "RETURNBRIDGE_ALERT_WEBHOOK_URL": "https://chat.invalid/services/logscan-alert-hook-6620",
}
SECRET_SETTINGS = (
    "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET",
    "RETURNBRIDGE_ZIGZAG_API_PASSWORD",
    "RETURNBRIDGE_AMAZON_CLIENT_SECRET",
    "RETURNBRIDGE_AMAZON_REFRESH_TOKEN",
    "RETURNBRIDGE_ERP_API_TOKEN",
    "RETURNBRIDGE_ALERT_WEBHOOK_URL",
)
# Tokens issued at run time cannot be known beforehand: their shapes are looked for.
ISSUED = {
    "an LWA access token": re.compile(r"Atza\|"),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ"),
    "an API token": re.compile(r"rb_[A-Za-z0-9_-]{40,}"),
}
PERSONAL = re.compile(r"name|mail|phone|address|customer|buyer", re.IGNORECASE)


def secrets_of_the_run() -> dict[str, str]:
    """What must never be logged: each secret, with where it comes from."""
    found = {name: CONFIGURED[name] for name in SECRET_SETTINGS}
    webhook = demo_secret(SEED)
    found.update(
        {
            "the demo's webhook secret": webhook,
            "the demo's webhook key": webhook.removeprefix("whsec_"),
            "the ZigZag sandbox password": DEFAULT_PASSWORD,
            "the ZigZag sandbox JWT key": DEFAULT_JWT_KEY,
            "the Amazon sandbox client secret": DEFAULT_CLIENT_SECRET,
            "the Amazon sandbox refresh token": DEFAULT_REFRESH_TOKEN,
        }
    )
    key = CONFIGURED["RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET"].removeprefix("whsec_")
    found["the configured webhook key"] = key
    return found


def customer_identifiers(out: Path) -> set[str]:
    """The values in the day's data that lead to a customer: Amazon order ids, ZigZag order
    numbers (there is no name or email to look for: see the module's docstring)."""
    with (out / "zigzag-export.csv").open(encoding="utf-8", newline="") as rows:
        export = list(csv.DictReader(rows))
    refunds = [json.loads(line) for line in (out / "amazon-refunds.jsonl").read_text().splitlines()]
    found = {r["channel_order_ref"] for r in export} | {r["order_number"] for r in export}
    found |= {r["orderId"] for r in refunds}
    return {value for value in found if value and len(value) >= 8}


def schema_fields() -> set[str]:
    fields: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            fields.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema in files("returnbridge.connectors.zigzag").joinpath("schemas").iterdir():
        walk(json.loads(schema.read_text(encoding="utf-8")))
    return fields


def leaks(text: str, secrets: dict[str, str], identifiers: set[str]) -> list[str]:
    found = [f"{what} ({value[:12]}...)" for what, value in secrets.items() if value in text]
    found += [what for what, shape in ISSUED.items() if shape.search(text)]
    found += [f"customer identifier {value}" for value in sorted(identifiers) if value in text]
    return found


def test_the_contract_carries_no_customer_name_or_email() -> None:
    assert schema_fields() >= {"returnId", "channelOrderRef", "orderNumber"}
    assert [f for f in schema_fields() if PERSONAL.search(f)] == []


def test_a_full_demo_and_its_service_log_no_secret_and_no_customer_data(tmp_path: Path) -> None:
    out = tmp_path / "OUT"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    env.update(CONFIGURED)
    env.update(RETURNBRIDGE_LOG_FORMAT="json", RETURNBRIDGE_LOG_LEVEL="DEBUG", PYTHONUNBUFFERED="1")
    port = _free_port()
    stderr = (tmp_path / "stderr.txt").open("w+", encoding="utf-8")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "returnbridge",
            "demo",
            "--returns",
            "60",
            "--seed",
            str(SEED),
            "--out",
            str(out),
            "--serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    printed: list[str] = []

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        token = None
        while token is None:
            printed.append(lines.get(timeout=150))
            if found := re.match(r"token: (rb_\S+)$", printed[-1].strip()):
                token = found.group(1)
        _use_the_service(f"http://127.0.0.1:{port}", token)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        stderr.seek(0)
        logged_err = stderr.read()
        stderr.close()
    reader.join(timeout=10)
    assert demo.stdout is not None
    demo.stdout.close()
    while not lines.empty():
        printed.append(lines.get())
    (tmp_path / "stdout.txt").write_text("".join(printed), encoding="utf-8")  # to read after

    # The one place the token may appear is the line that hands it to the person.
    said = "".join(line for line in printed if line != f"token: {token}\n")
    json_lines = [line for line in printed if line.startswith("{")]
    assert len(json_lines) > 100, "the demo logged less than expected: is JSON logging on?"
    assert any('"event": "dashboard decision"' in line for line in json_lines)
    secrets = {**secrets_of_the_run(), "the demo's dashboard token": token}
    identifiers = customer_identifiers(out)
    assert len(identifiers) > 50
    assert leaks(said, secrets, identifiers) == []
    assert leaks(logged_err, secrets, identifiers) == []
    # The files the day wrote (reports, ERP batches, the daily log) hold no secret either.
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.name.startswith("returnbridge.db"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert leaks(text, secrets, set()) == [], path.name


def _use_the_service(url: str, token: str) -> None:
    """Sign in to the dashboard and take a decision; present a wrong token to the API."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(200):  # the address is printed just before the server listens
            try:
                assert client.post("/login", data={"token": token}).status_code == 303
                break
            except httpx.ConnectError:
                threading.Event().wait(0.05)
        page = client.get("/").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
        target = re.search(r'<tr data-exception="(\d+)" data-code="UNMAPPED_REASON"', page)
        assert csrf and target
        decided = client.post(
            f"/exceptions/{target.group(1)}/resolve",
            data={"csrf": csrf.group(1), "action": "ignore", "note": "test code"},
        )
        assert decided.status_code == 303
        wrong = "rb_" + "x" * 43
        refused = client.get("/api/exceptions", headers={"Authorization": f"Bearer {wrong}"})
        assert refused.status_code == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
