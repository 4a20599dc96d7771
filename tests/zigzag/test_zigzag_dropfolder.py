"""The SFTP drop folder: complete exports imported once and moved aside, partial ones left."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from zigzag_support import MakeApp, inbox_rows

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.dropfolder import DropFolder, FolderImport
from returnbridge.entrypoints.cli.pipeline import import_zigzag_file
from returnbridge.sandboxes.zigzag import ManualClock
from returnbridge.sandboxes.zigzag.generator import generate_day, write_export

pytestmark = pytest.mark.integration


@pytest.fixture
def rb(sqlite_url: str, app_factory: MakeApp) -> App:
    return app_factory(sqlite_url)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "ReturnEvents_2026-11-02T000000Z.csv"
    write_export(generate_day(20, 3), path)
    return path


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def folder_of(rb: App, drop: Path, **options: object) -> DropFolder:
    return DropFolder(drop, lambda path: import_zigzag_file(rb, path), **options)  # type: ignore[arg-type]


def test_a_complete_export_is_imported_once_and_moved_to_done(
    rb: App, export: Path, drop: Path
) -> None:
    shutil.copy(export, drop / export.name)
    (drop / "next.csv.part").write_text("event_id,event_type\n", encoding="utf-8")
    (drop / ".next.csv").write_text("event_id,event_type\n", encoding="utf-8")
    (drop / "notes.txt").write_text("not an export", encoding="utf-8")

    done, waiting = folder_of(rb, drop, settle_seconds=0.05).run_once()

    assert [d.outcome for d in done] == ["imported"] and not waiting
    assert done[0].moved_to == drop / "done" / export.name and done[0].moved_to.exists()
    assert done[0].result is not None and done[0].result.accepted > 0
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == [
        ".next.csv",
        "next.csv.part",
        "notes.txt",
    ]


def test_the_same_export_dropped_again_changes_nothing(rb: App, export: Path, drop: Path) -> None:
    folder = folder_of(rb, drop, settle_seconds=0.0)
    shutil.copy(export, drop / export.name)
    (first,), _ = folder.run_once()
    before = inbox_rows(rb)
    shutil.copy(export, drop / export.name)

    (again,), _ = folder.run_once()

    assert first.result is not None and again.result is not None
    assert again.result.accepted == again.result.invalid == 0
    assert again.result.duplicates == first.result.accepted + first.result.duplicates + 3
    assert again.moved_to.name == export.stem + ".1.csv"
    rows = inbox_rows(rb)
    assert [r["event_id"] for r in rows] == [r["event_id"] for r in before]


def test_a_file_still_being_written_is_taken_only_once_its_size_is_stable(
    rb: App, export: Path, drop: Path
) -> None:
    clock = ManualClock(0.0)
    folder = folder_of(rb, drop, settle_seconds=2.0, clock=clock)
    growing = drop / export.name
    data = export.read_bytes()
    growing.write_bytes(data[: len(data) // 2])

    assert folder.scan() == ([], [growing])
    clock.advance(1.5)
    with growing.open("ab") as handle:
        handle.write(data[len(data) // 2 :])
    assert folder.scan() == ([], [growing])  # it changed: the wait starts again
    clock.advance(1.5)
    assert folder.scan() == ([], [growing])
    clock.advance(0.5)
    assert folder.scan() == ([growing], [])


def test_an_export_that_cannot_be_read_at_all_goes_to_failed_with_its_reason(
    rb: App, drop: Path
) -> None:
    (drop / "broken.csv").write_text("sku,quantity\nX,1\n", encoding="utf-8")

    (outcome,), _ = folder_of(rb, drop, settle_seconds=0.0).run_once()

    assert outcome.outcome == "failed" and outcome.moved_to == drop / "failed" / "broken.csv"
    reason = (drop / "failed" / "broken.csv.reason.txt").read_text(encoding="utf-8")
    assert "csv.unreadable" in reason and "event_id" in reason
    assert inbox_rows(rb) == []


def test_watching_picks_up_an_upload_as_soon_as_it_is_renamed_into_place(
    rb: App, export: Path, drop: Path
) -> None:
    stop = threading.Event()
    handled: list[FolderImport] = []
    folder = folder_of(rb, drop, settle_seconds=60.0)  # only the rename can make it ready soon
    watcher = threading.Thread(
        target=folder.watch, args=(stop,), kwargs={"on_import": handled.append}, daemon=True
    )
    watcher.start()
    try:
        time.sleep(0.2)  # the observer is running
        part = drop / f"{export.name}.part"
        shutil.copy(export, part)
        part.rename(drop / export.name)
        deadline = time.monotonic() + 5
        while not handled and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join(5)

    assert [h.name for h in handled] == [export.name]
    assert (drop / "done" / export.name).exists() and not (drop / export.name).exists()
    assert not watcher.is_alive()
