"""Hot reload: notice code changes in ``app.py``, ``functions/`` and the config.

Polls modification times once a second on the machine's clock (not the
virtual one: a code edit happens in real time). Cheap for a project of this
size and free of platform-specific watch APIs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("localbridge")

Snapshot = dict[Path, int]


def snapshot(project_dir: Path) -> Snapshot:
    """Modification times of every file whose change means "reload"."""
    candidates = [project_dir / "app.py", project_dir / ".chalice" / "config.json"]
    candidates.extend(sorted((project_dir / "functions").rglob("*.py")))
    times: Snapshot = {}
    for path in candidates:
        try:
            times[path] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return times


class SourceWatcher:
    """Calls ``on_change`` (on its own thread) after files under the project change."""

    def __init__(
        self,
        project_dir: Path,
        on_change: Callable[[], None],
        interval: float = 1.0,
        baseline: Snapshot | None = None,
    ) -> None:
        """``baseline``: the sources as the running code was loaded from them
        (default: as they are at ``start``)."""
        self._project_dir = project_dir
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._baseline = baseline
        self._last: Snapshot = {}
        self._thread = threading.Thread(target=self._watch, name="localbridge-reload", daemon=True)

    def start(self) -> None:
        # The baseline is taken here at the latest, not on the thread: an edit
        # made right after ``start`` returns must count as a change.
        self._last = snapshot(self._project_dir) if self._baseline is None else self._baseline
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            current, last = snapshot(self._project_dir), self._last
            if current == last:
                continue
            changed = sorted(
                str(p.relative_to(self._project_dir)) for p in current.keys() ^ last.keys()
            )
            changed += sorted(
                str(p.relative_to(self._project_dir))
                for p in current.keys() & last.keys()
                if current[p] != last[p]
            )
            self._last = current
            log.info(f"code changed ({', '.join(changed)}); reloading")
            try:
                self._on_change()
            except Exception:
                log.exception("reload failed; still running the previous code")
