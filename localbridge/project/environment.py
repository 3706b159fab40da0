"""The environment a stage gives its functions: Lambda's reserved names, the import's view.

Lambda sets some variables itself and refuses a function configuration that
sets them (the "Reserved environment variables" of AWS's Lambda guide; ``TZ``,
``LANG``, ``PATH``, ``PYTHONPATH`` and ``LD_LIBRARY_PATH`` are defaults, not
reserved). localbridge refuses them at start and ``infra/deploy.py`` before
``chalice deploy``, with Lambda's own wording.

``stage_environment`` is what ``chalice local`` puts in ``os.environ`` before it
imports the app (the top level's and the stage's ``environment_variables``):
discovery imports the app with it, so module-level ``os.environ["TABLE"]``
works as it does on Lambda.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localbridge.project.config import StageConfig

RESERVED_NAMES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def reserved_problem(names: Iterable[str]) -> str | None:
    """Lambda's message for the reserved names among ``names``, or None."""
    used = [name for name in names if name in RESERVED_NAMES]
    if not used:
        return None
    return (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        f"for modification. Reserved keys used in this request: {', '.join(used)}"
    )


def stage_environment(config: StageConfig) -> dict[str, str]:
    """The stage's ``environment_variables`` (top level, then stage), as ``chalice local``
    sets them: Chalice's merge order, read without importing Chalice (``run`` starts
    the discovery before anything heavy loads). Values that are not strings are
    refused later, with the function's name, by ``discovery``."""
    merged: dict[str, str] = {}
    for section in (config.document, config.section):
        variables: Any = section.get("environment_variables") or {}
        if isinstance(variables, dict):
            merged.update({str(key): str(value) for key, value in variables.items()})
    return merged
