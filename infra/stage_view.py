"""The project as ``chalice deploy`` should see it, with some of a stage's variables replaced.

Chalice reads a stage's environment variables from ``.chalice/config.json``
and nowhere else: no option or variable overrides them. ``make deploy-local
API_PORT=5051`` must deploy functions that post to the API on 5051, not to
the stage's ``RESULTS_API_URL``, without editing the tracked config. So the
deploy runs on a view of the project: a temporary directory whose entries
link to the project's, except ``.chalice/config.json``, a copy with the
stage's variables replaced. ``.chalice/deployed`` and ``.chalice/deployments``
link back too: chalice's record (which ``chalice invoke``, ``chalice logs`` and
``chalice delete`` read at the project's root) and its package cache stay
where they always are.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHALICE_DIR = ".chalice"
# Chalice writes into these: they must be the project's own, not the view's.
SHARED_CHALICE_DIRS = ("deployed", "deployments")


def config_with(
    config: Mapping[str, Any], stage: str, variables: Mapping[str, str]
) -> dict[str, Any]:
    """``config`` with ``variables`` set in the stage's ``environment_variables``."""
    stages = dict(config.get("stages", {}))
    settings = dict(stages[stage])
    settings["environment_variables"] = {**settings.get("environment_variables", {}), **variables}
    stages[stage] = settings
    return {**config, "stages": stages}


@contextmanager
def project_view(project_dir: Path, stage: str, variables: Mapping[str, str]) -> Iterator[Path]:
    """A directory that is ``project_dir`` but for the stage's ``variables``; removed after."""
    view = Path(tempfile.mkdtemp(prefix="chalice-view-"))
    try:
        for entry in project_dir.iterdir():
            if entry.name != CHALICE_DIR:
                (view / entry.name).symlink_to(entry)
        chalice_dir = project_dir / CHALICE_DIR
        for name in SHARED_CHALICE_DIRS:
            (chalice_dir / name).mkdir(parents=True, exist_ok=True)
        (view / CHALICE_DIR).mkdir()
        for entry in chalice_dir.iterdir():
            if entry.name != "config.json":
                (view / CHALICE_DIR / entry.name).symlink_to(entry)
        config = json.loads((chalice_dir / "config.json").read_text())
        replaced = config_with(config, stage, variables)
        (view / CHALICE_DIR / "config.json").write_text(json.dumps(replaced, indent=2) + "\n")
        yield view
    finally:
        shutil.rmtree(view, ignore_errors=True)
