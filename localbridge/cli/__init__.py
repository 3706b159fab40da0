"""The ``localbridge`` command: its subcommands and how they present results.

``main`` builds the parser and dispatches through ``commands``, which imports
a command's module only when it runs; ``running`` holds the commands that run
functions (run, serve, invoke, replay, list, next), ``history`` those that
read the ledger (runs, dlq), ``console`` the console's, ``lambda_tools`` logs
and generate-event; ``session`` is the runtime they share, ``common`` their
options; ``report`` and ``progress`` are presentation. The top of the import
graph: it may import every other package.

``cmd_run`` is public: front ends embed the runtime with extra services
(``cmd_run(args, services=...)``); it is loaded on first use, like the
runtime it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localbridge.cli.main import main

if TYPE_CHECKING:
    from localbridge.cli.running import cmd_run

__all__ = ["cmd_run", "main"]


def __getattr__(name: str) -> Any:
    if name != "cmd_run":
        raise AttributeError(f"module 'localbridge.cli' has no attribute {name!r}")
    from localbridge.cli.running import cmd_run

    return cmd_run
