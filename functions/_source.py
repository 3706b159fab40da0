"""Where the registrations DB lives: a local path, or an ``s3://bucket/key`` copy.

In AWS no file is mounted, so an S3 object is downloaded to a cache directory
(Lambda's ``/tmp``) and reused while its ETag is unchanged. The cache state lives
on disk beside the copy, so a warm Lambda container skips the download and a
cold one starts over, with no state kept in the process.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from functions._errors import RegistrationsError

_CHUNK = 1 << 20


def local_path(location: str, cache_dir: Path) -> Path:
    """A readable local file holding the DB named by ``location``."""
    if location.startswith("s3://"):
        return _s3_copy(location, cache_dir)
    path = Path(location)
    if not path.is_file():
        raise RegistrationsError(
            f"registrations DB {location}: no such file; "
            "set REGISTRATIONS_DB to an existing SQLite file or an s3:// URI"
        )
    return path


def _split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise RegistrationsError(
            f"registrations DB {uri}: not an s3://bucket/key URI; set REGISTRATIONS_DB"
        )
    return bucket, key


def _s3_copy(uri: str, cache_dir: Path) -> Path:
    bucket, key = _split_s3_uri(uri)
    stem = hashlib.sha256(uri.encode()).hexdigest()[:16]
    copy = cache_dir / f"registrations-{stem}.db"
    etag_file = cache_dir / f"registrations-{stem}.etag"
    # Imported here: boto3 costs a noticeable start-up time that a local path
    # never needs (the Lambda runtime ships it; the emulator may not need it).
    import boto3  # type: ignore[import-untyped]
    import botocore.exceptions  # type: ignore[import-untyped]

    s3 = boto3.client("s3")
    try:
        current = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        if copy.is_file() and _read(etag_file) == current:
            return copy
        _download(s3.get_object(Bucket=bucket, Key=key), copy, etag_file)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise RegistrationsError(
            f"registrations DB {uri}: cannot fetch it from S3 ({exc}); "
            "check the bucket, the key and the function's permissions"
        ) from exc
    return copy


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _download(response: dict[str, Any], copy: Path, etag_file: Path) -> None:
    """Write the object beside ``copy`` and swap it in, so a reader never sees half a file."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    # A unique name per download: concurrent runs in one container never share it.
    handle, partial = tempfile.mkstemp(dir=copy.parent, prefix=copy.name, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in response["Body"].iter_chunks(_CHUNK):
                out.write(chunk)
        # The ETag is written after the swap: a crash in between leaves a stale
        # ETag, which only costs one more download.
        etag_file.unlink(missing_ok=True)
        os.replace(partial, copy)
    finally:
        Path(partial).unlink(missing_ok=True)
    etag_file.write_text(response["ETag"])
