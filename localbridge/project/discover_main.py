"""Import a Chalice app and print its scheduled functions as JSON (one process, then exit).

Run by ``localbridge.project.discovery`` in its own interpreter with the argument
``PROJECT_DIR``, so that the long-running scheduler never imports user code.
Whatever the app prints while importing goes to stderr; stdout carries only
the JSON document. Exit status 3 means the app failed to import (traceback on
stderr).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
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


def main(project_dir: str) -> int:
    sys.path.insert(0, project_dir)
    os.chdir(project_dir)
    # Keep stdout for the JSON answer: the app's own prints go to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        module = importlib.import_module("app")
    except BaseException:
        traceback.print_exc()
        return IMPORT_FAILED
    app = getattr(module, "app", None)
    if app is None:
        print(
            "app.py defines no `app`: Chalice needs `app = Chalice(app_name=...)`", file=sys.stderr
        )
        return IMPORT_FAILED
    functions = scheduled_functions(app)
    json.dump({"app_name": app.app_name, "functions": functions}, answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
