"""Run in a fresh ``python -I -S``: call packaged handlers the way Lambda does.

Usage: ``python -I -S lambda_runner.py PACKAGE_DIR SITE_PACKAGES REQUEST_JSON``.
Only the unzipped package and the given site-packages are importable (no
repository, no PYTHONPATH, no .pth files). The request holds the handler
strings and the raw event; one JSON line per handler goes to stdout with the
handler's return value or its error, and the file each top-level module came from.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


class LambdaContext:
    """The attributes of Lambda's context object that a handler may read."""

    function_name = "metric-jobs-package-test"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def call(handler: str, event: dict[str, Any]) -> dict[str, Any]:
    module_name, function_name = handler.rsplit(".", 1)
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        return {"handler": handler, "returned": function(event, LambdaContext())}
    except Exception as exc:  # reported to the test, which fails with it
        return {"handler": handler, "error": f"{type(exc).__name__}: {exc}"}


def main(package_dir: str, site_packages: str, request_json: str) -> None:
    sys.path[:0] = [package_dir]
    sys.path.append(site_packages)
    request = json.loads(request_json)
    for handler in request["handlers"]:
        print(json.dumps(call(handler, request["event"])), flush=True)
    origins = {
        name: getattr(sys.modules.get(name), "__file__", None) for name in request["origins"]
    }
    print(json.dumps({"origins": origins}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
