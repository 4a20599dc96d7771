"""What the audit tests share: the two commands under test, their arguments, reading sheets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from returnbridge.entrypoints.cli import audit, sandbox
from returnbridge.sandboxes.history import History

RETURNS, SEED = 200, 11


def cli() -> typer.Typer:
    """Just the two commands under test, as the real app registers them."""
    app = typer.Typer()
    audit.register(app)
    sandbox.register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``audit`` a sub-command, as in the real app."""

    return app


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli(), list(args))
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def audit_args(folder: Path, out: Path, *extra: str, ledger: bool = True) -> list[str]:
    args = [
        "audit",
        "--zigzag", str(folder / "zigzag-export.csv"),
        "--amazon-returns", str(folder / "amazon-return-requests.csv"),
        "--amazon-refunds", str(folder / "amazon-refunds.csv"),
        "--remittance", str(folder / "amazon-remittance.csv"),
        "--catalog", str(folder / "catalog.csv"),
        "--out", str(out),
    ]  # fmt: skip
    if ledger:
        args += ["--ledger", str(folder / "gl-export.csv")]
    return [*args, *extra]


@dataclass(frozen=True)
class Audited:
    history: History
    folder: Path  # the history's files
    out: Path  # the report
    figures: dict[str, Any]  # audit.json
    planted: dict[str, Any]  # planted.json
    output: str  # what the command printed


def sheet(out: Path, name: str) -> list[dict[str, Any]]:
    """A sheet of ``out/audit.xlsx`` as dicts by header, without its totals row."""
    workbook = load_workbook(out / "audit.xlsx", read_only=True)
    try:
        rows = list(workbook[name].iter_rows(values_only=True))
    finally:
        workbook.close()
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:] if r[0] != "Total"]
