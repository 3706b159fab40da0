"""What every metric job does around its own query: open the DB, post, return.

A job module only says which period it reads and what body it posts; this
decorator reads the settings, opens the registrations DB read-only, adds
``function`` and ``scheduled_time`` to the body and posts it with the
``Idempotency-Key: <function>/<scheduled_time>`` header.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable

from chalice.app import CloudWatchEvent

from functions._registrations import Registrations, open_registrations
from functions._results import Result
from functions._settings import Settings

Compute = Callable[[CloudWatchEvent, Registrations], Result]


def metric_job(compute: Compute) -> Callable[[CloudWatchEvent], Result]:
    """Turn ``compute(event, registrations) -> body`` into a scheduled handler.

    The handler keeps ``compute``'s name and module, so Chalice names the
    function and its handler string after it.
    """

    @functools.wraps(compute)
    def handler(event: CloudWatchEvent) -> Result:
        settings = Settings.from_env(os.environ)
        with open_registrations(settings.registrations_db, settings.cache_dir) as registrations:
            body = compute(event, registrations)
        result: Result = {**body, "function": compute.__name__, "scheduled_time": event.time}
        key = f"{compute.__name__}/{event.time}"
        status = settings.poster.post(result, key)
        # Printed rather than logged at INFO: Lambda's Python runtime shows the
        # logging module's WARNING and above only, while whatever a function
        # writes to stderr (or stdout) reaches its CloudWatch log group
        # (`chalice logs`). stderr keeps stdout for callers that read the result.
        print(f"posted {key}: HTTP {status} {json.dumps(result)}", file=sys.stderr)
        return result

    return handler
