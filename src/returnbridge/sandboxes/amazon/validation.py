"""Request-body checks: the model's JSON schema, then the rules its descriptions state in prose.

Every problem becomes one ``InvalidInput`` error whose message names the JSON path
(``$.inventory.items[0].availableQuantity.amount``), so a caller can tell exactly what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from returnbridge.sandboxes.amazon.catalog import SUBMIT_INVENTORY, SUBMIT_INVOICES, Operation
from returnbridge.sandboxes.amazon.wire import ApiError, api_error

INVALID_INPUT = "InvalidInput"
_REQUIRED = re.compile(r"^'(?P<name>.+)' is a required property$")
_DECIMAL = re.compile(r"^-?(0|([1-9]\d*))(\.\d+)?([eE][+-]?\d+)?$")


def json_path(parts: Iterable[str | int]) -> str:
    """``$.a.b[0].c`` for the path parts ``a, b, 0, c``."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _invalid(path: Iterable[str | int], problem: str, details: str) -> ApiError:
    return api_error(INVALID_INPUT, f"{json_path(path)} {problem}", details)


def schema_errors(operation: Operation, body: Any) -> list[ApiError]:
    """One error per JSON-schema violation of the operation's request model."""
    if operation.body_validator is None:
        return []
    errors = []
    for error in operation.body_validator.iter_errors(body):
        path: list[str | int] = list(error.absolute_path)
        missing = _REQUIRED.match(error.message) if error.validator == "required" else None
        if missing:
            problem = "is required but missing"
            path.append(missing["name"])
        else:
            problem = f"is invalid: {error.message}"
        rule = json.dumps(error.validator_value)
        details = f"{operation.model_file}: schema rule '{error.validator}': {rule}"
        errors.append(_invalid(path, problem, details))
    return errors


def _missing(value: Any) -> bool:
    return value is None or value == ""


def inventory_rules(body: Any) -> list[ApiError]:
    """Rules of ``submitInventoryUpdate`` stated in prose, not in the schema."""
    if not isinstance(body, dict):
        return []
    inventory = body.get("inventory")
    if inventory is None:
        # The schema leaves it optional, but without it the request updates nothing.
        return [_invalid(["inventory"], "is required but missing", "sandbox rule")]
    if not isinstance(inventory, dict) or not isinstance(inventory.get("items"), list):
        return []
    errors = []
    for index, item in enumerate(inventory["items"]):
        if not isinstance(item, dict):
            continue
        if _missing(item.get("buyerProductIdentifier")) and _missing(
            item.get("vendorProductIdentifier")
        ):
            errors.append(
                _invalid(
                    ["inventory", "items", index],
                    "needs buyerProductIdentifier or vendorProductIdentifier",
                    "ItemDetails: Either buyerProductIdentifier or vendorProductIdentifier "
                    "should be submitted.",
                )
            )
    return errors


def _credit_note_item_rules(path: list[str | int], item: dict[str, Any]) -> list[ApiError]:
    details = item.get("creditNoteDetails")
    if not isinstance(details, dict):
        return [
            _invalid(
                [*path, "creditNoteDetails"],
                "is required but missing for a returns credit note",
                "InvoiceItem.creditNoteDetails: required if invoiceType is CreditNote.",
            )
        ]
    errors = []
    for field, why in (
        ("returnsReferenceNumber", "Mandatory for all Returns Credit Notes."),
        ("goodsReturnDate", "It is mandatory for Returns Credit Note."),
    ):
        if _missing(details.get(field)):
            errors.append(
                _invalid(
                    [*path, "creditNoteDetails", field],
                    "is required but missing for a returns credit note",
                    f"CreditNoteDetails.{field}: {why}",
                )
            )
    return errors


def _positive_rules(path: list[str | int], item: dict[str, Any]) -> list[ApiError]:
    errors = []
    quantity = item.get("invoicedQuantity")
    amount = quantity.get("amount") if isinstance(quantity, dict) else None
    if isinstance(amount, int) and not isinstance(amount, bool) and amount <= 0:
        errors.append(
            _invalid(
                [*path, "invoicedQuantity", "amount"],
                f"must be greater than zero, got {amount}",
                "InvoiceItem.invoicedQuantity: Quantity must be greater than zero.",
            )
        )
    cost = item.get("netCost")
    value = cost.get("amount") if isinstance(cost, dict) else None
    if isinstance(value, str) and _DECIMAL.match(value):
        try:
            positive = Decimal(value) > 0
        except InvalidOperation:
            positive = True  # the schema's pattern check reports malformed decimals
        if not positive:
            errors.append(
                _invalid(
                    [*path, "netCost", "amount"],
                    f"must not be zero or negative, got {value}",
                    "InvoiceItem.netCost: Price information should not be zero or negative.",
                )
            )
    return errors


def invoice_rules(body: Any) -> list[ApiError]:
    """Rules of ``submitInvoices`` stated in prose, not in the schema.

    Every credit note is taken to be a *returns* credit note (the only kind returnbridge
    sends), so each of its items needs ``creditNoteDetails.returnsReferenceNumber`` and
    ``goodsReturnDate``. Items of an ``Invoice`` need ``purchaseOrderNumber``.
    """
    if not isinstance(body, dict):
        return []
    invoices = body.get("invoices")
    if invoices is None or invoices == []:
        return [_invalid(["invoices"], "must list at least one invoice", "sandbox rule")]
    if not isinstance(invoices, list):
        return []
    errors: list[ApiError] = []
    for i, invoice in enumerate(invoices):
        if not isinstance(invoice, dict) or not isinstance(invoice.get("items"), list):
            continue
        for j, item in enumerate(invoice["items"]):
            if not isinstance(item, dict):
                continue
            path: list[str | int] = ["invoices", i, "items", j]
            if invoice.get("invoiceType") == "CreditNote":
                errors += _credit_note_item_rules(path, item)
            elif invoice.get("invoiceType") == "Invoice" and _missing(
                item.get("purchaseOrderNumber")
            ):
                errors.append(
                    _invalid(
                        [*path, "purchaseOrderNumber"],
                        "is required but missing for an Invoice",
                        "InvoiceItem.purchaseOrderNumber: mandatory when invoiceType is Invoice.",
                    )
                )
            errors += _positive_rules(path, item)
    return errors


def validate_request(operation: Operation, body: Any) -> list[ApiError]:
    """Every problem with ``body`` for ``operation``; empty when it is acceptable."""
    errors = schema_errors(operation, body)
    if operation.operation_id == SUBMIT_INVENTORY:
        errors += inventory_rules(body)
    elif operation.operation_id == SUBMIT_INVOICES:
        errors += invoice_rules(body)
    return errors
