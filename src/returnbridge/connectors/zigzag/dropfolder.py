"""ZigZag's SFTP feed as a drop folder: each complete CSV export imported once, then moved aside.

ZigZag (or the SFTP server's sync) puts exports into a folder. A file is taken only when it is
complete: when it arrived by a rename (the usual upload-to-``.part``-then-rename) or when its
size and modification time have not changed for ``settle_seconds``. Only ``*.csv`` files are
taken; hidden files (``.name.csv``) and temporary ones (``name.csv.part``, ``name.tmp``) are left
alone until they are renamed to their final name.

An imported file moves to ``done/``. A file that cannot be read at all (empty, a header without
the required columns) moves to ``failed/`` with a ``.reason.txt`` beside it; a file with some
unreadable rows is imported (those rows become INVALID_EVENT exceptions) and moves to ``done/``.
A file imported twice changes nothing: the inbox keeps each event once.

The import itself is injected (the CLI passes the one function every CSV import goes through),
so this module only decides *when* a file is ready and *where* it goes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from returnbridge.connectors.zigzag.csv_export import CsvFileError
from returnbridge.services.pipeline import StreamResult

DONE = "done"
FAILED = "failed"
SUFFIX = ".csv"

ImportFile = Callable[[Path], StreamResult]


@dataclass(frozen=True)
class FolderImport:
    """What became of one file."""

    name: str
    outcome: Literal["imported", "failed"]
    moved_to: Path
    result: StreamResult | None = None
    reason: str | None = None


@dataclass
class _Seen:
    signature: tuple[int, int]  # (size, mtime in ns)
    since: float


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem.N.csv`` if taken (the same export dropped again)."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 1
    while target.exists():
        target = folder / f"{stem}.{number}{suffix}"
        number += 1
    return target


@dataclass
class DropFolder:
    """One drop folder: which files are ready, importing them, moving them aside."""

    directory: Path
    import_file: ImportFile
    settle_seconds: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, _Seen] = field(default_factory=dict, repr=False)
    _renamed: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()  # watchdog reports absolute paths

    @staticmethod
    def is_export(path: Path) -> bool:
        """A final export name: ``*.csv`` (any case), not hidden."""
        return path.suffix.lower() == SUFFIX and not path.name.startswith(".")

    def note_renamed(self, path: Path) -> None:
        """``path`` arrived by a rename: complete at once."""
        with self._lock:
            self._renamed.add(path.name)

    def scan(self) -> tuple[list[Path], list[Path]]:
        """The exports ready to import, and the ones still being written, by name."""
        ready: list[Path] = []
        waiting: list[Path] = []
        now = self.clock()
        present: set[str] = set()
        for path in sorted(self.directory.iterdir()):
            if not self.is_export(path):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # moved away between the listing and now
            if not path.is_file():
                continue
            present.add(path.name)
            signature = (stat.st_size, stat.st_mtime_ns)
            with self._lock:
                renamed = path.name in self._renamed
                seen = self._seen.get(path.name)
                if seen is None or seen.signature != signature:
                    seen = self._seen[path.name] = _Seen(signature, now)
            if renamed or now - seen.since >= self.settle_seconds:
                ready.append(path)
            else:
                waiting.append(path)
        with self._lock:
            for name in set(self._seen) - present:
                del self._seen[name]
            self._renamed &= present
        return ready, waiting

    def import_one(self, path: Path) -> FolderImport:
        """Import ``path`` and move it to ``done/`` (or ``failed/`` if unreadable as a whole).
        Any other error (e.g. the database is down) leaves it where it is and propagates."""
        try:
            result = self.import_file(path)
        except CsvFileError as exc:
            failed = self.directory / FAILED
            failed.mkdir(exist_ok=True)
            target = _free_name(failed, path.name)
            path.rename(target)
            reason = f"error [{exc.code}] {exc.message}\n"
            target.with_name(f"{target.name}.reason.txt").write_text(reason, encoding="utf-8")
            outcome = FolderImport(path.name, "failed", target, reason=exc.message)
        else:
            done = self.directory / DONE
            done.mkdir(exist_ok=True)
            target = _free_name(done, path.name)
            path.rename(target)
            outcome = FolderImport(path.name, "imported", target, result=result)
        with self._lock:
            self._seen.pop(path.name, None)
            self._renamed.discard(path.name)
        return outcome

    def import_ready(self) -> list[FolderImport]:
        """Import every export ready now."""
        ready, _ = self.scan()
        return [self.import_one(path) for path in ready]

    def run_once(
        self,
        max_wait: float = 60.0,
        sleep: Callable[[float], object] = time.sleep,
        on_import: Callable[[FolderImport], None] = lambda _: None,
    ) -> tuple[list[FolderImport], list[Path]]:
        """Import what is there, waiting (up to ``max_wait`` s) for files still being written to
        settle. Returns what was done and the files left because they never settled."""
        started = self.clock()
        done: list[FolderImport] = []
        while True:
            ready, waiting = self.scan()
            for path in ready:
                done.append(self.import_one(path))
                on_import(done[-1])
            if not waiting or self.clock() - started >= max_wait:
                return done, waiting
            sleep(min(self.settle_seconds, 0.5) if self.settle_seconds else 0.05)

    def watch(
        self,
        stop: threading.Event,
        on_import: Callable[[FolderImport], None] = lambda _: None,
        on_error: Callable[[Path, Exception], None] = lambda _p, _e: None,
        idle_seconds: float = 5.0,
    ) -> int:
        """Import exports as they arrive until ``stop`` is set; returns how many files were
        handled. A file whose import fails for another reason (say, the database is down) is
        reported to ``on_error`` and tried again later."""
        wake = threading.Event()
        observer = Observer()
        observer.schedule(_Waker(self, wake), str(self.directory), recursive=False)
        observer.start()
        handled = 0
        retry_at: dict[str, float] = {}
        try:
            while not stop.is_set():
                wake.clear()
                ready, waiting = self.scan()
                for path in ready:
                    if stop.is_set() or retry_at.get(path.name, 0.0) > self.clock():
                        continue
                    try:
                        outcome = self.import_one(path)
                    except Exception as exc:  # reported, and retried: never lost, never fatal
                        retry_at[path.name] = self.clock() + idle_seconds
                        on_error(path, exc)
                        continue
                    retry_at.pop(path.name, None)
                    handled += 1
                    on_import(outcome)
                pause = self.settle_seconds if waiting or retry_at else idle_seconds
                deadline = self.clock() + pause
                while not stop.is_set() and not wake.is_set() and self.clock() < deadline:
                    wake.wait(min(0.2, max(0.0, deadline - self.clock())))
        finally:
            observer.stop()
            observer.join()
        return handled


class _Waker(FileSystemEventHandler):
    """Wakes the watch loop on any change in the folder; notes files that arrived by rename."""

    def __init__(self, folder: DropFolder, wake: threading.Event) -> None:
        self._folder = folder
        self._wake = wake

    def on_moved(self, event: FileSystemEvent) -> None:
        dest = Path(str(event.dest_path))
        mine = not event.is_directory and dest.parent == self._folder.directory
        if mine and DropFolder.is_export(dest):
            self._folder.note_renamed(dest)
        self._wake.set()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type != "moved":
            self._wake.set()


__all__ = ["DONE", "FAILED", "DropFolder", "FolderImport", "ImportFile"]
