"""Run the Alembic history programmatically (``returnbridge db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from returnbridge.domain.errors import ReturnBridgeError, StoreUnavailable


class SchemaNotReady(ReturnBridgeError):
    """The database has no returnbridge schema, or an older one than this code needs."""

    code = "store.schema_not_ready"


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def require_head(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:  # the server is down or restarting: worth waiting for
        raise StoreUnavailable(f"cannot read the schema version: {exc.orig}") from exc
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "no returnbridge schema" if current is None else f"schema {current}, not {head}"
        raise SchemaNotReady(
            f"the database {where} has {state}: run `returnbridge db upgrade --db {where}`"
        )
