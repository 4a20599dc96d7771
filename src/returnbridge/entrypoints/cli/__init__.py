"""The typer CLI, one module per command group."""
