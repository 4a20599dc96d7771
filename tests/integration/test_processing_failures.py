"""A row that breaks processing is isolated: recorded, visible, and the rest still flows."""

from __future__ import annotations

import contextlib
import json

from pipeline_support import full_return

from returnbridge.bootstrap import App, decode
from returnbridge.domain.events import ReturnEvent
from returnbridge.services.pipeline import Processor, ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.services.reconcile import check
from returnbridge.store.readmodels import SqlLedgerAudit, summary


def test_a_crashing_event_becomes_processing_failed_and_its_batch_still_commits(rb: App) -> None:
    events = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK") + full_return(
        "R2", "CAS-456-WHT-L", "A", "RESTOCK"
    )

    def flaky(source: str, event_id: str, payload: str) -> ReturnEvent:
        if event_id == "R2-grd":
            raise RuntimeError("bug in a decoder")
        return decode(source, event_id, payload)

    with rb.stores() as store:
        ingest(
            store,
            [InboxRecord("zigzag", e["id"], e["type"], json.dumps(e)) for e in events],
            rb.clock(),
        )
    stats = Processor(rb.stores, flaky, rb.clock, batch_size=50).drain()
    assert (stats.processed, stats.failed) == (9, 1)
    with rb.engine.connect() as conn:
        figures = summary(conn)
        assert check(SqlLedgerAudit(conn)) == []
    assert figures["exceptions"] == {"PROCESSING_FAILED": 1}
    assert figures["events_by_status"] == {"failed": 1, "processed": 9}
    with rb.stores() as store:
        [record] = store.list_exceptions("open", "PROCESSING_FAILED", 5)
    assert "bug in a decoder" in record.message and json.loads(record.raw)["id"] == "R2-grd"
    # R2's disposition event also carries the grade, so both returns still flow completely.
    assert figures["units"]["restocked"] == 2


def test_an_uncommitted_batch_leaves_no_trace_and_is_processed_again(rb: App) -> None:
    events = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK")
    with rb.stores() as store:
        ingest(
            store,
            [InboxRecord("zigzag", e["id"], e["type"], json.dumps(e)) for e in events],
            rb.clock(),
        )

    class Crash(BaseException):
        """Stands in for the process dying mid-batch (not an Exception: nothing catches it)."""

    def dying(source: str, event_id: str, payload: str) -> ReturnEvent:
        if event_id == "R1-dsp":
            raise Crash
        return decode(source, event_id, payload)

    with contextlib.suppress(Crash):
        Processor(rb.stores, dying, rb.clock).drain()
    with rb.engine.connect() as conn:
        figures = summary(conn)
    assert figures["events_by_status"] == {"pending": 5}
    assert figures["returns"] == 0 and figures["stock"]["movements"] == 0

    rb.processor.drain()
    with rb.engine.connect() as conn:
        figures = summary(conn)
        assert check(SqlLedgerAudit(conn)) == []
    assert figures["events_by_status"] == {"processed": 5}
    assert figures["stock"] == {"movements": 1, "net_units": 1}
