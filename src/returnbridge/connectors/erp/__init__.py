"""The ERP: journal batches as files (CSV and JSON lines) and over HTTP (docs/erp-export.md)."""

from returnbridge.connectors.erp.files import ErpFileWriter
from returnbridge.connectors.erp.http import ErpHttpConfig, HttpErpEndpoint, RetryPolicy

__all__ = ["ErpFileWriter", "ErpHttpConfig", "HttpErpEndpoint", "RetryPolicy"]
