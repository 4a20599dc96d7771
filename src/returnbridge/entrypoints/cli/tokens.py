"""``tokens create|list|revoke``: API tokens, one per person or system."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from returnbridge.domain.auth import Role
from returnbridge.entrypoints.cli.common import DbOption, console, err_console, open_app
from returnbridge.services.access import create_token, revoke_tokens
from returnbridge.store.tokens import access_transaction

tokens_app = typer.Typer(
    no_args_is_help=True, help="API tokens (sent as Authorization: Bearer <token>)."
)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


ActorOption = typer.Option(getpass.getuser, help="Who is acting (recorded in the audit log).")


@tokens_app.command("create")
def create(
    name: str = typer.Option(..., help="Who or what uses it: a person (alice), a system."),
    role: Role = typer.Option(..., help="viewer, ops, finance or admin."),
    actor: str = ActorOption,
    db: str | None = DbOption,
) -> None:
    """Create a token and print it once: only its hash is kept, it cannot be shown again."""
    with open_app(db) as rb, access_transaction(rb.engine) as store:
        issued = create_token(store, name, role, actor, rb.clock())
    r = issued.record
    err_console.print(
        f"token {r.id} for {r.name} (role {r.role}) created; copy it now, it is not shown again:"
    )
    typer.echo(issued.token)


@tokens_app.command("list")
def list_tokens(
    revoked: bool = typer.Option(True, help="Include revoked tokens."),
    db: str | None = DbOption,
) -> None:
    """Every token: name, role, prefix, created, last used, revoked (never the token)."""
    with open_app(db) as rb, access_transaction(rb.engine) as store:
        records = store.tokens()
    table = Table(title=f"{len(records)} token(s)")
    for column in ("id", "name", "role", "prefix"):
        table.add_column(column, no_wrap=True)
    for column in ("created", "by", "last used", "revoked"):
        table.add_column(column, overflow="fold")
    for r in records:
        if r.revoked_at is not None and not revoked:
            continue
        table.add_row(
            str(r.id),
            r.name,
            r.role.value,
            r.prefix + "…",
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.created_by,
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "never",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "-",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke(
    name_or_id: str = typer.Argument(..., help="The token's name (its active token) or id."),
    actor: str = ActorOption,
    db: str | None = DbOption,
) -> None:
    """Revoke a token: from now on it is refused (401 revoked_token). It cannot be undone."""
    with open_app(db) as rb, access_transaction(rb.engine) as store:
        revoked = revoke_tokens(store, name_or_id, actor, rb.clock())
    for r in revoked:
        console.print(f"token {r.id} ({r.name}, {r.role}) revoked by {actor}")
