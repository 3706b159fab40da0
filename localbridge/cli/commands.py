"""Each command's handler, importing the module that runs it only when it runs.

The parser (``main``) names these, so building it imports none of the
commands' dependencies: a one-shot command loads what it uses and no more,
and ``run`` starts discovering the app (``project.pending``) before it
imports the runtime, its services and chalice, so the two overlap.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from localbridge.project.config import parse_env_overrides
from localbridge.project.pending import PendingLoad

if TYPE_CHECKING:
    from localbridge.abc import Service
    from localbridge.runtime.loop import Runtime


def start_load(args: argparse.Namespace) -> PendingLoad:
    """The project's functions, being discovered until ``open_session`` asks for them."""
    return PendingLoad(args.project, args.stage, parse_env_overrides(args.env))


def run(args: argparse.Namespace) -> int:
    pending = start_load(args)
    try:
        from localbridge.cli.running import cmd_run
    except BaseException:
        pending.close()
        raise
    return cmd_run(args, run_services, pending=pending)


def run_services(args: argparse.Namespace) -> Sequence[Service[Runtime]]:
    """What ``run`` serves beside the runtime: the Lambda Invoke API and the console."""
    from localbridge.cli.console import console_services
    from localbridge.cli.running import lambda_api_services

    return [*lambda_api_services(args), *console_services(args), *retention_services(args)]


def retention_services(args: argparse.Namespace) -> Sequence[Service[Runtime]]:
    """Pruning as the clock moves, unless the stage's ``retention_days`` is null."""
    from localbridge.project.config import read_stage_config
    from localbridge.project.settings import load_retention
    from localbridge.runtime.retention import Retention

    keep = load_retention(read_stage_config(args.project, args.stage))
    return [] if keep is None else [Retention(keep)]


def serve(args: argparse.Namespace) -> int:
    pending = start_load(args)
    try:
        from localbridge.cli.running import cmd_run, lambda_api_services
    except BaseException:
        pending.close()
        raise
    return cmd_run(args, lambda_api_services, fire_schedules=False, pending=pending)


def listing(args: argparse.Namespace) -> int:
    from localbridge.cli.running import cmd_list

    return cmd_list(args)


def invoke(args: argparse.Namespace) -> int:
    from localbridge.cli.running import cmd_invoke

    return cmd_invoke(args)


def replay(args: argparse.Namespace) -> int:
    from localbridge.cli.running import cmd_replay

    return cmd_replay(args)


def next_fires(args: argparse.Namespace) -> int:
    from localbridge.cli.running import cmd_next

    return cmd_next(args)


def console(args: argparse.Namespace) -> int:
    from localbridge.cli.console import cmd_console

    return cmd_console(args)


def pause(args: argparse.Namespace) -> int:
    from localbridge.cli.console import cmd_pause

    return cmd_pause(args)


def resume(args: argparse.Namespace) -> int:
    from localbridge.cli.console import cmd_resume

    return cmd_resume(args)


def runs(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_runs

    return cmd_runs(args)


def dlq_list(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_dlq_list

    return cmd_dlq_list(args)


def dlq_redrive(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_dlq_redrive

    return cmd_dlq_redrive(args)


def dlq_purge(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_dlq_purge

    return cmd_dlq_purge(args)


def prune(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_prune

    return cmd_prune(args)


def stats(args: argparse.Namespace) -> int:
    from localbridge.cli.history import cmd_stats

    return cmd_stats(args)


def logs(args: argparse.Namespace) -> int:
    from localbridge.cli.lambda_tools import cmd_logs

    return cmd_logs(args)


def generate_event(args: argparse.Namespace) -> int:
    from localbridge.cli.lambda_tools import cmd_generate_event

    return cmd_generate_event(args)
