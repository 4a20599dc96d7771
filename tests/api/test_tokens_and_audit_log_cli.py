"""The commands: ``tokens create|list|revoke``, ``exceptions resolve`` and ``audit-log list|
verify``; the audit log's triggers, its chain under concurrent writers, and a tampered row."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest
from api_support import MakeApp, audit_rows, status_of
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from returnbridge.domain.audit_log import ActorKind, AuditEntry
from returnbridge.entrypoints.cli.app import app as cli
from returnbridge.store.audit_log import append_audit
from returnbridge.store.sql import transaction
from returnbridge.store.tables import api_tokens

pytestmark = pytest.mark.integration


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_a_token_is_shown_once_kept_only_as_a_hash_and_its_life_is_audited(
    make_app: MakeApp, sqlite_url: str
) -> None:
    rb = make_app(sqlite_url)
    db = ("--db", sqlite_url)
    created = run(
        "tokens", "create", "--name", "grafana", "--role", "viewer", "--actor", "ada", *db
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("rb_") and len(token) == 46 and "not shown again" in created.stderr

    with rb.engine.connect() as conn:
        [row] = conn.execute(api_tokens.select()).mappings().all()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps({k: str(v) for k, v in row.items()})

    listed = run("tokens", "list", *db)
    assert "grafana" in listed.stdout and token[:11] in listed.stdout
    assert token not in listed.stdout and "never" in listed.stdout

    again = run("tokens", "create", "--name", "grafana", "--role", "admin", *db)
    assert again.exit_code != 0 and "active already" in str(again.exception)
    revoked = run("tokens", "revoke", "grafana", "--actor", "ada", *db)
    assert revoked.exit_code == 0 and "revoked by ada" in revoked.stdout

    rows = audit_rows(rb)
    assert [(r["action"], r["actor"], r["actor_kind"], r["target"]) for r in rows] == [
        ("token.create", "ada", "cli", "token:1"),
        ("token.revoke", "ada", "cli", "token:1"),
    ]
    assert rows[0]["before"] is None and rows[0]["after"]["role"] == "viewer"
    assert rows[1]["before"]["revoked_at"] is None and rows[1]["after"]["revoked_at"]
    assert token not in json.dumps(rows, default=str)


def test_a_resolution_from_the_command_line_is_audited_with_before_and_after(
    make_app: MakeApp, sqlite_url: str
) -> None:
    rb = make_app(sqlite_url, stock=1)
    [exception_id] = [1]
    done = run(
        "exceptions", "resolve", str(exception_id), "--action", "ignore",
        "--note", "legacy reason", "--actor", "sam", "--db", sqlite_url,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert status_of(rb, exception_id) == "ignored"
    [row] = audit_rows(rb)
    assert (row["action"], row["actor"], row["actor_kind"]) == ("exception.resolve", "sam", "cli")
    assert row["before"]["status"] == "open" and row["before"]["code"] == "UNMAPPED_REASON"
    assert row["after"]["decision"] == {"action": "ignore", "note": "legacy reason"}
    assert row["after"]["queued_event"] == "manual/exception-1-action-1"

    listed = run("audit-log", "list", "--json", "--db", sqlite_url)
    assert json.loads(listed.stdout)["target"] == "exception:1"
    refused = run(
        "exceptions", "resolve", "1", "--action", "ignore", "--note", "x", "--db", sqlite_url
    )
    assert refused.exit_code != 0 and len(audit_rows(rb)) == 1  # refused: no row


def _entry(n: int) -> AuditEntry:
    at = datetime(2026, 11, 3, 9, 0, n % 60, tzinfo=UTC)
    return AuditEntry(at, f"actor{n}", ActorKind.CLI, "test.write", f"t:{n}", None, {"n": n})


def test_the_audit_log_refuses_changes_and_verify_names_a_tampered_row(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    with transaction(rb.engine) as store:
        for n in range(4):
            append_audit(store.conn, _entry(n))
    ok = run("audit-log", "verify", "--db", db_url)
    assert (ok.exit_code, ok.stdout.split(";")[0]) == (0, "4 rows, chain intact")
    head = ok.stdout.strip().rsplit(" ", 1)[1]

    for statement in (
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 2",
        "DELETE FROM audit_log WHERE id = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), rb.engine.begin() as conn:
            conn.execute(text(statement))

    # An attacker with the database's keys drops the triggers first.
    with rb.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
    broken = run("audit-log", "verify", "--db", db_url)
    assert broken.exit_code == 1
    assert "BROKEN at row 2: its contents do not match its hash" in broken.stderr

    with rb.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'actor1' WHERE id = 2"))  # put back
        conn.execute(text("DELETE FROM audit_log WHERE id = 4"))  # cut the newest row
    cut = run("audit-log", "verify", "--db", db_url)
    assert cut.exit_code == 0  # the chain alone cannot tell its end was cut ...
    anchored = run("audit-log", "verify", "--anchor", head, "--db", db_url)
    assert anchored.exit_code == 1 and "is not in the chain" in anchored.stderr  # ... the anchor

    with rb.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    hole = run("audit-log", "verify", "--db", db_url)
    assert hole.exit_code == 1 and "BROKEN at row 3: row 2 before it is missing" in hole.stderr


def test_concurrent_writers_do_not_fork_the_chain(make_app: MakeApp, db_url: str) -> None:
    rb = make_app(db_url)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(10):
                with transaction(rb.engine) as store:
                    append_audit(store.conn, _entry(worker * 100 + n))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = audit_rows(rb)
    assert [r["id"] for r in rows] == list(range(1, 41))
    assert run("audit-log", "verify", "--db", db_url).stdout.startswith("40 rows, chain intact")
