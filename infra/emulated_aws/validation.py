"""EventBridge's own checks on PutRule and PutTargets, before moto stores anything.

moto stores any ``ScheduleExpression``; EventBridge refuses what it cannot
parse with ``ValidationException`` "Parameter ScheduleExpression is not
valid.". The emulated AWS parses it with localbridge's parser, the one that
fires it, so what it stores it can fire. PutTargets is checked against the
botocore model's constraints (a target's ``Id`` and ``Arn``), which moto skips.
"""

from __future__ import annotations

import json
import re
from typing import Any

from localbridge.lambda_api.operation import InvokeResponse
from localbridge.schedules import ScheduleError, parse_schedule

PUT_RULE = "AWSEvents.PutRule"
PUT_TARGETS = "AWSEvents.PutTargets"
CHECKED = frozenset({PUT_RULE, PUT_TARGETS})

_TARGET_ID = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
MAX_TARGET_ARN = 1600


def validation_error(message: str) -> InvokeResponse:
    """EventBridge's JSON-protocol error: the type in ``__type``."""
    body = json.dumps({"__type": "ValidationException", "message": message}).encode()
    return InvokeResponse(400, {"Content-Type": "application/x-amz-json-1.1"}, body)


def check(target: str, body: bytes) -> InvokeResponse | None:
    """EventBridge's error for this request, or None when moto may store it."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None  # moto answers a body that is not JSON as AWS does
    if not isinstance(request, dict):
        return None
    if target == PUT_RULE:
        return check_put_rule(request)
    if target == PUT_TARGETS:
        return check_put_targets(request)
    return None


def check_put_rule(request: dict[str, Any]) -> InvokeResponse | None:
    expression = request.get("ScheduleExpression")
    if expression is None:
        return None
    try:
        parse_schedule(expression)
    except ScheduleError:
        return validation_error("Parameter ScheduleExpression is not valid.")
    return None


def check_put_targets(request: dict[str, Any]) -> InvokeResponse | None:
    for index, target in enumerate(request.get("Targets") or [], start=1):
        if not isinstance(target, dict):
            return validation_error(f"Target {index} is not an object.")
        target_id = target.get("Id")
        if not isinstance(target_id, str) or not _TARGET_ID.fullmatch(target_id):
            return validation_error(
                f"1 validation error detected: Value '{target_id}' at 'targets.{index}.member.id' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\.\\-_A-Za-z0-9]+"
            )
        arn = target.get("Arn")
        if not isinstance(arn, str) or not arn.startswith("arn:") or len(arn) > MAX_TARGET_ARN:
            return validation_error(
                f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
            )
    return None
