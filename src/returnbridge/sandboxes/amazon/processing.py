"""What Amazon decides about an accepted submission: which items fail, and why.

A request that passed validation (202) can still end as a ``Failure`` transaction. Amazon's
model gives a transaction one status with an error list, so one bad item fails the whole
transaction: every bad item is listed, and no item of a failed transaction is applied.

Vendor Central refuses an invoice number it already holds (``DuplicateInvoice``) and keeps the
first: a resent invoice or credit note fails its transaction instead of replacing the original.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from returnbridge.sandboxes.amazon.wire import ApiError, api_error

Status = Literal["Processing", "Success", "Failure"]

DUPLICATE_INVOICE = "DuplicateInvoice"
"""The code of an invoice whose number Amazon already holds: refused, not a rejected record."""


@dataclass(frozen=True)
class ItemProblem:
    """Why one item (inventory item, or invoice) failed its transaction."""

    index: int
    """Position in ``inventory.items`` or in ``invoices``."""
    code: str
    message: str
    details: str
    """Where the item is in the request, e.g. ``items[3]`` or ``invoices[0].items[1]``."""

    def as_error(self) -> ApiError:
        """The ``Error`` reported in the transaction status."""
        return api_error(self.code, self.message, self.details)


@dataclass
class Transaction:
    """One accepted submission and its fate, fixed when it arrived."""

    transaction_id: str
    operation_id: str
    """``submitInventoryUpdate`` or ``submitInvoices``."""
    status_operation_id: str
    """The status API that knows it: DF ``getTransactionStatus`` or retail ``getTransaction``."""
    submitted_at: float
    outcome: Status
    """``Success`` or ``Failure``; ``Processing`` for a stuck transaction."""
    problems: list[ItemProblem] = field(default_factory=list)
    status_reads: int = 0
    item_count: int = 0


def identifier_of(item: dict[str, Any]) -> str:
    """The key an inventory item is stocked under: the vendor's identifier, else the ASIN."""
    return str(item.get("vendorProductIdentifier") or item.get("buyerProductIdentifier") or "")


def _quantity(item: dict[str, Any]) -> int:
    quantity = item.get("availableQuantity") or {}
    # ``amount`` is optional in the model; an item without one is taken as none available.
    return int(quantity.get("amount", 0))


def stable_draw(seed: int, what: str) -> float:
    """A number in [0, 1) fixed by the seed and the item: Amazon rejects an item for a reason
    of its data, so the same item is rejected again when it is sent again (and an item sent
    beside it is not dragged along)."""
    digest = hashlib.sha256(f"{seed}/reject/{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def judge_inventory(
    inventory: dict[str, Any],
    known_items: Collection[str],
    draw: Callable[[str], float],
    reject_rate: float,
) -> list[ItemProblem]:
    """Problems of a valid ``InventoryUpdate``, in item order."""
    problems = []
    for index, item in enumerate(inventory["items"]):
        where = f"items[{index}]"
        name = identifier_of(item)
        rejected = draw(name) < reject_rate
        found: list[ItemProblem] = []
        identifiers = {item.get("vendorProductIdentifier"), item.get("buyerProductIdentifier")}
        if known_items and not identifiers & set(known_items):
            message = f"Item '{name}' is not known to Amazon."
            found.append(ItemProblem(index, "InvalidItem", message, where))
        if item.get("isObsolete") is True:
            message = f"Item '{name}' is obsolete (permanently unavailable)."
            found.append(ItemProblem(index, "ObsoleteItem", message, where))
        amount = _quantity(item)
        if amount < 0:
            message = f"Item '{name}' has availableQuantity.amount {amount}, below zero."
            found.append(ItemProblem(index, "INVALID_QUANTITY", message, where))
        if rejected and not found:
            message = f"Item '{name}' was rejected by Amazon."
            found.append(ItemProblem(index, "Rejected", message, where))
        problems += found
    return problems


def judge_invoices(
    invoices: list[dict[str, Any]],
    invoice_known: Callable[[str], bool],
    held: Callable[[str, str], bool],
    draw: Callable[[str], float],
    reject_rate: float,
) -> list[ItemProblem]:
    """Problems of a valid ``SubmitInvoicesRequest``; each invoice is one item.

    An invoice whose number Amazon already holds (``held(invoiceType, id)``) or that appears
    earlier in the same request is a ``DuplicateInvoice``: Amazon keeps the first. A duplicate
    is refused for its number, so it is not also drawn for rejection; its lines are still
    checked for unknown references.
    """
    problems = []
    seen: set[str] = set()
    for index, invoice in enumerate(invoices):
        number, kind = str(invoice["id"]), str(invoice["invoiceType"])
        duplicate = number in seen or held(kind, number)
        seen.add(number)
        rejected = not duplicate and draw(number) < reject_rate
        found: list[ItemProblem] = []
        if duplicate:
            message = f"{kind} '{number}' has already been submitted; Amazon keeps the first."
            found.append(ItemProblem(index, DUPLICATE_INVOICE, message, f"invoices[{index}]"))
        for line, item in enumerate(invoice.get("items") or []):
            reference = (item.get("creditNoteDetails") or {}).get("referenceInvoiceNumber")
            if reference and not invoice_known(reference):
                message = (
                    f"Credit note '{number}' references invoice '{reference}', "
                    "which Amazon does not know."
                )
                where = f"invoices[{index}].items[{line}]"
                found.append(ItemProblem(index, "UnknownReference", message, where))
        if rejected and not found:
            message = f"{kind} '{number}' was rejected by Amazon."
            found.append(ItemProblem(index, "Rejected", message, f"invoices[{index}]"))
        problems += found
    return problems


def apply_inventory(
    stock: dict[tuple[str, str], int], warehouse_id: str, inventory: dict[str, Any]
) -> None:
    """Absolute quantities; a full update first sets every unlisted item of the warehouse to 0."""
    listed = {identifier_of(item) for item in inventory["items"]}
    if inventory["isFullUpdate"]:
        for key in stock:
            if key[0] == warehouse_id and key[1] not in listed:
                stock[key] = 0
    for item in inventory["items"]:
        stock[(warehouse_id, identifier_of(item))] = _quantity(item)
