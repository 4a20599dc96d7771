"""Use cases: ingest, process, resolve exceptions, reconcile. Imports the domain only."""
