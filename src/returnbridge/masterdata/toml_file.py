"""What every TOML file the brand hands in gets first: read as UTF-8, parsed, and validated by
its model, each refusal naming the file and the field (``masterdata.invalid``)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from returnbridge.domain.errors import MasterDataError

Model = TypeVar("Model", bound=BaseModel)


def field_problem(name: str, err: Any) -> str:
    return f"{name}: field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}"


def validated(
    text: str,
    name: str,
    model: type[Model],
    problem: Callable[[str, Any], str] = field_problem,
) -> Model:
    """``text`` parsed and validated as ``model``; every problem found is in the error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MasterDataError(f"{name}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MasterDataError("; ".join(problem(name, err) for err in exc.errors())) from exc


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is accepted, as in CSV
    except UnicodeDecodeError as exc:
        raise MasterDataError(f"{path.name}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise MasterDataError(f"{path}: cannot be read ({exc.strerror})") from exc
