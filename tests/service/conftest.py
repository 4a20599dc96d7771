"""The operations API served over a copy of the shared demo's database (``demo_out``, in
tests/conftest.py) with a viewer's token: ``demo_api``. Each module serves its own copy, so
nothing a test writes reaches another module or the demo."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import DemoApi

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings
from returnbridge.domain.auth import Role
from returnbridge.entrypoints.http import start_service
from returnbridge.services.access import create_token
from returnbridge.store.tokens import access_transaction


@pytest.fixture(scope="module")
def demo_api(demo_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApi]:
    """The service over a copy of the demo's database, with a viewer's token."""
    folder = tmp_path_factory.mktemp("service-api")
    shutil.copyfile(demo_out / "returnbridge.db", folder / "returnbridge.db")
    with pytest.MonkeyPatch.context() as patch:  # module scope: the autouse scrub is not yet in
        for name in [n for n in os.environ if n.startswith("RETURNBRIDGE_")]:
            patch.delenv(name)
        rb = bootstrap(Settings(database_url=f"sqlite:///{folder / 'returnbridge.db'}"))
    with access_transaction(rb.engine) as store:
        token = create_token(store, "vic.viewer", Role.VIEWER, "setup", rb.clock()).token
    running = start_service(rb)
    client = httpx.Client(
        base_url=running.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    try:
        yield DemoApi(rb, client, demo_out)
    finally:
        client.close()
        running.stop()
        rb.close()
