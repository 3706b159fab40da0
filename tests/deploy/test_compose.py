"""docker-compose.yml agrees with .chalice/config.json and the repository.

No Docker engine runs here, so the compose file is read as data (PyYAML) and
its facts are checked against the stages it must serve: what the engine would
reject or what would break only inside LocalStack is caught here instead.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.project_copy import stage_config
from tests.support import ROOT

LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
DEPLOY_SERVICES = {"lambda", "events", "iam", "sts", "logs", "s3"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"][name]
    return found


def localstack_env(compose: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = service(compose, "localstack")["environment"]
    return env


def networks_of(definition: dict[str, Any]) -> dict[str, Any]:
    """A service's networks as {key: settings}, whichever form the file uses."""
    networks = definition.get("networks", {})
    if isinstance(networks, list):
        return {key: {} for key in networks}
    return {key: settings or {} for key, settings in networks.items()}


def lambda_network_key(compose: dict[str, Any]) -> str:
    """The compose key of the network whose Docker name LAMBDA_DOCKER_NETWORK gives."""
    wanted = localstack_env(compose)["LAMBDA_DOCKER_NETWORK"]
    keys = [key for key, net in compose["networks"].items() if (net or {}).get("name") == wanted]
    assert keys, f"no network has the fixed name {wanted!r}"
    key: str = keys[0]
    return key


def test_default_services_run_without_a_profile(compose: dict[str, Any]) -> None:
    assert "profiles" not in service(compose, "api")
    assert "profiles" not in service(compose, "scheduler")
    assert service(compose, "localstack")["profiles"] == ["localstack"]


def test_localstack_image_is_pinned(compose: dict[str, Any]) -> None:
    image = service(compose, "localstack")["image"]
    assert image == LOCALSTACK_IMAGE
    assert not image.endswith(":latest")


def test_localstack_runs_only_what_the_deploy_needs(compose: dict[str, Any]) -> None:
    services = set(localstack_env(compose)["SERVICES"].split(","))
    assert {"lambda", "events", "iam", "sts"} <= services <= DEPLOY_SERVICES


def test_docker_socket_is_mounted_for_lambda_containers(compose: dict[str, Any]) -> None:
    assert "/var/run/docker.sock:/var/run/docker.sock" in service(compose, "localstack")["volumes"]


def test_localstack_and_api_share_the_lambda_network(compose: dict[str, Any]) -> None:
    key = lambda_network_key(compose)
    assert key in networks_of(service(compose, "localstack"))
    assert key in networks_of(service(compose, "api"))


def test_lambda_containers_mount_data_where_the_stage_reads_it(compose: dict[str, Any]) -> None:
    flags = shlex.split(localstack_env(compose)["LAMBDA_DOCKER_FLAGS"])
    mounts = [flags[i + 1] for i, flag in enumerate(flags) if flag in ("-v", "--volume")]
    [mount] = mounts
    source, target, mode = mount.split(":")
    database = stage_config(ROOT, "localstack")["environment_variables"]["REGISTRATIONS_DB"]
    assert target == posixpath.dirname(database)
    assert mode == "ro"
    # A host path: the daemon, not compose, resolves it (infra.localstack sets PWD).
    assert source == "${PWD}/data"


def test_lambda_reaches_api_by_the_stage_url(compose: dict[str, Any]) -> None:
    url = urlsplit(stage_config(ROOT, "localstack")["environment_variables"]["RESULTS_API_URL"])
    api = service(compose, "api")
    names = {"api", *networks_of(api)[lambda_network_key(compose)].get("aliases", [])}
    assert url.hostname in names
    assert str(url.port) == str(api["environment"]["PORT"])


def test_api_publishes_port_5000_and_keeps_results_on_a_volume(compose: dict[str, Any]) -> None:
    api = service(compose, "api")
    assert any(str(port).endswith("5000:5000") for port in api["ports"])
    results_dir = posixpath.dirname(api["environment"]["RESULTS_DB"])
    named_volumes = set(compose["volumes"])
    volume_targets = {
        mount.split(":")[1] for mount in api["volumes"] if mount.split(":")[0] in named_volumes
    }
    assert results_dir in volume_targets


def test_scheduler_posts_to_the_api_service(compose: dict[str, Any]) -> None:
    command = " ".join(service(compose, "scheduler")["command"])
    [url] = re.findall(r"--env RESULTS_API_URL=(\S+)", command)
    assert urlsplit(url).hostname == "api"
    [stage] = re.findall(r"--stage (\S+)", command)
    database = stage_config(ROOT, stage)["environment_variables"]["REGISTRATIONS_DB"]
    assert database.startswith("data/"), "the scheduler's stage must read the mounted data/"
    assert "./data:/app/data" in service(compose, "scheduler")["volumes"]
    assert service(compose, "scheduler")["depends_on"]["api"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["api", "scheduler", "localstack"])
def test_every_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    test = service(compose, name)["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert any("http://127.0.0.1:" in part for part in test)


@pytest.mark.parametrize("name", ["api", "scheduler"])
def test_built_images_copy_only_what_exists(compose: dict[str, Any], name: str) -> None:
    build = service(compose, name)["build"]
    context = ROOT / build["context"]
    dockerfile = context / build["dockerfile"]
    assert dockerfile.is_file()
    for source in copied_sources(dockerfile):
        # Docker COPY sources may be globs (api/*.py): at least one file must match.
        assert any(context.glob(source.rstrip("/"))), f"{dockerfile} copies missing {source}"


def copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources
