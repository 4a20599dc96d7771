"""Shared by the connectors: pydantic validation failures in words a person can act on."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError) -> str:
    """Which field, and what is wrong with it (the first five problems)."""
    parts = []
    for err in error.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(event)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
