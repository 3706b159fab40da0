"""The ``localbridge`` command: its subcommands and how they present results.

``main`` builds the parser and dispatches; ``running`` holds the commands that
run functions (run, serve, invoke, replay, list, next), ``history`` those that
read the ledger (runs, dlq); ``report`` and ``progress`` are presentation. The
top of the import graph: it may import every other package.
"""

from localbridge.cli.main import cmd_run, main

__all__ = ["cmd_run", "main"]
