"""What SAM and Chalice users reach for: ``logs``, ``generate-event``, ``invoke --event``.

``logs NAME`` prints each finished attempt's log from the ledger, framed as
Lambda's log stream frames it (``START``, the output, ``END``, ``REPORT``),
like ``chalice logs``/``sam logs``; ``--follow`` keeps printing new ones.
``generate-event`` prints the event EventBridge would send for a schedule,
which ``invoke --event`` (or ``sam local invoke -e``) can then deliver.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localbridge.cli.common import (
    EXIT_OK,
    UsageError,
    stop_on_signals,
)
from localbridge.cli.console import require_known_function
from localbridge.cli.history import require_ledger
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.ledger.attempt_logs import AttemptLogs
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec
from localbridge.terminal import escape

# The rule a generated event names when no function is given (SAM's sample does the same).
SAMPLE_FUNCTION = FunctionSpec("my-schedule", "app.handler", "rate(1 hour)", "app", "dev")


def cmd_logs(args: argparse.Namespace) -> int:
    require_ledger(args)
    Ledger.open(args.ledger, check=True).close()  # brings an older ledger's schema up to date
    require_known_function(args, args.name)
    reader = AttemptLogs(args.ledger, args.name)
    try:
        with stop_on_signals() as stop:
            shown = print_new(reader, args.since)
            if not args.follow:
                if not shown:
                    print(f"no finished runs of {args.name!r} in {args.ledger}", file=sys.stderr)
                return EXIT_OK
            follow(reader, args.since, stop, args.poll)
    finally:
        reader.close()
    return EXIT_OK


def print_new(reader: AttemptLogs, since: datetime | None) -> int:
    attempts = reader.read_new(since)
    for attempt in attempts:
        sys.stdout.write(escape(attempt.logs or f"(attempt {attempt.number}: no log kept)\n"))
    sys.stdout.flush()
    return len(attempts)


def follow(reader: AttemptLogs, since: datetime | None, stop: threading.Event, poll: float) -> None:
    """Print runs as they finish until Ctrl-C (or SIGTERM)."""
    while not stop.wait(poll):
        print_new(reader, since)


def cmd_generate_event(args: argparse.Namespace) -> int:
    function = SAMPLE_FUNCTION if args.name is None else find(args)
    at = args.time or datetime.now(UTC)
    print(json.dumps(scheduled_event(function, at, AwsIdentity.from_environment()), indent=2))
    return EXIT_OK


def find(args: argparse.Namespace) -> FunctionSpec:
    from localbridge.cli.session import load

    functions = load(args)
    for function in functions:
        if args.name in (function.name, function.lambda_name):
            return function
    known = ", ".join(f.name for f in functions) or "none"
    raise UsageError(f"no scheduled function {args.name!r} (known: {known})")


def read_event(source: str) -> dict[str, Any]:
    """``invoke --event FILE`` (or ``-``, standard input): a JSON object, the event to deliver."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        raise UsageError(f"--event {source}: cannot read it ({error.strerror})") from None
    where = "standard input" if source == "-" else source
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UsageError(f"--event: {where} is not JSON ({error})") from None
    if not isinstance(event, dict):
        raise UsageError(
            f"--event: {where} holds a JSON {type(event).__name__}; an event is a JSON object "
            "(see `localbridge generate-event`)"
        )
    return event
