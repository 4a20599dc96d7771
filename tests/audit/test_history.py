"""The seeded history: the same returns and seed always give the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from returnbridge.sandboxes.history import generate_history, write_history


def test_the_same_seed_writes_the_same_files_and_another_seed_others(tmp_path: Path) -> None:
    first = write_history(generate_history(60, 4), tmp_path / "a")
    again = write_history(generate_history(60, 4), tmp_path / "b")
    other = write_history(generate_history(60, 5), tmp_path / "c")
    for name in (
        "zigzag",
        "return_requests",
        "refunds",
        "remittance",
        "catalog",
        "ledger",
        "planted",
    ):
        a, b, c = (getattr(files, name).read_bytes() for files in (first, again, other))
        assert a == b, name
        assert a != c, name


def test_a_history_too_small_to_plant_every_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 50 returns"):
        generate_history(49, 1)
