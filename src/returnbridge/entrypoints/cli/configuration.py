"""``config doc``: every setting, its type, default and description (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from returnbridge.config import Settings
from returnbridge.config_doc import render_configuration
from returnbridge.entrypoints.cli.common import console

config_app = typer.Typer(no_args_is_help=True, help="The settings (RETURNBRIDGE_*).")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("doc")
def doc(
    out: Path | None = typer.Option(
        None, "--out", dir_okay=False, help="Write it to this file (docs/configuration.md)."
    ),
) -> None:
    """Every setting as Markdown, from the settings model: variable, type or allowed values,
    default (never a secret's) and description. No settings are read."""
    text = render_configuration()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"{out}: {len(Settings.model_fields)} settings")
