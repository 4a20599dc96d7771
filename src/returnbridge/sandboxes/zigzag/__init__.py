"""ZigZag sandbox: seeded streams of realistic returns."""
