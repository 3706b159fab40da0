"""Import a Chalice app and print its scheduled functions as JSON (one process, then exit).

Run by ``localbridge.project.discovery_process`` in its own interpreter with the argument
``PROJECT_DIR``, so that the long-running scheduler never imports user code.
Whatever the app prints while importing goes to stderr; stdout carries only
the JSON document. Exit status 3 means the app failed to import (traceback on
stderr).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback
from collections.abc import Mapping
from typing import Any

IMPORT_FAILED = 3


def scheduled_functions(app: Any) -> list[dict[str, str]]:
    """What ``@app.schedule``/``@bp.schedule`` recorded, in registration order."""
    from chalice.app import ScheduledEventConfig

    found = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        expression = source.schedule_expression
        found.append(
            {
                "name": source.name,
                "handler": source.handler_string,
                "expression": expression if isinstance(expression, str) else expression.to_string(),
            }
        )
    return found


class AppImportError(Exception):
    """The app failed to import or defines no ``app``; the message says why."""


def import_app(project_dir: str) -> Any:
    """Import ``app.py`` from ``project_dir`` and return its ``app``."""
    sys.path.insert(0, project_dir)
    try:
        module = importlib.import_module("app")
    except BaseException:
        raise AppImportError(traceback.format_exc()) from None
    app = getattr(module, "app", None)
    if app is None:
        raise AppImportError("app.py defines no `app`: Chalice needs `app = Chalice(app_name=...)`")
    return app


def describe(app: Any) -> dict[str, Any]:
    """The JSON answer: the app's name and its scheduled functions."""
    return {"app_name": app.app_name, "functions": scheduled_functions(app)}


def discover_here(project_dir: str, environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``main``'s answer from this interpreter, for one-shot commands (``list``).

    The app's prints go to stderr, as in ``main``; it imports with
    ``environment`` set. The working directory, import path and environment
    are given back afterwards.
    """
    cwd, path, saved = os.getcwd(), list(sys.path), dict(os.environ)
    os.chdir(project_dir)
    os.environ.update(environment or {})
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return describe(import_app(project_dir))
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        os.environ.clear()
        os.environ.update(saved)


def main(project_dir: str) -> int:
    os.chdir(project_dir)
    # Keep stdout for the JSON answer: the app's own prints go to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        app = import_app(project_dir)
    except AppImportError as error:
        print(str(error).rstrip(), file=sys.stderr)
        return IMPORT_FAILED
    json.dump(describe(app), answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
