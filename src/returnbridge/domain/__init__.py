"""Pure business rules in the spec's vocabulary. Standard library only."""
