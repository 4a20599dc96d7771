"""``returnbridge demo --serve``: after the day, the service runs on loopback and the demo says
where the dashboard is and which token signs in; a person (here httpx) signs in with it and
sees the day's dashboard. SIGTERM stops it cleanly."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from dashboard_support import clean_env, free_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(120)]


def test_demo_serve_prints_the_dashboard_and_a_token_that_signs_in(tmp_path: Path) -> None:
    port = free_port()
    errors = (tmp_path / "stderr.txt").open("w+", encoding="utf-8")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "returnbridge",
            "demo",
            "--returns",
            "30",
            "--seed",
            "3",
            "--transport",
            "csv",
            "--out",
            str(tmp_path / "OUT"),
            "--serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=errors,
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
        url = token = None
        while token is None:
            line = lines.get(timeout=90)
            printed.append(line)
            if found := re.match(r"dashboard: (http://127\.0\.0\.1:\d+/)$", line.strip()):
                url = found.group(1)
            if found := re.match(r"token: (rb_\S+)$", line.strip()):
                token = found.group(1)
        assert url == f"http://127.0.0.1:{port}/"
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(100):  # the address is printed just before the server listens
                try:
                    signed_in = client.post("/login", data={"token": token})
                    break
                except httpx.ConnectError:
                    threading.Event().wait(0.05)
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
            page = client.get("/")
            api = client.get("/api/exceptions", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200
        assert '<strong id="who">demo</strong> (admin)' in page.text
        shown = re.search(r'id="open-exceptions-count">(\d+)<', page.text)
        assert shown and int(shown.group(1)) == len(api.json()["items"]) > 0
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        errors.seek(0)
        err = errors.read()
        errors.close()
    reader.join(timeout=10)
    assert demo.stdout is not None
    demo.stdout.close()
    while not lines.empty():
        printed.append(lines.get())
    # The token is printed once, for the person; no log line carries it.
    assert [line for line in printed if token in line] == [f"token: {token}\n"]
    assert token not in err
