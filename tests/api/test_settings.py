"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings, SettingsError


def test_defaults() -> None:
    assert Settings.from_env({}) == Settings(
        Path("data/results.db"), "127.0.0.1", 5000, None, False
    )


def test_every_variable_is_read() -> None:
    env = {
        "RESULTS_DB": "/tmp/r.db",
        "HOST": "0.0.0.0",
        "PORT": "8080",
        "RESULTS_API_TOKEN": "t",
        "RESULTS_API_ACCESS_LOG": "true",
    }

    assert Settings.from_env(env) == Settings(Path("/tmp/r.db"), "0.0.0.0", 8080, "t", True)


def test_empty_token_means_no_token() -> None:
    assert Settings.from_env({"RESULTS_API_TOKEN": ""}).token is None


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_bad_port_is_named(port: str) -> None:
    with pytest.raises(SettingsError, match="PORT must be a number from 1 to 65535"):
        Settings.from_env({"PORT": port})


def test_bad_flag_is_named() -> None:
    with pytest.raises(SettingsError, match="RESULTS_API_ACCESS_LOG"):
        Settings.from_env({"RESULTS_API_ACCESS_LOG": "maybe"})
