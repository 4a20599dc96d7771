"""Amazon Vendor Central report exports as CSV: return requests, refunds, remittance.

Read as a stream (bounded memory whatever the file size). The header is checked first: a
required column missing, an unknown or repeated column refuses the whole file. Then every row
becomes either a fact (``ExportedFact``), or, for a refund at first scan, the same inbox event
the JSON refund feed stores (``refunds.RefundAtFirstScan``), or an unreadable record kept raw
with a reason naming the file, the row and the field. See docs/amazon-exports.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from returnbridge.connectors.amazon.refunds import SOURCE
from returnbridge.domain.catalog import asin_key
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.money import Money, parse_minor_units
from returnbridge.services.ports import InboxRecord
from returnbridge.services.vendor_exports import (
    AmazonFact,
    Deduction,
    ExportedFact,
    ExportItem,
    RemittanceLine,
    ReturnRequest,
    StandardRefund,
)

MAX_FIELD = 1_000
MAX_AMOUNT = 99_999_999_999  # minor units: 999,999,999.99, the refund feed's own limit
RFS_TYPE = "refund.first_scan"


class ExportKind(StrEnum):
    RETURN_REQUESTS = "return-requests"
    REFUNDS = "refunds"
    REMITTANCE = "remittance"


class VendorExportFileError(InvalidEvent):
    """The file as a whole cannot be read (empty, or a header that breaks the format)."""

    code = "csv.unreadable"


# ------------------------------------------------------------------------- cell types
def _whole(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _minor_units(value: object) -> object:
    return parse_minor_units(value) if isinstance(value, str) else value


def _pattern(pattern: str, what: str) -> Callable[[object], object]:
    def read(value: object) -> object:
        if not isinstance(value, str):
            return value
        if not re.fullmatch(pattern, value.upper()):
            raise ValueError(f"{value!r} is not {what}")
        return value.upper()

    return read


def _asin(value: str) -> str:
    key = asin_key(value)
    if key is None or len(value) != 10:
        raise ValueError(f"{value!r} is not an ASIN (10 letters and digits, not all digits)")
    return key


def _moment(value: object) -> object:
    """A date (midnight UTC) or a date-time; without a time zone it is taken as UTC."""
    if not isinstance(value, str):
        return value
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"{value!r} is not a date (2026-11-02) or a date-time (2026-11-02T08:37:00Z)"
        ) from None


def _word(choices: dict[str, str]) -> Callable[[object], object]:
    def read(value: object) -> object:
        if not isinstance(value, str):
            return value
        key = re.sub(r"[\s_\-]", "", value.lower())
        if key not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(set(choices.values())))}")
        return choices[key]

    return read


def _deductions(value: object) -> object:
    """``TYPE=amount|TYPE=amount``: what Amazon withheld from the line."""
    if not isinstance(value, str):
        return value
    found = []
    for part in value.split("|"):
        kind, sep, amount = (p.strip() for p in part.partition("="))
        if not sep or not kind or len(kind) > 64:
            raise ValueError(f"{part.strip()!r} is not TYPE=amount (e.g. COOP=12.50)")
        cents = parse_minor_units(amount)
        if cents < 0 or cents > MAX_AMOUNT:
            raise ValueError(f"deduction {kind!r}: {amount!r} is not from 0 to 999999999.99")
        found.append(Deduction(kind, cents))
    return tuple(found)


Id = Annotated[str, StringConstraints(max_length=100)]
Asin = Annotated[str, AfterValidator(_asin)]
Quantity = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=10_000)]
Amount = Annotated[int, BeforeValidator(_minor_units), Field(ge=0, le=MAX_AMOUNT)]
SignedAmount = Annotated[int, BeforeValidator(_minor_units), Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Currency = Annotated[str, BeforeValidator(_pattern(r"[A-Z]{3}", "a 3-letter ISO code (GBP)"))]
Moment = Annotated[datetime, BeforeValidator(_moment)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReturnRequestRow(_Row):
    request_id: Id
    vendor_code: Annotated[
        str, BeforeValidator(_pattern(r"[A-Z0-9]{1,20}", "a vendor code (1 to 20 letters, digits)"))
    ]
    order_id: Id
    asin: Asin
    quantity_requested: Quantity
    quantity_approved: Annotated[int, BeforeValidator(_whole), Field(ge=0, le=10_000)]
    refund_amount: Amount
    currency: Currency
    condition: Annotated[
        str, BeforeValidator(_word({"sellable": "sellable", "damaged": "damaged"}))
    ]
    request_date: Moment
    rma_id: Id | None = None

    @field_validator("quantity_approved")
    @classmethod
    def _within_request(cls, value: int, info: ValidationInfo) -> int:
        requested = info.data.get("quantity_requested")
        if requested is not None and value > requested:
            raise ValueError(f"{value} approved is more than the {requested} requested")
        return value

    def fact(self) -> ReturnRequest:
        return ReturnRequest(
            self.request_id,
            self.vendor_code,
            self.order_id,
            self.asin,
            self.quantity_requested,
            self.quantity_approved,
            Money(self.refund_amount, self.currency),
            self.condition,
            self.request_date,
            self.rma_id,
        )


class RefundRow(_Row):
    refund_id: Id
    refund_type: Annotated[
        Literal["rfs", "standard"],
        BeforeValidator(_word({"rfs": "rfs", "refundatfirstscan": "rfs", "standard": "standard"})),
    ]
    order_id: Id
    asin: Asin
    quantity: Quantity
    amount: Amount
    currency: Currency
    refunded_at: Moment

    def fact(self) -> StandardRefund:
        return StandardRefund(
            self.refund_id,
            self.order_id,
            self.asin,
            self.quantity,
            Money(self.amount, self.currency),
            self.refunded_at,
        )

    def rfs_payload(self) -> str:
        """The JSON a refund at first scan is stored as (``refunds.RefundAtFirstScan``)."""
        return json.dumps(
            {
                "id": self.refund_id,
                "type": RFS_TYPE,
                "orderId": self.order_id,
                "asin": self.asin,
                "quantity": self.quantity,
                "amount": f"{self.amount // 100}.{self.amount % 100:02d}",
                "currency": self.currency,
                "refundedAt": self.refunded_at.isoformat().replace("+00:00", "Z"),
            },
            sort_keys=True,
        )


class RemittanceRow(_Row):
    payment_id: Id
    payment_date: Moment
    line_no: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=1_000_000)]
    document_number: Id
    document_type: Annotated[
        str,
        BeforeValidator(
            _word({"invoice": "invoice", "creditnote": "credit_note", "credit": "credit_note"})
        ),
    ]
    amount: SignedAmount
    currency: Currency
    deductions: Annotated[tuple[Deduction, ...], BeforeValidator(_deductions)] = ()
    description: str = ""

    def fact(self) -> RemittanceLine:
        return RemittanceLine(
            self.payment_id,
            self.document_number,
            self.line_no,
            self.document_type,
            Money(self.amount, self.currency),
            self.payment_date,
            self.deductions,
            self.description,
        )


Model = type[ReturnRequestRow] | type[RefundRow] | type[RemittanceRow]
MODELS: dict[ExportKind, Model] = {
    ExportKind.RETURN_REQUESTS: ReturnRequestRow,
    ExportKind.REFUNDS: RefundRow,
    ExportKind.REMITTANCE: RemittanceRow,
}


def required_columns(model: Model) -> tuple[str, ...]:
    """The columns a file of this model must have; the first is the row's key."""
    return tuple(name for name, f in model.model_fields.items() if f.is_required())


