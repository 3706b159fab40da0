"""The README's "Adding a job" module, dropped into a copy of the app, is found and runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jobs.support import write_registrations
from tests.support import ROOT, RecordingServer

EXAMPLE = re.compile(r"```python\n# (functions/\w+\.py)\n(.*?)```", re.DOTALL)

INVOKE = """
import json, sys
from chalice.test import Client
from app import app
name = sys.argv[1]
with Client(app, stage_name="local") as client:
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    event["time"] = sys.argv[2]
    payload = client.lambda_.invoke(name, event).payload
names = sorted(source.name for source in app.event_sources)
print(json.dumps({"names": names, "payload": payload}))
"""


@pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")
def test_readme_example_job_is_registered_and_posts(
    tmp_path: Path, recording_server: RecordingServer
) -> None:
    found = EXAMPLE.search((ROOT / "README.md").read_text())
    assert found, "README has no ```python block starting with '# functions/<job>.py'"
    module_path, source = found.groups()
    project = tmp_path / "project"
    shutil.copytree(ROOT / "functions", project / "functions")
    shutil.copy(ROOT / "app.py", project / "app.py")
    (project / module_path).write_text(source)
    db = write_registrations(
        tmp_path / "r.db", [("2022-12-12 00:00:00.000000", 1.0), ("2022-12-18 12:00:00", 2.0)]
    )
    job = Path(module_path).stem
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(REGISTRATIONS_DB=str(db), RESULTS_API_URL=recording_server.url)

    done = subprocess.run(
        [sys.executable, "-c", INVOKE, job, "2022-12-19T01:30:00Z"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert job in output["names"]
    assert {"average_weight_last_week", "registrations_per_day"} < set(output["names"])
    [request] = recording_server.requests
    assert request.json() == output["payload"]
    assert output["payload"]["count"] == 2
    assert output["payload"]["function"] == job
    assert request.headers["Idempotency-Key"] == f"{job}/2022-12-19T01:30:00Z"
