"""The four vendor operations the sandbox serves, read from Amazon's own OpenAPI models.

Paths, usage plans (rate and burst), the statuses that carry ``x-amzn-RateLimit-Limit`` and the
request schemas all come from the model files shipped in ``models/`` (Apache-2.0, see the
LICENSE and NOTICE files there), so the sandbox cannot drift from Amazon's contract unnoticed.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

MODEL_FILES = (
    "vendorDirectFulfillmentInventoryV1.json",
    "vendorInvoices.json",
    "vendorDirectFulfillmentTransactionsV1.json",
    "vendorTransactionStatus.json",
)
SUBMIT_INVENTORY = "submitInventoryUpdate"
SUBMIT_INVOICES = "submitInvoices"
DF_STATUS = "getTransactionStatus"
RETAIL_STATUS = "getTransaction"

_USAGE_PLAN = re.compile(
    r"\|\s*Rate \(requests per second\)\s*\|\s*Burst\s*\|\s*\n"
    r"\|[\s\-|]+\n"
    r"\|\s*(?P<rate>\d+(?:\.\d+)?)\s*\|\s*(?P<burst>\d+)\s*\|"
)
# Some definitions state a pattern only in prose, e.g. Decimal: "**Pattern** : `^-?(0|...)$`".
_PROSE_PATTERN = re.compile(r"\*\*Pattern\*\*\s*:\s*`([^`]+)`")
_PATH_PARAM = re.compile(r"\{(\w+)\}")
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"


@dataclass(frozen=True)
class Operation:
    """One SP-API operation as its model declares it."""

    operation_id: str
    method: str
    path: str
    """The path template exactly as in the model, e.g. ``.../warehouses/{warehouseId}/items``."""
    model_file: str
    rate: float
    """Requests per second from the model's usage-plan table."""
    burst: int
    """Bucket size from the model's usage-plan table."""
    rate_limit_statuses: frozenset[int]
    """Statuses whose declared headers include ``x-amzn-RateLimit-Limit``."""
    body_validator: Draft4Validator | None
    """Validator for the request body, or None for operations without one."""
    pattern: re.Pattern[str]

    def matches(self, method: str, path: str) -> bool:
        """Whether a request line names this operation."""
        return method.upper() == self.method and self.pattern.fullmatch(path) is not None


def load_model(name: str) -> dict[str, Any]:
    """One shipped model file, parsed."""
    text = (files("returnbridge.sandboxes.amazon") / "models" / name).read_text("utf-8")
    model: dict[str, Any] = json.loads(text)
    return model


def parse_usage_plan(description: str) -> tuple[float, int]:
    """Rate and burst from an operation description's "| Rate (requests per second) | Burst |"."""
    found = _USAGE_PLAN.search(description)
    if found is None:
        raise ValueError("operation description has no usage-plan table")
    return float(found["rate"]), int(found["burst"])


def _check_date_time(value: object) -> bool:
    """ISO-8601 date and time; jsonschema's own check needs an optional package."""
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or len(value) < 16:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def format_checker() -> FormatChecker:
    """Draft 4 format checks, with ``date-time`` always enforced."""
    checker = copy.deepcopy(Draft4Validator.FORMAT_CHECKER)
    checker.checks("date-time", raises=())(_check_date_time)
    return checker


def _definitions_with_prose_patterns(definitions: Mapping[str, Any]) -> dict[str, Any]:
    """Definitions where a pattern stated only in a description becomes a real ``pattern``."""
    result = copy.deepcopy(dict(definitions))
    for schema in result.values():
        found = _PROSE_PATTERN.search(schema.get("description", ""))
        if found and schema.get("type") == "string" and "pattern" not in schema:
            schema["pattern"] = found.group(1)
    return result


def definition_validator(model: Mapping[str, Any], name: str) -> Draft4Validator:
    """A Draft 4 validator for ``#/definitions/<name>`` of ``model``."""
    schema = {
        "$ref": f"#/definitions/{name}",
        "definitions": _definitions_with_prose_patterns(model["definitions"]),
    }
    return Draft4Validator(schema, format_checker=format_checker())


def _operation(model_file: str, model: Mapping[str, Any], path: str, method: str) -> Operation:
    spec = model["paths"][path][method]
    rate, burst = parse_usage_plan(spec["description"])
    statuses = frozenset(
        int(code)
        for code, response in spec["responses"].items()
        if RATE_LIMIT_HEADER in response.get("headers", {})
    )
    validator = None
    for parameter in spec.get("parameters", []):
        if parameter.get("in") == "body":
            ref = parameter["schema"]["$ref"]
            validator = definition_validator(model, ref.rsplit("/", 1)[-1])
    regex = "".join(
        "[^/]+" if index % 2 else re.escape(part)
        for index, part in enumerate(_PATH_PARAM.split(path))
    )
    return Operation(
        operation_id=spec["operationId"],
        method=method.upper(),
        path=path,
        model_file=model_file,
        rate=rate,
        burst=burst,
        rate_limit_statuses=statuses,
        body_validator=validator,
        pattern=re.compile(regex),
    )


@functools.cache
def load_catalog() -> Mapping[str, Operation]:
    """Every operation of the shipped models, by operationId (read once per process)."""
    operations: dict[str, Operation] = {}
    for model_file in MODEL_FILES:
        model = load_model(model_file)
        for path, methods in model["paths"].items():
            for method in methods:
                if method in {"get", "post", "put", "delete", "patch"}:
                    operation = _operation(model_file, model, path, method)
                    operations[operation.operation_id] = operation
    return operations


def operation_for(method: str, path: str) -> Operation | None:
    """The operation a request line names, or None for anything else."""
    for operation in load_catalog().values():
        if operation.matches(method, path):
            return operation
    return None


def response_validator(operation_id: str, status: int) -> Draft4Validator:
    """A validator for the body the model declares for ``status`` (used by the tests)."""
    operation = load_catalog()[operation_id]
    model = load_model(operation.model_file)
    ref = model["paths"][operation.path][operation.method.lower()]["responses"][str(status)]
    return definition_validator(model, ref["schema"]["$ref"].rsplit("/", 1)[-1])
