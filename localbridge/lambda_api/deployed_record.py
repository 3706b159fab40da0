"""``.chalice/deployed/<stage>.json`` for the emulator, so ``chalice invoke`` finds it.

``chalice invoke -n NAME --stage S`` reads the function's ``lambda_arn`` from
that file (schema 2.0, a ``lambda_function`` resource named NAME) and calls
Lambda's Invoke with it; with ``AWS_ENDPOINT_URL`` pointing at the Invoke API
that call reaches localbridge. A file written by a real ``chalice deploy`` is
never overwritten, nor one written by another localbridge process that still
runs (``owner_pid``): a second ``serve`` or ``run`` of the project on another
port leaves the live one's record as it is, so ``chalice invoke`` keeps
reaching the process that wrote it. The check and the write happen under a
lock on the directory, so two processes starting together cannot both win.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localbridge.events import AwsIdentity
from localbridge.model import FunctionSpec

# Chalice writes "backend": "api"; this one marks the files localbridge owns.
BACKEND = "localbridge"


class DeployedRecordError(Exception):
    """The stage's record belongs to a real deployment; localbridge leaves it alone."""


class RecordInUseError(DeployedRecordError):
    """The stage's record is another localbridge's that still runs; it is left to that one."""


def deployed_path(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.json"


def deployed_record(
    functions: Sequence[FunctionSpec], identity: AwsIdentity, endpoint: str
) -> dict[str, Any]:
    return {
        "resources": [
            {
                "name": function.name,
                "resource_type": "lambda_function",
                "lambda_arn": identity.function_arn(function),
            }
            for function in functions
        ],
        "schema_version": "2.0",
        "backend": BACKEND,
        "endpoint": endpoint,
        "owner_pid": os.getpid(),
    }


def owned_by_localbridge(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("backend") == BACKEND)
    except (OSError, ValueError, AttributeError):
        return False


def live_owner(path: Path) -> tuple[int, str] | None:
    """(pid, endpoint) of the other localbridge process that wrote ``path`` while it runs."""
    try:
        record = json.loads(path.read_text())
        pid, endpoint = record.get("owner_pid"), str(record.get("endpoint", ""))
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    return (pid, endpoint) if runs_localbridge(pid) else None


def runs_localbridge(pid: int) -> bool:
    """True while ``pid`` is a live localbridge process (a recycled pid is someone else)."""
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False  # gone (or a zombie's empty command line below)
    return b"localbridge" in command


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` (released when the block ends or the process dies)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def write_deployed_record(
    project_dir: Path,
    stage: str,
    functions: Sequence[FunctionSpec],
    identity: AwsIdentity,
    endpoint: str,
) -> Path:
    """Write the record atomically; raise DeployedRecordError rather than clobber a real
    deployment's record, RecordInUseError rather than a live localbridge's."""
    path = deployed_path(project_dir, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    with directory_lock(path.parent):
        if path.exists() and not owned_by_localbridge(path):
            raise DeployedRecordError(
                f"{path} records a real deployment of stage {stage!r}; not overwriting it. "
                "`chalice invoke` for this stage will call that deployment, not localbridge."
            )
        owner = live_owner(path) if path.exists() else None
        if owner is not None:
            pid, theirs = owner
            raise RecordInUseError(
                f"{path} is the record of the localbridge still running on {theirs} "
                f"(pid {pid}); left as it is: `chalice invoke --stage {stage}` reaches that one, "
                f"this one answers on {endpoint}"
            )
        temporary = path.with_suffix(f".json.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(deployed_record(functions, identity, endpoint), indent=2))
        os.replace(temporary, path)
    return path
