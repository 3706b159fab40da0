"""A load of the project begun: the app's discovery subprocess runs while the caller works.

``run`` makes a ``PendingLoad`` as soon as its command line is parsed, then
imports the runtime, takes its ports and opens the ledger while the app is
imported in ``discover_main``'s interpreter; ``loading.finish_load`` then
waits for the answer and validates it. Light on purpose (the standard
library, the project's config and ``launch``): nothing heavier may come
before the subprocess starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localbridge.project.config import StageConfig, read_stage_config, require_app
from localbridge.project.discovery_process import DiscoveryProcess
from localbridge.project.environment import stage_environment
from localbridge.project.watch import Snapshot, snapshot


class PendingLoad:
    """``loading.load_functions`` under way: the stage's config read, the app being imported.

    A project without an ``app.py``, or with a bad config, fails when this is
    made, before anything starts; ``answer`` waits for the discovery's raw
    answer (an app that fails to import fails there). ``close`` ends the
    subprocess if nobody asked.
    """

    def __init__(self, project_dir: Path, stage: str, env_overrides: Mapping[str, str]) -> None:
        project_dir = require_app(project_dir)
        # What this load reads, as it was before reading: the watcher's baseline,
        # so an edit made while the app loads (or before the watcher starts) reloads.
        self.sources: Snapshot = snapshot(project_dir)
        self.config: StageConfig = read_stage_config(project_dir, stage)
        self.env_overrides = dict(env_overrides)
        # The app is imported with the stage's variables set, as `chalice local` does.
        environment = {**stage_environment(self.config), **self.env_overrides}
        self._process = DiscoveryProcess(project_dir, environment)

    def __enter__(self) -> PendingLoad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def answer(self) -> dict[str, Any]:
        """``discover_main``'s answer as it came: the app's name and scheduled functions."""
        return self._process.answer()

    def close(self) -> None:
        self._process.close()
