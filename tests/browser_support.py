"""How the browser tests start Debian's Chromium under Playwright (Playwright never downloads a
browser here: `make test` installs the system one)."""

from __future__ import annotations

import shutil

import pytest

# Headless, as root, on a machine with a closed network: without the background-networking
# flags Chromium keeps trying to reach Google's hosts at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium; a missing one fails the test (a skip would hide the feature)."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("no `chromium` on PATH: the browser tests need it (`make test` installs it)")
    return found
