"""The run ledger: every tick and every attempt, durably, in one SQLite file.

Owns the schema and its migrations (``schema``) and the store (``store``).
Imports only the shared vocabulary (``ticks``, ``model``).
"""

from localbridge.ledger.store import DEFAULT_LEDGER, Ledger

__all__ = ["DEFAULT_LEDGER", "Ledger"]
