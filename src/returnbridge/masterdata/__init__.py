"""Loaders for the files a brand edits: the catalog master (CSV) and the mappings (TOML)."""
