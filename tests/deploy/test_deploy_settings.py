"""``make deploy`` carries the stage's settings to Lambda and refuses what Lambda refuses.

A real moto server process stands in for AWS; the real ``chalice deploy`` runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.project_copy import edit_stage
from tests.deploy.test_deploy_moto import STAGE, Moto, make, moto, project, scheduled_functions

__all__ = ["moto", "project"]  # the fixtures, imported to be used here


@pytest.mark.slow
def test_retry_attempts_and_event_age_reach_lambdas_event_invoke_config(
    moto: Moto, project: Path
) -> None:
    functions = sorted(spec.name for spec in scheduled_functions(project))
    first, *others = functions
    edit_stage(
        project,
        STAGE,
        localbridge={
            "defaults": {"maximum_retry_attempts": 1, "maximum_event_age": 3600},
            "functions": {first: {"maximum_retry_attempts": 0, "maximum_event_age": 120}},
        },
    )
    done = make(project, "deploy", moto.environ)
    assert done.returncode == 0, done.stdout + done.stderr
    lambda_client = moto.client("lambda")
    expected = {first: (0, 120), **{name: (1, 3600) for name in others}}
    for spec in scheduled_functions(project):
        answer = lambda_client.get_function_event_invoke_config(FunctionName=spec.lambda_name)
        got = (answer["MaximumRetryAttempts"], answer["MaximumEventAgeInSeconds"])
        assert got == expected[spec.name]
        # Printed as read back.
        assert [spec.name, *map(str, got)] in [line.split() for line in done.stdout.splitlines()]


def test_reserved_environment_names_are_refused_before_chalice_runs(
    moto: Moto, project: Path
) -> None:
    edit_stage(project, STAGE, environment_variables={"AWS_REGION": "eu-west-1", "TABLE": "t"})
    done = make(project, "deploy", moto.environ)
    assert done.returncode != 0
    assert (
        "deploy: error: stage 'dev' in .chalice/config.json: Lambda was unable to configure "
        "your environment variables because the environment variables you have provided "
        "contains reserved keys that are currently not supported for modification. Reserved "
        "keys used in this request: AWS_REGION"
    ) in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert moto.client("lambda").list_functions()["Functions"] == []
