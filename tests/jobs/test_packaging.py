"""``chalice package`` output runs outside the repository, as Lambda would run it.

Lambda itself cannot run here; a fresh interpreter that sees only the unzipped
package plus this environment's site-packages stands in for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from tests.jobs.support import RULE_ARN, write_registrations
from tests.support import ROOT, RecordingServer

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

RUNNER = Path(__file__).with_name("lambda_runner.py")


def package(out: Path) -> dict[str, Any]:
    """Run the real chalice CLI; return the SAM template it wrote."""
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("chalice")), "package", "--stage", "local", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    template: dict[str, Any] = json.loads((out / "sam.json").read_text())
    return template


def handler_strings(template: dict[str, Any]) -> list[str]:
    return sorted(
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    )


def run_in_fresh_interpreter(
    package_dir: Path, handlers: list[str], event: dict[str, Any], env: dict[str, str]
) -> list[dict[str, Any]]:
    request = {
        "handlers": handlers,
        "event": event,
        "origins": ["functions", "requests", "chalice"],
    }
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            str(RUNNER),
            str(package_dir),
            sysconfig.get_paths()["purelib"],
            json.dumps(request),
        ],
        cwd=package_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_packaged_handlers_run_from_the_zip_alone(
    tmp_path: Path, recording_server: RecordingServer
) -> None:
    template = package(tmp_path / "out")
    handlers = handler_strings(template)
    assert handlers == sorted(s.handler_string for s in create_app().event_sources)

    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "out/deployment.zip") as archive:
        archive.extractall(unzipped)
    db = write_registrations(
        tmp_path / "registrations.db",
        [("2022-12-13 08:00:00.000000", 1500.0), ("2022-12-18 09:30:00.000001", 2500.0)],
    )
    event = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2022-12-19T01:00:00Z",
        "region": "us-east-1",
        "resources": [RULE_ARN.format(name="packaged")],
        "detail": {},
    }
    env = {
        "REGISTRATIONS_DB": str(db),
        "RESULTS_API_URL": recording_server.url,
        "RESULTS_API_BACKOFF": "0.001",
        "LANG": "C.UTF-8",
    }
    *results, origins = run_in_fresh_interpreter(unzipped, handlers, event, env)

    assert [r.get("error") for r in results] == [None] * len(handlers)
    for name, origin in origins["origins"].items():
        assert origin is not None, f"{name} was not imported"
        assert Path(origin).is_relative_to(unzipped), f"{name} came from {origin}"
    posted = {r.json()["function"]: r.json() for r in recording_server.requests}
    assert {r["handler"].rsplit(".", 1)[1]: r["returned"] for r in results} == posted
    assert posted["average_weight_last_week"]["value"] == 2000.0
    assert posted["average_weight_last_week"]["count"] == 2
    assert posted["registrations_per_day"]["date"] == "2022-12-18"
    assert posted["registrations_per_day"]["count"] == 1
