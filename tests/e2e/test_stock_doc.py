"""docs/stock.md runs as written: its `$ returnbridge ...` commands, in order, on a fresh
database with the files the page shows (its warehouses file, its snapshot, and the catalog
example of docs/master-data.md), print what the page says they print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).parents[2] / "docs"
RUN = [sys.executable, "-m", "returnbridge"]


def blocks(page: str, language: str) -> list[str]:
    """The page's fenced blocks of ``language`` ("" for plain ones), in order."""
    found: list[str] = []
    current: list[str] | None = None
    fence = ""
    for line in page.splitlines():
        if current is None and line.startswith("```"):
            current, fence = [], line[3:].strip()
        elif current is not None and line.startswith("```"):
            if fence == language:
                found.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return found


def sessions(page: str) -> list[tuple[str, list[str]]]:
    """Each shown command and the lines the page says it prints."""
    found = []
    for block in blocks(page, ""):
        lines = block.splitlines()
        if lines and lines[0].startswith("$ returnbridge "):
            found.append((lines[0].removeprefix("$ "), lines[1:]))
    return found


def words(lines: list[str] | str) -> str:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    return " ".join(text.split())


def test_every_command_docs_stock_shows_prints_what_it_says(tmp_path: Path) -> None:
    page = (DOCS / "stock.md").read_text(encoding="utf-8")
    (catalog,) = blocks((DOCS / "master-data.md").read_text(encoding="utf-8"), "csv")[:1]
    (tmp_path / "catalog.csv").write_text(catalog, encoding="utf-8")
    (warehouses,) = blocks(page, "toml")[:1]
    (tmp_path / "warehouses.toml").write_text(warehouses, encoding="utf-8")
    (snapshot,) = blocks(page, "csv")[:1]
    (tmp_path / "stock-snapshot.csv").write_text(snapshot, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")},
        "RETURNBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'rb.db'}",
        "COLUMNS": "300",  # no wrapping: the page shows whole lines
    }

    def run(command: str) -> str:
        done = subprocess.run(
            [*RUN, *command.split()[1:]], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("returnbridge db upgrade")
    run("returnbridge catalog load catalog.csv")
    shown = sessions(page)
    assert len(shown) >= 4
    for command, expected in shown:
        assert words(expected) in words(run(command)), command
