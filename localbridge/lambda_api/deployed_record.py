"""``.chalice/deployed/<stage>.json`` for the emulator, so ``chalice invoke`` finds it.

``chalice invoke -n NAME --stage S`` reads the function's ``lambda_arn`` from
that file (schema 2.0, a ``lambda_function`` resource named NAME) and calls
Lambda's Invoke with it; with ``AWS_ENDPOINT_URL`` pointing at the Invoke API
that call reaches localbridge. A file written by a real ``chalice deploy`` is
never overwritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localbridge.events import AwsIdentity
from localbridge.model import FunctionSpec

# Chalice writes "backend": "api"; this one marks the files localbridge owns.
BACKEND = "localbridge"


class DeployedRecordError(Exception):
    """The stage's record belongs to a real deployment; localbridge leaves it alone."""


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
    }


def owned_by_localbridge(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("backend") == BACKEND)
    except (OSError, ValueError, AttributeError):
        return False


def write_deployed_record(
    project_dir: Path,
    stage: str,
    functions: Sequence[FunctionSpec],
    identity: AwsIdentity,
    endpoint: str,
) -> Path:
    """Write the record atomically; raise DeployedRecordError rather than clobber a real one."""
    path = deployed_path(project_dir, stage)
    if path.exists() and not owned_by_localbridge(path):
        raise DeployedRecordError(
            f"{path} records a real deployment of stage {stage!r}; not overwriting it. "
            "`chalice invoke` for this stage will call that deployment, not localbridge."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".json.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(deployed_record(functions, identity, endpoint), indent=2))
    os.replace(temporary, path)
    return path
