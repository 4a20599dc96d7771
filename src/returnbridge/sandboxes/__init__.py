"""The partners' stand-in servers and seeded data generators."""
