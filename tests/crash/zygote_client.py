"""The harness's side of ``cli_zygote``: start, kill, stop and wait for returnbridge commands,
each a process of its own forked from the zygote."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

ZYGOTE = Path(__file__).resolve().parent / "cli_zygote.py"


class Zygote:
    """A running ``cli_zygote`` and the commands it started, by name (one at a time each)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.stderr = (logs / "zygote.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ZYGOTE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            cwd=logs,
        )
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.changed = threading.Condition()
        self.pid: dict[str, int] = {}  # name -> pid of its latest start
        self.exited: dict[int, int] = {}  # pid -> status
        self.started_at: dict[str, float] = {}
        self.timings: list[str] = []  # command, status, seconds of each run to its end
        self.ready = False  # it imports while the harness prepares the day
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if "exited" in message:
                with self.changed:
                    self.exited[message["pid"]] = message["status"]
                    self.changed.notify_all()
            else:
                self.replies.put(message)
        self.replies.put({"error": "the zygote ended"})

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.ready:
            reply = self.replies.get(timeout=120)
            assert "ready" in reply, f"the zygote did not start: {reply}"
            self.ready = True
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        reply = self.replies.get(timeout=30)
        assert "error" not in reply, reply
        return reply

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        log = str(self.logs / f"{name}.log")
        pid = int(
            self._ask({"op": "spawn", "name": name, "argv": argv, "env": env, "log": log})["pid"]
        )
        self.pid[name] = pid
        self.started_at[name] = time.monotonic()
        return pid

    def running(self, name: str) -> bool:
        pid = self.pid.get(name)
        with self.changed:
            return pid is not None and pid not in self.exited

    def status(self, name: str) -> int | None:
        with self.changed:
            return self.exited.get(self.pid.get(name, -1))

    def wait(self, name: str, timeout: float) -> int | None:
        pid = self.pid[name]
        with self.changed:
            self.changed.wait_for(lambda: pid in self.exited, timeout)
            return self.exited.get(pid)

    def kill(self, name: str) -> bool:
        """SIGKILL ``name`` if it runs; True if this killed it."""
        if "killed" not in self._ask({"op": "kill", "name": name}):
            return False
        return self.wait(name, 30) == -9

    def stop(self, name: str) -> None:
        """SIGTERM: a worker finishes (or rolls back) its batch and exits 0."""
        self._ask({"op": "signal", "name": name, "signum": 15})

    def run(self, name: str, argv: list[str], env: dict[str, str], timeout: float) -> int | None:
        started = time.monotonic()
        self.spawn(name, argv, env)
        status = self.wait(name, timeout)
        self.timings.append(f"{name} {status} {time.monotonic() - started:.1f}s")
        return status

    def close(self) -> None:
        with suppress(OSError, ValueError):  # already closed
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"op": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr.close()
