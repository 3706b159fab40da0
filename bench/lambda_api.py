"""What the Lambda Invoke API adds to an invocation: HTTP, parsing, the client.

``python -m bench lambda_api [--runs N]`` serves a throwaway no-op function
with a thread-mode invoker and compares, over sequential warm runs, calling the
invoker directly with a boto3 ``lambda`` client invoking it through the API on
127.0.0.1 (and a raw HTTP POST, to split server cost from client cost).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import requests

from bench.invokers import percentiles, write_noop_project
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.thread import ThreadInvoker
from localbridge.lambda_api.backends import InvokerBackend
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer

NOW = datetime(2022, 12, 22, 0, 5, tzinfo=UTC)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench lambda_api")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args(argv)
    identity = AwsIdentity()
    with tempfile.TemporaryDirectory() as tmp:
        [function] = write_noop_project(Path(tmp), 1)
        invoker = ThreadInvoker(Path(tmp), identity)
        backend = InvokerBackend(lambda: [function], invoker, identity, clock=lambda: NOW)
        server = LambdaApiServer(LambdaInvokeHandler(backend, identity), port=0).start()
        client = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        event = scheduled_event(function, NOW, identity)
        session = requests.Session()
        url = f"{server.url}/2015-03-31/functions/{function.name}/invocations"
        cases: dict[str, Callable[[], object]] = {
            "invoker directly": lambda: invoker.invoke(function, event, str(uuid.uuid4())),
            "HTTP POST (requests)": lambda: session.post(url, data=b"", timeout=10).content,
            "boto3 lambda.invoke": lambda: client.invoke(FunctionName=function.name)[
                "Payload"
            ].read(),
        }
        try:
            medians = {}
            for name, call in cases.items():
                timed(call, 20)  # warm: imports, connections
                samples = timed(call, args.runs)
                medians[name] = statistics.median(samples)
                print(f"{name:<22} {percentiles(samples)}  ({args.runs} runs)")
            base = medians["invoker directly"]
            for name in list(cases)[1:]:
                extra = medians[name] - base
                print(f"{name:<22} adds {extra:.3f} ms at the median ({medians[name] / base:.1f}x)")
        finally:
            server.stop()
            backend.close()
            invoker.close()
    return 0
