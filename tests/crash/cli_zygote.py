"""A fork server for ``returnbridge`` commands: imports the CLI once, then forks each command.

The crash harness restarts workers dozens of times a run. A fresh ``python -m returnbridge``
spends about two CPU seconds importing before it does any work, which on a small CI machine
would make the restarts, not the work, the whole run. This process imports the CLI once and
forks a child per command: the child is a process of its own (its own connections, killed by
a real SIGKILL), running the CLI's own ``main`` with the given arguments and environment.
Nothing in returnbridge happens at import (no engine, no thread, no socket), so forking after
the import is safe.

It speaks JSON lines: on stdin ``{"op": "spawn", "name", "argv", "env", "log"}``,
``{"op": "kill", "name"}`` (SIGKILL), ``{"op": "signal", "name", "signum"}`` and
``{"op": "quit"}``; on stdout ``{"spawned": name, "pid"}``,
``{"killed": name}`` / ``{"not_running": name}`` and ``{"exited": name, "status"}`` (the exit
code, or minus the signal). It alone reaps its children, so it never signals a pid that could
have been reused. If its stdin closes it kills its children and exits.

Run as a script: ``python cli_zygote.py``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import sys
from typing import Any

import returnbridge.entrypoints.cli.app as cli

# What the commands would import on their first connection: once here, not at every start.
WARM = ("psycopg", "sqlalchemy.dialects.postgresql.psycopg", "alembic.script",
        "alembic.runtime.migration")  # fmt: skip
for module in WARM:
    with contextlib.suppress(ImportError):  # the harness then only starts slower
        importlib.import_module(module)

children: dict[int, str] = {}  # pid -> name, for the children not yet reaped
running: dict[str, int] = {}  # name -> pid


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run_child(argv: list[str], env: dict[str, str], log: str) -> None:
    """In the forked child: the command's output to ``log``, then the CLI; never returns."""
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.environ.update(env)
        sys.argv = ["returnbridge", *argv]
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def spawn(request: dict[str, Any]) -> None:
    name = request["name"]
    if name in running:
        say({"error": f"{name} is already running"})
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        run_child(request["argv"], request.get("env", {}), request["log"])
    children[pid] = name
    running[name] = pid
    say({"spawned": name, "pid": pid})


def kill(name: str, signum: int = signal.SIGKILL) -> None:
    pid = running.get(name)
    if pid is None:
        say({"not_running": name})
        return
    os.kill(pid, signum)  # not yet reaped by us: the pid is still our child's
    say({"killed": name, "pid": pid})


def reap() -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        name = children.pop(pid)
        if running.get(name) == pid:
            del running[name]
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        say({"exited": name, "pid": pid, "status": code})


def kill_all() -> None:
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while children:
        pid, _ = os.waitpid(-1, 0)
        children.pop(pid, None)


def _terminated(_signum: int, _frame: object) -> None:
    kill_all()
    os._exit(0)


def serve() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    say({"ready": os.getpid()})
    stdin = sys.stdin.buffer
    pending = b""
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.01)
        if readable:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                if request["op"] == "spawn":
                    spawn(request)
                elif request["op"] == "kill":
                    kill(request["name"])
                elif request["op"] == "signal":
                    kill(request["name"], request["signum"])
                elif request["op"] == "quit":
                    kill_all()
                    return
        reap()
    kill_all()


if __name__ == "__main__":
    serve()
