"""docs/configuration.md, rendered from the ``Settings`` model: every field as its environment
variable, with its type or allowed values, its default (a secret's is never shown) and its
description. ``returnbridge config doc --out docs/configuration.md`` writes it; a test fails
when the committed file differs from what this renders."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from returnbridge.config import Settings


@dataclass(frozen=True)
class Group:
    """A run of settings, from ``first`` up to the next group's first, as config.py has them."""

    title: str
    first: str
    intro: str = ""


GROUPS = (
    Group("General", "database_url"),
    Group(
        "ZigZag webhooks",
        "zigzag_webhook_secret",
        "`returnbridge serve` takes ZigZag's signed webhooks (Standard Webhooks; "
        "[zigzag-events.md](zigzag-events.md#webhooks)). Without a secret the endpoint answers "
        "503.",
    ),
    Group(
        "Amazon Vendor Central (SP-API)",
        "amazon_environment",
        "Production is chosen, never the default. In `sandbox` (the default) returnbridge calls "
        "Amazon only where `RETURNBRIDGE_AMAZON_ENDPOINT` and `RETURNBRIDGE_AMAZON_LWA_URL` "
        "point: the stand-in's addresses (`returnbridge sandbox amazon` prints them) or Amazon's "
        "own sandbox (`https://sandbox.sellingpartnerapi-eu.amazon.com`, `-na`, `-fe`, with "
        "Amazon's LWA URL when that is left empty); an endpoint on Amazon's real hosts is "
        "refused (`error [config.production_not_chosen]`). In `production` an empty endpoint is "
        "the region's host and an empty LWA URL Amazon's. Until the credentials and the "
        "endpoint are settled, the commands that talk to Amazon (`cycle close`, `cycle watch`, "
        "`worker --cycles`) refuse with `error [config.missing]` naming what to set, and "
        "`serve` says why its clearing cycles are off.",
    ),
    Group(
        "ZigZag API (polling)",
        "zigzag_api_url",
        "`returnbridge poll zigzag` ([zigzag-feeds.md](zigzag-feeds.md)). Point the URL at "
        "`returnbridge sandbox zigzag` to run against the stand-in.",
    ),
    Group(
        "ERP delivery",
        "erp_endpoint_url",
        "`returnbridge export erp` ([erp-export.md](erp-export.md)). Without a URL the journals "
        "are exported as files only.",
    ),
    Group(
        "Alerts",
        "alert_inbox_depth_limit",
        "Evaluated by `returnbridge alerts check` and, on an interval, by the service; stored, "
        "and posted to a Slack-compatible webhook "
        "([operations.md](operations.md#alerts-and-dashboards)).",
    ),
    Group(
        "Backpressure on ZigZag's webhooks",
        "inbox_hard_limit",
        "Past `RETURNBRIDGE_INBOX_HARD_LIMIT` pending inbox events, `POST /webhooks/zigzag` "
        "refuses deliveries ([operations.md](operations.md#inbox_full)).",
    ),
)

INTRO = """\
# Configuration

<!-- Generated from returnbridge.config.Settings: `returnbridge config doc --out
docs/configuration.md`. Edit the Field descriptions in src/returnbridge/config.py, not this
file; tests/unit/test_configuration_doc.py fails when the two differ. -->

returnbridge has one settings object (`returnbridge.config.Settings`, pydantic-settings), read
from the environment when a command starts and passed down from there; nothing else reads the
environment. Each setting is the variable `{prefix}` plus the field's name in capitals (the
name is not case-sensitive). No `.env` file is read: set the variables where the process
starts (the service unit, the container, the CI job). `--db` on a command overrides
`RETURNBRIDGE_DATABASE_URL`. A value of the wrong type, out of its range or not one of the
allowed values stops the command before it does anything, naming the field.

Secrets are `SecretStr`: returnbridge never prints or logs their values (they read
`**********`), and their defaults are empty, so this page shows none.
"""

EMPTY = "*(empty)*"


def render_configuration() -> str:
    """The whole of docs/configuration.md."""
    prefix = Settings.model_config.get("env_prefix", "")
    parts = [INTRO.format(prefix=prefix)]
    for group, names in grouped(list(Settings.model_fields)):
        parts.append(f"## {group.title}\n")
        if group.intro:
            parts.append(f"{group.intro}\n")
        rows = ["| Setting | Type | Default | Description |", "|---|---|---|---|"]
        for name in names:
            field = Settings.model_fields[name]
            rows.append(
                "| "
                + " | ".join(
                    _cell(text)
                    for text in (
                        f"`{prefix}{name.upper()}`",
                        describe_type(field),
                        describe_default(field),
                        field.description or "",
                    )
                )
                + " |"
            )
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def grouped(names: list[str]) -> list[tuple[Group, list[str]]]:
    """``names`` (in declaration order) cut into the groups; a name before the first group's
    first field, or a group whose first field is gone, is an error, not a silent omission."""
    starts = {group.first: group for group in GROUPS}
    if gone := [group.first for group in GROUPS if group.first not in names]:
        raise ValueError(f"GROUPS start at fields Settings does not have: {', '.join(gone)}")
    if names[0] not in starts:
        raise ValueError(f"Settings' first field {names[0]} starts no group of GROUPS")
    result: list[tuple[Group, list[str]]] = []
    for name in names:
        if name in starts:
            result.append((starts[name], []))
        result[-1][1].append(name)
    return result


def describe_type(field: FieldInfo) -> str:
    """The value's type, its allowed values or its range, as an operator writes it."""
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if annotation is SecretStr:
        return "secret text"
    kind = _KINDS.get(annotation, _name(annotation))
    limits = []
    for item in field.metadata:
        if isinstance(item, Ge):
            limits.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            limits.append(f"> {item.gt}")
        elif isinstance(item, Le):
            limits.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            limits.append(f"< {item.lt}")
        elif (pattern := getattr(item, "pattern", None)) is not None:
            limits.append(f"matching `{pattern}`")
    return " ".join([kind, ", ".join(limits)]) if limits else kind


def describe_default(field: FieldInfo) -> str:
    """The default as it would be written in the environment; a secret's is never shown."""
    default = field.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        return EMPTY if not default.get_secret_value() else "*(set, not shown)*"
    if default is None or default == "":
        return EMPTY
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


_KINDS: dict[Any, str] = {str: "text", int: "integer", float: "number", bool: "true or false"}


def _name(annotation: Any) -> str:
    if get_origin(annotation) in (Union, types.UnionType):
        return " or ".join(_name(arg) for arg in get_args(annotation))
    return _KINDS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _cell(text: str) -> str:
    """Text that stays in its table cell: pipes escaped, no line breaks."""
    return " ".join(text.split()).replace("|", "\\|")


__all__ = ["GROUPS", "Group", "describe_default", "describe_type", "render_configuration"]
