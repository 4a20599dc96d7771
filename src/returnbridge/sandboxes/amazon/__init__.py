"""Amazon SP-API vendor sandbox: a real HTTP server faithful to Amazon's own OpenAPI models.

It serves LWA (``POST /auth/o2/token``), DF ``submitInventoryUpdate``, retail ``submitInvoices``,
DF ``getTransactionStatus`` and retail ``getTransaction``, with the models' usage plans, error
shapes and headers, asynchronous outcomes, and seeded fault injection. Written independently
of ``returnbridge.connectors``, so a misreading of the contract cannot hide on both sides.

    with start_sandbox(SandboxConfig(seed=7)) as running:
        ...  # talk HTTP to running.url; inspect running.sandbox.stock
"""

from returnbridge.sandboxes.amazon.app import create_app
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.ratelimit import ManualClock
from returnbridge.sandboxes.amazon.server import RunningSandbox, serve_forever, start_sandbox
from returnbridge.sandboxes.amazon.state import AmazonSandbox, OperationCounters, RejectedItem

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
    "AmazonSandbox",
    "ManualClock",
    "OperationCounters",
    "RejectedItem",
    "RunningSandbox",
    "SandboxConfig",
    "create_app",
    "serve_forever",
    "start_sandbox",
]
