"""The run ledger: every tick and every attempt, durably, in one SQLite file.

Owns the schema and its migrations (``schema``), the store (``store``, the
``Ledger``), recording a run from its tick to its outcome (``runs``), the
reads (``queries``), the mapping of its rows to ``ticks`` records (``rows``),
the reader of attempts' logs (``attempt_logs``), opening a file and naming
what is wrong with it (``opening``), how a write waits for another
connection's lock and gives up on it (``locking``), the ledger as of one
moment (``snapshot``), and pruning finished runs with their space
(``pruning``). Imports only the shared
vocabulary (``ticks``, ``model``, ``instants``, ``abc``).
"""

from localbridge.ledger.store import DEFAULT_LEDGER, Ledger

__all__ = ["DEFAULT_LEDGER", "Ledger"]
