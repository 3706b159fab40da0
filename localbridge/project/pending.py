"""A load of the project begun: the app's discovery subprocess runs while the caller works.

``run`` makes a ``PendingLoad`` as soon as its command line is parsed, then
imports the runtime, takes its ports and opens the ledger while the app is
imported in ``discover_main``'s interpreter; ``PendingLoad.functions`` then
waits for the answer. Light on purpose (the standard library, the project's
config and ``launch``): nothing heavier may come before the subprocess starts.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localbridge.launch import module_command
from localbridge.model import FunctionSpec
from localbridge.project.config import ConfigError, read_stage_config, require_app
from localbridge.project.watch import Snapshot, snapshot

DISCOVERY_TIMEOUT_S = 60.0


class PendingLoad:
    """``loading.load_functions`` under way; ``functions`` waits for the app's answer.

    A project without an ``app.py``, or with a bad config, fails when this is
    made, before anything starts; an app that fails to import fails in
    ``functions``. ``close`` ends the subprocess if nobody asked.
    """

    def __init__(self, project_dir: Path, stage: str, env_overrides: Mapping[str, str]) -> None:
        project_dir = require_app(project_dir)
        # What this load reads, as it was before reading: the watcher's baseline,
        # so an edit made while the app loads (or before the watcher starts) reloads.
        self.sources: Snapshot = snapshot(project_dir)
        self._config = read_stage_config(project_dir, stage)
        self._overrides = dict(env_overrides)
        self._process = DiscoveryProcess(project_dir)

    def __enter__(self) -> PendingLoad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def functions(self) -> list[FunctionSpec]:
        """Every scheduled function, validated, with its settings (see ``loading``)."""
        # Imported before waiting, so that chalice's config (and the schedules
        # and settings) load while the subprocess still works.
        from localbridge.project.discovery import function_specs
        from localbridge.project.loading import validated

        answer = self._process.answer()
        return validated(function_specs(answer, self._config, self._overrides), self._config)

    def close(self) -> None:
        self._process.close()


class DiscoveryProcess:
    """``discover_main`` running on a project: started when made, so the caller can
    do other work (imports, opening the ledger) while the app is imported.

    ``answer`` waits for it; ``close`` ends it if nobody asked (the caller failed first).
    """

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self._deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            module_command("localbridge.project.discover_main", str(project_dir)),
            cwd=project_dir,
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
