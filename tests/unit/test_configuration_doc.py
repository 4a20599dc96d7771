"""docs/configuration.md documents every setting of the settings model, with its default, and
is exactly what ``returnbridge config doc`` renders from it."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr
from typer.testing import CliRunner

from returnbridge.config import Settings
from returnbridge.config_doc import GROUPS, render_configuration
from returnbridge.entrypoints.cli.app import app

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `RETURNBRIDGE_(?P<name>[A-Z0-9_]+)` \| (?P<type>.*?) \| (?P<default>.*?) \|")
REGENERATE = "run `returnbridge config doc --out docs/configuration.md` and commit the result"


def documented_defaults() -> dict[str, str]:
    """Each setting in the committed table, with the default it shows."""
    rows = [ROW.match(line) for line in DOC.read_text(encoding="utf-8").splitlines()]
    return {row["name"].lower(): row["default"] for row in rows if row}


def expected_default(name: str) -> str:
    default = Settings.model_fields[name].default
    if isinstance(default, SecretStr) or default == "":
        return "*(empty)*"
    return f"`{default}`"


def test_every_setting_is_documented_once_with_its_default() -> None:
    documented = documented_defaults()
    assert sorted(documented) == sorted(Settings.model_fields), REGENERATE
    wrong = {
        name: (shown, expected_default(name))
        for name, shown in documented.items()
        if shown != expected_default(name)
    }
    assert wrong == {}, REGENERATE


def test_no_secret_shows_a_value() -> None:
    documented = documented_defaults()
    secrets = [n for n, f in Settings.model_fields.items() if f.annotation is SecretStr]
    assert secrets and all(documented[name] == "*(empty)*" for name in secrets)


def test_the_committed_doc_is_what_the_settings_model_renders() -> None:
    assert DOC.read_text(encoding="utf-8") == render_configuration(), REGENERATE


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_the_groups_follow_the_settings_in_their_order() -> None:
    names = list(Settings.model_fields)
    starts = [names.index(group.first) for group in GROUPS]
    assert starts[0] == 0 and starts == sorted(starts)


def test_config_doc_writes_the_doc_without_reading_any_setting(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    env = {"RETURNBRIDGE_BATCH_SIZE": "not a number"}  # would stop a command reading settings
    result = CliRunner().invoke(app, ["config", "doc", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render_configuration()
    printed = CliRunner().invoke(app, ["config", "doc"], env=env)
    assert printed.exit_code == 0 and printed.stdout == render_configuration()
