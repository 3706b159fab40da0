"""``python -m infra.emulated_aws``: the emulated AWS endpoint (default 127.0.0.1:4566).

Serves moto (IAM, STS, Lambda, EventBridge, CloudWatch Logs, S3...) and
localbridge's Invoke on one port, and fires the deployed schedule rules; see
``infra.emulated_aws``. Runs until Ctrl-C or SIGTERM, then lets runs in
flight finish.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from infra.emulated_aws.engine import ClockSetting, Engine
from infra.emulated_aws.host_check import HostCheck
from infra.emulated_aws.router import Router
from localbridge.cli.common import parse_time, positive_float
from localbridge.events import AwsIdentity
from localbridge.hosts import HostPolicy
from localbridge.signals import SignalEvent, set_on_signals

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_STATE_DIR = Path("data/emulated-aws")
# Lambda hands a function its execution role's credentials; the workers get
# these (moto accepts any) unless the endpoint's environment has some.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.emulated_aws", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"code packages and the run ledger (default: {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--clock-start", type=parse_time, help="virtual clock start (ISO-8601)")
    parser.add_argument("--speed", type=positive_float, default=1.0, help="x real time")
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> int:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    for key, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    # Checked before the engine touches the state directory: a second endpoint
    # must not move the ledger of the one already serving this port.
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"emulated AWS: cannot listen on {args.host}:{args.port}: {problem}", file=sys.stderr)
        return 1
    identity = AwsIdentity.from_environment()
    url = f"http://{args.host}:{args.port}"
    clock = ClockSetting(args.clock_start, args.speed)
    engine = Engine(args.state_dir.resolve(), url, identity, clock)
    router = Router(DomainDispatcherApplication(create_backend_app), engine)
    app = HostCheck(router, HostPolicy.for_address(args.host))
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    engine.start()
    kind = "virtual clock (waits for a start)" if clock.virtual else "real clock"
    logging.getLogger("emulated_aws").info(
        f"emulated AWS on {url} ({identity.region}, account {identity.account}), {kind}"
    )
    stop = SignalEvent()
    set_on_signals(stop)
    thread = threading.Thread(target=server.serve_forever, name="endpoint", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    engine.stop()
    return 0


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served (as the server will bind it), or None."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # One line per request from werkzeug drowns the runs' lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
