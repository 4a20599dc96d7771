"""Logging (structlog, with secret and personal-data redaction) and, later, metrics."""
