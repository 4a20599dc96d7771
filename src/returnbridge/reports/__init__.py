"""Reports for finance and operations: XLSX workbooks and offline HTML pages from read models.

A report is built once as a list of ``Table`` (``reports/tables.py``); ``workbook.py`` writes the
tables as an XLSX workbook and ``html.py`` renders the same tables (with charts) as one HTML page,
so both files always carry the same figures.
"""

from returnbridge.reports.tables import Column, Kind, Table

__all__ = ["Column", "Kind", "Table"]
