"""Check that AWS (or an emulator) is reachable with usable credentials, before deploying.

``chalice deploy`` against an endpoint that is down retries for a long time and
then prints a traceback; a single cheap STS call with a short timeout tells the
user the same thing in one line and before anything is packaged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

DEFAULT_REGION = "us-east-1"
# One attempt, short timeouts: this is a probe, not a retrying client.
PROBE_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 1, "mode": "standard"}
)


class AwsAccessError(Exception):
    """AWS cannot be used as configured; the message says why and what to do."""


def region_of(environ: Mapping[str, str]) -> str:
    """The region chalice will use: AWS_DEFAULT_REGION, else AWS_REGION, else us-east-1."""
    return environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or DEFAULT_REGION


def endpoint_label(environ: Mapping[str, str]) -> str:
    """How to name the target in messages: the emulator's URL or 'AWS (<region>)'."""
    endpoint = environ.get("AWS_ENDPOINT_URL")
    return endpoint if endpoint else f"AWS ({region_of(environ)})"


def session_for(environ: Mapping[str, str]) -> boto3.Session:
    """A boto3 session as chalice will see ``environ``: its region, credentials and endpoint.

    ``environ`` may differ from this process's environment (deploy-local passes
    an emulator's URL and test credentials), so nothing is left to boto3's own
    reading of ``os.environ``.
    """
    return EndpointSession(
        environ.get("AWS_ENDPOINT_URL") or None,
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=region_of(environ),
    )


class EndpointSession(boto3.Session):  # type: ignore[misc]
    """A boto3 session whose clients all go to one endpoint (an emulator), when given."""

    def __init__(self, endpoint_url: str | None, **options: Any) -> None:
        super().__init__(**options)
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(service_name, *args, **kwargs)


def check_access(session: boto3.Session, environ: Mapping[str, str] = os.environ) -> str:
    """Return the account id the credentials belong to, or raise AwsAccessError."""
    target = endpoint_label(environ)
    if session.get_credentials() is None:
        raise AwsAccessError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE); for an emulator any non-empty values work"
        )
    sts = session.client("sts", config=PROBE_CONFIG)
    try:
        account: str = sts.get_caller_identity()["Account"]
    except EndpointConnectionError as exc:
        raise AwsAccessError(
            f"cannot reach {target}: {exc}. Is it running? Check AWS_ENDPOINT_URL."
        ) from None
    except NoCredentialsError:
        raise AwsAccessError("no AWS credentials found: set AWS_ACCESS_KEY_ID") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsAccessError(
            f"{target} rejected the credentials ({error.get('Code', 'error')}): "
            f"{error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise AwsAccessError(f"cannot use {target}: {exc}") from None
    return account
