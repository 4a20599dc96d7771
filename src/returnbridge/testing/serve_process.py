"""``returnbridge serve`` in a child process on a free loopback port, for load runs, benchmarks
and end-to-end tests: started, waited for until ``/healthz`` answers, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from returnbridge.threaded_server import url_of

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port free on ``host`` now (another process may take it before it is bound)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def returnbridge(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``returnbridge ARGS`` in a child process with this interpreter; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        env=dict(env) if env is not None else None,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.stdout


@dataclass(frozen=True)
class Served:
    """A running ``returnbridge serve``: its base URL and process id."""

    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the process has used so far, all its threads (None where the system does
        not say: Linux's /proc only)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve_process(
    db: str,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> Iterator[Served]:
    """``returnbridge serve --db DB ARGS`` on a free loopback port, its output in ``log``;
    yields it once ``/healthz`` answers, and stops it (SIGTERM, then a kill after 15 s) when
    the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "returnbridge", "serve", "--host", HOST, "--port", str(port)]
    environment = {**os.environ, **(env or {})}
    with log.open("w", encoding="utf-8") as out:
        server = subprocess.Popen(
            [*command, "--db", db, *args],
            env=environment,
            stdout=out,  # a file, never a pipe nobody reads: the access log would fill it
            stderr=subprocess.STDOUT,
        )
        url = url_of(HOST, port)
        try:
            _wait_until_up(server, url, startup_timeout, log)
            yield Served(url, server.pid)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def _wait_until_up(server: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=2) as client:
        while True:
            if server.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"returnbridge serve exited ({server.returncode}):\n{tail}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"returnbridge serve did not answer at {url} in {timeout} s")
            time.sleep(0.05)


__all__ = ["Served", "free_port", "returnbridge", "serve_process"]