# --------------------------------------------------------------------------- reading
def _raw_text(cells: list[str]) -> str:
    """The row as it was, with undecodable bytes written as \\x escapes."""
    text = ",".join(cells)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _header(path: Path, cells: list[str], model: Model) -> list[str]:
    header = [_raw_text([h.strip().lower().lstrip("\ufeff").strip()]) for h in cells]
    missing = [c for c in required_columns(model) if c not in header]
    if missing:
        raise VendorExportFileError(f"{path.name}: header lacks column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in model.model_fields]
    if unknown:
        raise VendorExportFileError(f"{path.name}: unknown column(s) {', '.join(unknown)}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise VendorExportFileError(f"{path.name}: column(s) {', '.join(repeated)} repeated")
    return header


def _problem(header: list[str], cells: list[str]) -> str | None:
    if len(cells) != len(header):
        return f"has {len(cells)} cells, the header has {len(header)}"
    for name, cell in zip(header, cells, strict=True):
        if any("\udc80" <= ch <= "\udcff" for ch in cell):
            return f"field '{name}': is not valid UTF-8"
        if len(cell) > MAX_FIELD:
            return f"field '{name}': is {len(cell)} characters (limit {MAX_FIELD})"
    return None


def _why(error: ValidationError) -> str:
    """Each bad field in words, with the value it had."""
    parts = []
    for err in error.errors()[:5]:
        name = ".".join(str(p) for p in err["loc"]) or "(row)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is empty (required)"
        elif isinstance(got := err.get("input"), str) and repr(got) not in message:
            message = f"{message} (got {got[:60] + '...' if len(got) > 60 else got!r})"
        parts.append(f"field '{name}': {message}")
    return "; ".join(parts)


def _unreadable(kind: ExportKind, where: str, raw: str, guess: str, why: str) -> InboxRecord:
    digest = hashlib.sha256(f"{kind}\n{raw}".encode("utf-8", "backslashreplace")).hexdigest()[:16]
    # Keyed by content, not by file name or row: the same bad row imported again (under any
    # file name) is a duplicate, not a second exception.
    return InboxRecord(
        source=SOURCE,
        event_id=f"{kind}:{guess[:150] or 'row'}#unreadable-{digest}",
        event_type=f"amazon.{kind}.unreadable",
        payload=raw,
        # "FILE row N, field 'x': why" as the master-data files say it; "FILE row N: why" else.
        invalid_reason=f"{where}{', ' if why.startswith('field ') else ': '}{why}",
    )


def read_vendor_export(
    path: Path, kind: ExportKind, on_bytes: Callable[[int], None] | None = None
) -> Iterator[ExportItem]:
    """One item per row of the file, in file order; raises ``VendorExportFileError``.

    A refund at first scan is an ``InboxRecord`` (the event the pipeline processes); every
    other good row an ``ExportedFact``; a bad row an ``InboxRecord`` with ``invalid_reason``.
    ``on_bytes`` is told, now and then, how far into the file the reader is (for progress).
    """
    model = MODELS[kind]
    # Never lower the process-wide limit another reader may rely on.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD * 100))
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            header = _header(path, next(reader), model)
        except StopIteration as exc:
            raise VendorExportFileError(f"{path.name}: the file is empty") from exc
        except csv.Error as exc:
            raise VendorExportFileError(f"{path.name}: the header cannot be read: {exc}") from exc
        at = header.index(required_columns(model)[0])
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                where = f"{path.name} row {reader.line_num}"
                yield _unreadable(kind, where, "", "", f"cannot be parsed as CSV: {exc}")
                continue
            if on_bytes is not None and reader.line_num % 1000 == 0:
                on_bytes(handle.buffer.tell())  # type: ignore[attr-defined]
            if not any(c.strip() for c in cells):
                continue
            where, raw = f"{path.name} row {reader.line_num}", _raw_text(cells)
            guess = _raw_text([cells[at].strip()]) if len(cells) > at else ""
            problem = _problem(header, cells)
            if problem is not None:
                yield _unreadable(kind, where, raw, guess, problem)
                continue
            values = {h: c.strip() for h, c in zip(header, cells, strict=True) if c.strip()}
            try:
                row = model.model_validate(values)
            except ValidationError as exc:
                yield _unreadable(kind, where, raw, guess, _why(exc))
                continue
            if isinstance(row, RefundRow) and row.refund_type == "rfs":
                yield InboxRecord(
                    SOURCE, row.refund_id, RFS_TYPE, row.rfs_payload(), f"order:{row.order_id}"
                )
                continue
            fact: AmazonFact = row.fact()
            yield ExportedFact(fact, where, raw)
