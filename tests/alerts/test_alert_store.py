"""The alerts table on SQLite and PostgreSQL: the rules read their facts from the database, a
condition is stored once while it lasts and resolved when it clears, notifications are owed
until delivered, and two evaluators at once never store a condition twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alerts_support import MakeApp, ScriptedVendor, post_events
from pipeline_support import T0, full_return, send
from sqlalchemy import func, select
from stock_support import load_map, opening

from returnbridge.bootstrap import App
from returnbridge.entrypoints.alerting import record_cycle_alerts, run_alerts, thresholds
from returnbridge.services.alerting import CLAIM_LEASE, Alerting, AlertRun
from returnbridge.services.alerts import Alert, cycle_alerts
from returnbridge.services.cycles import CycleReport
from returnbridge.store.alerts import alert_transaction
from returnbridge.store.tables import alerts
from returnbridge.testing.alerts import RecordingNotifier

pytestmark = pytest.mark.integration


def alerting(rb: App, notifier: RecordingNotifier | None = None) -> Alerting:
    return Alerting(lambda: alert_transaction(rb.engine), thresholds(rb.settings), notifier)


def a(key: str, summary: str = "s") -> Alert:
    name = key.partition(":")[0]
    return Alert(name, "warning", summary, f"docs/operations.md#{name.lower()}", key=key)


def rows(rb: App) -> int:
    with rb.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts)).scalar_one())


def test_the_rules_read_their_facts_from_the_database(make_app: MakeApp, db_url: str) -> None:
    rb = make_app(db_url)
    opening(rb, positions=(("AMZ-UK1", "CAS-123-BLK-M"),))
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"),
        *full_return("R2", "NOPE-404", "A", "RESTOCK", reason=99),
    )
    rb.clearing_cycle(ScriptedVendor(down=True)).close(poll_rounds=1)  # prepared, not sent
    service = alerting(rb, RecordingNotifier())

    soon = service.evaluate(T0 + timedelta(hours=12))
    assert {x.key for x in soon.firing} == {
        "UNMAPPED_CODE:UNKNOWN_SKU:NOPE-404",
        "UNMAPPED_CODE:UNMAPPED_REASON:99",
        "PARTNER_UNREACHABLE:amazon",
    }
    later = service.evaluate(T0 + timedelta(days=40))
    assert {x.key for x in later.firing} == {
        "UNMAPPED_CODE:UNKNOWN_SKU:NOPE-404",
        "UNMAPPED_CODE:UNMAPPED_REASON:99",
        "PARTNER_UNREACHABLE:amazon",
        "QUEUE_AGE:amazon.credit_note",
        "QUEUE_AGE:amazon.inventory",
        "QUEUE_AGE:erp.journal",
        "QUEUE_AGE:erp.stock",
        "CREDIT_PENDING_AGED",
        "SYNC_LAG",
    }
    by_key = {x.key: x for x in later.firing}
    assert "GBP 20.00" in by_key["CREDIT_PENDING_AGED"].summary
    assert "last clearing cycle closed: never" in by_key["SYNC_LAG"].summary


def test_amazon_rejecting_its_changes_raises_the_rejection_rate(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    opening(rb, positions=(("AMZ-UK1", "CAS-123-BLK-M"),))
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    rb.clearing_cycle(ScriptedVendor(reject_inventory=True)).close(poll_rounds=1)
    run = alerting(rb).evaluate(T0 + timedelta(hours=12))
    (alert,) = [x for x in run.firing if x.name == "AMAZON_REJECTION_RATE"]
    assert alert.summary.startswith("Amazon rejected 1 of 2 change(s)")
    assert run.delivered == 1  # no webhook: the log line is the notification
    with alert_transaction(rb.engine) as store:
        (stored,) = store.list_alerts()
    assert stored.notified_via == "log" and stored.notice_owed is None


def test_a_condition_is_stored_once_while_it_lasts_and_resolved_when_it_clears(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    notifier = RecordingNotifier()
    service = alerting(rb, notifier)
    now = T0
    first = service.record_cycle([a("AMAZON_STUCK", "1 stuck")], now)
    again = service.record_cycle([a("AMAZON_STUCK", "2 stuck")], now + timedelta(hours=1))
    assert [x.key for x in first.fired] == ["AMAZON_STUCK"] and again.fired == []
    (firing,) = again.firing
    assert (firing.seen_count, firing.summary, firing.first_seen) == (2, "2 stuck", now)
    assert rows(rb) == 1
    assert notifier.keys() == [("firing", "AMAZON_STUCK")]

    cleared = service.record_cycle([], now + timedelta(hours=2))
    assert [x.key for x in cleared.resolved] == ["AMAZON_STUCK"] and cleared.firing == []
    back = service.record_cycle([a("AMAZON_STUCK", "3 stuck")], now + timedelta(hours=3))
    assert [x.key for x in back.fired] == ["AMAZON_STUCK"] and rows(rb) == 2  # a new episode
    assert notifier.keys() == [
        ("firing", "AMAZON_STUCK"),
        ("resolved", "AMAZON_STUCK"),
        ("firing", "AMAZON_STUCK"),
    ]


def test_a_cycle_resolves_only_cycle_alerts_and_an_evaluation_only_its_own(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    service = alerting(rb)
    with alert_transaction(rb.engine) as store:
        store.record_alerts([a("QUEUE_DEPTH:inbox")], "state", T0)
    service.record_cycle([a("AMAZON_THROTTLED")], T0)
    after_cycle = service.record_cycle([], T0 + timedelta(hours=1))
    assert [x.key for x in after_cycle.firing] == ["QUEUE_DEPTH:inbox"]
    service.record_cycle([a("AMAZON_THROTTLED")], T0 + timedelta(hours=2))
    evaluated = service.evaluate(T0 + timedelta(hours=3))  # a quiet database
    assert [x.key for x in evaluated.resolved] == ["QUEUE_DEPTH:inbox"]
    assert [x.key for x in evaluated.firing] == ["AMAZON_THROTTLED"]


def test_a_notification_owed_is_kept_until_the_webhook_takes_it(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    notifier = RecordingNotifier(down=True)
    service = alerting(rb, notifier)
    run = service.record_cycle([a("AMAZON_STUCK"), a("CREDIT_OVERSTATED")], T0)
    assert (run.delivered, run.owed, notifier.refused) == (0, 2, 1)  # stops at the first
    with alert_transaction(rb.engine) as store:
        owed = store.alerts_owing_notice(10)
    assert [x.notice_owed for x in owed] == ["firing", "firing"]
    assert owed[0].notify_attempts == 1 and "webhook is down" in (owed[0].notify_error or "")

    service.record_cycle([a("CREDIT_OVERSTATED")], T0 + timedelta(minutes=1))  # STUCK resolves
    notifier.down = False
    run = service.deliver(T0 + timedelta(minutes=2))
    # STUCK fired and cleared while the webhook was down: one message says both.
    assert notifier.keys() == [("resolved", "AMAZON_STUCK"), ("firing", "CREDIT_OVERSTATED")]
    assert service.deliver(T0 + timedelta(minutes=3)).delivered == 0


def test_a_notification_in_flight_is_not_claimed_twice(make_app: MakeApp, db_url: str) -> None:
    rb = make_app(db_url)
    with alert_transaction(rb.engine) as store:
        (alert,) = store.record_alerts([a("AMAZON_STUCK")], "cycle", T0).fired
    with alert_transaction(rb.engine) as store:
        assert store.claim_notice(alert.id, T0, CLAIM_LEASE) is not None
    with alert_transaction(rb.engine) as store:
        assert store.claim_notice(alert.id, T0 + timedelta(minutes=1), CLAIM_LEASE) is None
    with alert_transaction(rb.engine) as store:  # the evaluator holding it died: lease over
        assert store.claim_notice(alert.id, T0 + CLAIM_LEASE, CLAIM_LEASE) is not None


def test_a_second_evaluator_waits_for_the_first_and_stores_nothing_twice(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    found = [a("QUEUE_DEPTH:inbox"), a("SYNC_LAG"), a("UNMAPPED_CODE:UNMAPPED_REASON:99")]
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with alert_transaction(rb.engine) as store:
                store.record_alerts(found, "state", T0 + timedelta(minutes=1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with alert_transaction(rb.engine) as first:
        first.record_alerts(found, "state", T0)  # inserted, not yet committed
        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive(), "the second evaluator did not wait for the first"
    other.join(30)
    assert errors == []
    assert rows(rb) == 3
    with alert_transaction(rb.engine) as store:
        assert {x.seen_count for x in store.list_alerts()} == {2}


def test_a_cycles_alerts_are_kept_until_a_cycle_no_longer_raises_them(
    make_app: MakeApp, sqlite_url: str
) -> None:
    rb = make_app(sqlite_url)
    raised = cycle_alerts(CycleReport(stuck=1, unsent=2), calls=0, throttled=0)
    run = record_cycle_alerts(rb, raised)
    # AMAZON_UNREACHABLE is the rules' to keep: the unsent requests are in the database.
    assert [x.key for x in run.firing] == ["AMAZON_STUCK"]
    assert [x.key for x in record_cycle_alerts(rb, []).resolved] == ["AMAZON_STUCK"]


def test_the_service_loop_evaluates_until_stopped_and_outlives_a_failed_round(
    make_app: MakeApp, sqlite_url: str
) -> None:
    rb = make_app(sqlite_url, alert_inbox_depth_limit=0)
    post_events(rb, 1)
    stop = threading.Event()
    seen: list[AlertRun] = []

    def on_run(run: AlertRun) -> None:
        seen.append(run)
        if len(seen) == 1:
            raise RuntimeError("a round that fails")
        if len(seen) == 3:
            stop.set()

    assert run_alerts(rb, stop, on_run=on_run, interval=0.01) == 2
    assert [x.key for x in seen[0].fired] == ["QUEUE_DEPTH:inbox"]
    assert seen[1].fired == [] and [x.key for x in seen[2].firing] == ["QUEUE_DEPTH:inbox"]


def test_stock_held_back_raises_one_alert_per_warehouse_not_one_per_sku(
    make_app: MakeApp, db_url: str
) -> None:
    rb = make_app(db_url)
    load_map(rb)  # no snapshot yet
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"),
        *full_return("R2", "CAS-456-WHT-L", "A", "RESTOCK"),
    )
    rb.clearing_cycle(ScriptedVendor()).close(poll_rounds=1)
    run = alerting(rb).evaluate(T0 + timedelta(hours=12))
    held = [x for x in run.firing if x.name == "STOCK_HELD"]
    assert [(x.key, x.runbook) for x in held] == [
        (
            "STOCK_HELD:STOCK_SNAPSHOT_MISSING:AMZ-UK1",
            "docs/operations.md#stock_snapshot_missing",
        )
    ]
    assert held[0].summary.startswith("2 stock position(s) at Amazon warehouse AMZ-UK1 held")
