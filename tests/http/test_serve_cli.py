"""``returnbridge serve`` runs the service in the foreground and stops cleanly on SIGTERM;
``webhook-rejections`` shows what it refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from webhook_support import SECRET, as_body, inbox_rows, post, received

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def test_serve_accepts_signed_webhooks_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    cli("db", "upgrade", "--db", db, cwd=tmp_path)
    port = free_port()
    env = {**os.environ, "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen(
        [sys.executable, "-m", "returnbridge", "serve", "--port", str(port), "--db", db],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.05)
            # The service runs on the real clock: sign now.
            answer = post(client, as_body(received()), "msg_1", at=datetime.now(UTC))
            assert answer.status_code == 202
            forged = client.post("/webhooks/zigzag", content=b"{}", headers={"webhook-id": "x"})
            assert forged.status_code == 401
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=15)
        assert server.returncode == 0, err
        assert f"POST http://127.0.0.1:{port}/webhooks/zigzag" in " ".join(out.split())
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    rb = bootstrap(Settings(database_url=db))
    try:
        assert [r["event_id"] for r in inbox_rows(rb)] == ["zz-evt-1003"]
    finally:
        rb.close()
    listing = cli("webhook-rejections", "--body", "--db", db, cwd=tmp_path)
    assert "401 missing_signature webhook-id x" in listing
    assert "{}" in listing


def test_serve_refuses_to_start_with_an_unreadable_secret(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    cli("db", "upgrade", "--db", db, cwd=tmp_path)
    env = {**os.environ, "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": "hunter2"}
    done = subprocess.run(
        [sys.executable, "-m", "returnbridge", "serve", "--port", str(free_port()), "--db", db],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "config.invalid" in said and "does not start with 'whsec_'" in said
    assert "POST" not in done.stdout
    assert "hunter2" not in done.stderr + done.stdout
