"""A stand-in for the ERP's journal intake, served over real HTTP on loopback."""

from returnbridge.sandboxes.erp.app import BATCHES_PATH, ErpSandbox, create_app
from returnbridge.sandboxes.erp.server import RunningErpSandbox, start_erp_sandbox

__all__ = ["BATCHES_PATH", "ErpSandbox", "RunningErpSandbox", "create_app", "start_erp_sandbox"]
