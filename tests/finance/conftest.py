"""Finance tests reuse the pipeline fixtures of tests/integration (``rb`` on SQLite and
PostgreSQL) and its helpers (``send``, ``full_return``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.insert(0, str(_INTEGRATION))

_spec = importlib.util.spec_from_file_location(
    "_integration_fixtures", _INTEGRATION / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

app_factory = _fixtures.app_factory
rb = _fixtures.rb
