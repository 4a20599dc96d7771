"""Test support shipped with the package: comparing the final state of two runs."""
