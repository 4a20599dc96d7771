"""One seeded history with planted gaps, audited once per test session (per xdist worker).

The history is written by the sandbox (``sandbox history``) and audited by the command
(``audit``), both through the CLI, so the tests read the files a user would.
"""

from __future__ import annotations

import json

import pytest
from audit_support import RETURNS, SEED, Audited, audit_args, invoke

from returnbridge.sandboxes.history import generate_history


@pytest.fixture(scope="session")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Audited:
    folder = tmp_path_factory.mktemp("history")
    invoke(
        "sandbox", "history", "--returns", str(RETURNS), "--seed", str(SEED), "--out", str(folder)
    )
    out = folder / "audit"
    output = invoke(*audit_args(folder, out, "--keep-db"))
    return Audited(
        history=generate_history(RETURNS, SEED),
        folder=folder,
        out=out,
        figures=json.loads((out / "audit.json").read_text(encoding="utf-8")),
        planted=json.loads((folder / "planted.json").read_text(encoding="utf-8")),
        output=output,
    )
