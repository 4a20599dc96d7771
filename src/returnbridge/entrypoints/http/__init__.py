"""The HTTP service: ZigZag's signed webhooks into the inbox (``returnbridge serve``)."""

from returnbridge.entrypoints.http.app import create_app
from returnbridge.entrypoints.http.server import RunningService, serve_forever, start_service
from returnbridge.entrypoints.http.webhook import WEBHOOK_PATH

__all__ = ["WEBHOOK_PATH", "RunningService", "create_app", "serve_forever", "start_service"]
