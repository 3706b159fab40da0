"""``REGISTRATIONS_DB=s3://...`` against a real moto server process (AWS itself cannot run here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from functions._errors import RegistrationsError
from tests.jobs.support import chalice_client, invoke, write_registrations
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    RecordingServer,
    free_port,
    http_ok,
    running,
    start_process,
)

pytestmark = pytest.mark.shipped_jobs("registrations_per_day")

BUCKET = "metric-jobs-test-data"
KEY = "registrations.db"
DAY = "2022-12-21 12:00:00.000000"


@pytest.fixture
def moto_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    process = start_process(["-m", "moto.server", "-p", str(port)], tmp_path / "moto.log")
    url = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ENDPOINT_URL": url, **FAKE_AWS_CREDENTIALS}.items():
        monkeypatch.setenv(name, value)
    with running(process, lambda: http_ok(f"{url}/moto-api/")):
        yield url


def s3() -> Any:
    return boto3.client("s3")


def upload(tmp_path: Path, name: str, rows: int) -> str:
    db = write_registrations(tmp_path / name, [(DAY, 1.0)] * rows)
    s3().upload_file(str(db), BUCKET, KEY)
    etag: str = s3().head_object(Bucket=BUCKET, Key=KEY)["ETag"]
    return etag


def test_s3_copy_is_downloaded_reused_and_refreshed(
    tmp_path: Path, moto_url: str, recording_server: RecordingServer
) -> None:
    s3().create_bucket(Bucket=BUCKET)
    first_etag = upload(tmp_path, "v1.db", rows=2)
    cache = tmp_path / "cache"
    env = {
        "REGISTRATIONS_DB": f"s3://{BUCKET}/{KEY}",
        "REGISTRATIONS_CACHE_DIR": str(cache),
        "RESULTS_API_URL": recording_server.url,
    }
    client = chalice_client(tmp_path / "project", env)

    assert invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")["count"] == 2
    [copy] = cache.glob("*.db")
    assert [p.read_text() for p in cache.glob("*.etag")] == [first_etag]
    downloaded_at = copy.stat().st_mtime_ns
    copy_inode = copy.stat().st_ino

    # Unchanged ETag: the same file is used again, not fetched.
    assert invoke(client, "registrations_per_day", "2022-12-22T00:06:00Z")["count"] == 2
    assert (copy.stat().st_ino, copy.stat().st_mtime_ns) == (copy_inode, downloaded_at)

    second_etag = upload(tmp_path, "v2.db", rows=5)
    assert second_etag != first_etag
    assert invoke(client, "registrations_per_day", "2022-12-22T00:07:00Z")["count"] == 5
    assert [p.read_text() for p in cache.glob("*.etag")] == [second_etag]
    assert list(cache.glob("*.part")) == []


def test_missing_s3_object_fails_naming_the_uri(
    tmp_path: Path, moto_url: str, recording_server: RecordingServer
) -> None:
    s3().create_bucket(Bucket=BUCKET)
    uri = f"s3://{BUCKET}/nothing-here.db"
    env = {
        "REGISTRATIONS_DB": uri,
        "REGISTRATIONS_CACHE_DIR": str(tmp_path / "cache"),
        "RESULTS_API_URL": recording_server.url,
    }
    with pytest.raises(RegistrationsError, match=f"registrations DB {uri}: cannot fetch it"):
        invoke(chalice_client(tmp_path, env), "registrations_per_day", "2022-12-22T00:05:00Z")
    assert recording_server.requests == []
