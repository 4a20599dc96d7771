"""Helpers for the dashboard's end-to-end tests: the CLI in a subprocess, a free port, and a
service that answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any RETURNBRIDGE_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def cli(*args: str, cwd: Path, timeout: float = 120) -> str:
    """``returnbridge ARGS`` in a subprocess; its standard output (fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=2) as client:
        while True:
            assert process.poll() is None, "the service stopped before it answered"
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} did not answer in {seconds:g} s"
            time.sleep(0.05)
