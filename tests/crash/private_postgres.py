"""A PostgreSQL server of the test's own, so the crash harness can restart it without
disturbing the tests that share the main server.

The binaries are found at run time (``pg_config --bindir``, else the Debian layout, else the
PATH); the cluster lives in a temporary folder and listens on a free loopback port. PostgreSQL
refuses to run as root: when the tests run as root, every server command runs as the
``postgres`` OS user (``runuser``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text


class PostgresUnavailable(RuntimeError):
    """No private PostgreSQL server could be started here (the message says why)."""


def _bindir() -> Path:
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        got = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if got.returncode == 0:
            candidates.append(Path(got.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb and pg_ctl) found: looked at `pg_config "
        "--bindir`, the Debian layout and the PATH"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """One throw-away cluster: ``start``, ``url(database)``, ``restart``, ``stop``."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="returnbridge-crash-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.restarts = 0
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` OS user to run the server as"
                ) from exc
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root and `runuser` is not installed")
            self._as_postgres = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.root.chmod(0o755)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*self._as_postgres, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    def _pg_ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=60"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", *args,
        )  # fmt: skip

    def start(self) -> PrivatePostgres:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):
            try:
                self._pg_ctl("start")
                return self
            except PostgresUnavailable:
                if attempt == 2:
                    raise
                self.port = _free_port()  # taken meanwhile by another process: another one
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def restart(self, mode: str = "immediate") -> float:
        """Restart the server (``immediate``: as after a crash); returns the seconds it took."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", mode)
        self.restarts += 1
        return time.monotonic() - started

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
