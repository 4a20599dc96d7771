"""structlog set-up: console or JSON lines; values of secret-looking keys are redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_WORDS = ("secret", "password", "token", "authorization", "api_key", "email", "name")
# Secrets that can hide inside any text (an error message, a repr of a request): returnbridge's
# API tokens, and whatever follows a Bearer or Basic scheme.
SECRET_VALUES = re.compile(r"rb_[A-Za-z0-9_-]{16,}|(?i:\b(?:bearer|basic)\s+)[^\s'\",}]+")


def _scrub(match: re.Match[str]) -> str:
    text = match.group(0)
    return "rb_[redacted]" if text.startswith("rb_") else text.split()[0] + " [redacted]"


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event" and any(word in key.lower() for word in SECRET_WORDS):
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = SECRET_VALUES.sub(_scrub, event_dict[key])
    return event_dict


def configure(level: str = "WARNING", fmt: str = "console") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
