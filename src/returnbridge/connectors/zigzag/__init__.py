"""ZigZag: the event contract, CSV exports (and, later, webhooks and polling)."""
