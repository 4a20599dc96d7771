"""A seeded history of a manual returns process, with planted gaps, for the pre-go-live audit.

``generate_history(returns, seed)`` plans it (``plan.py``) and counts what was planted
(``tally.py``); ``write_history(history, folder)`` writes the six files the audit reads
(``files.py``). See docs/audit.md.
"""

from __future__ import annotations

from returnbridge.sandboxes.history.files import HistoryFiles, write_history
from returnbridge.sandboxes.history.plan import History, Planner
from returnbridge.sandboxes.history.tally import tally


def generate_history(returns: int, seed: int) -> History:
    """A deterministic history of ``returns`` returns for ``seed``, its gaps counted."""
    planner = Planner(returns, seed)
    planned = planner.plan()
    planner.requests(planned)
    orphans = planner.credits(planned)
    history = History(seed, planner.products, planned, orphans)
    tally(history)
    return history


__all__ = ["History", "HistoryFiles", "generate_history", "write_history"]
