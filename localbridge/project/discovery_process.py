"""The app's discovery in its own interpreter: ``discover_main`` run as a subprocess.

The scheduler never imports user code, so a broken edit cannot take it down
and a re-discovery always sees fresh code. The process starts when a
``DiscoveryProcess`` is made, so the caller can do other work while the app
is imported; ``answer`` gives back ``discover_main``'s JSON document as it
came (the app's name and its scheduled functions), unvalidated: ``discovery``
and ``loading`` make ``FunctionSpec``s of it. Light on purpose (the standard
library, the project's config and ``launch``): ``run`` starts it first.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localbridge.launch import module_command
from localbridge.project.config import ConfigError

DISCOVERY_TIMEOUT_S = 60.0


class DiscoveryProcess:
    """``discover_main`` running on a project: started when made, so the caller can
    do other work (imports, opening the ledger) while the app is imported.

    ``answer`` waits for it; ``close`` ends it if nobody asked (the caller failed first).
    """

    def __init__(self, project_dir: Path, environment: Mapping[str, str] | None = None) -> None:
        self.project_dir = project_dir
        self._deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            module_command("localbridge.project.discover_main", str(project_dir)),
            cwd=project_dir,
            env={**os.environ, **(environment or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> DiscoveryProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self) -> dict[str, Any]:
        """The app's name and scheduled functions; ``ConfigError`` saying why not."""
        process, self._process = self._process, None
        assert process is not None, "answer() once"
        app = self.project_dir / "app.py"
        try:
            stdout, stderr = process.communicate(
                timeout=max(0.0, self._deadline - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            _end(process)
            raise ConfigError(
                f"importing {app} took more than {DISCOVERY_TIMEOUT_S:.0f} s: "
                "does it do work at import time?"
            ) from None
        if process.returncode != 0:
            raise ConfigError(f"{app} failed to import; fix the error below:\n{stderr.rstrip()}")
        try:
            answer: dict[str, Any] = json.loads(stdout)
        except json.JSONDecodeError:
            raise ConfigError(
                f"importing {app} ended the process before it could list "
                f"the functions (does it exit at import time?):\n{stderr.rstrip()}"
            ) from None
        return answer

    def close(self) -> None:
        """End the subprocess if nobody asked for its answer (the caller failed first)."""
        process, self._process = self._process, None
        if process is not None:
            _end(process)


def _end(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate()
