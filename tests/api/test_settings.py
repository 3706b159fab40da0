"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings, SettingsError, auth_notice


def test_defaults() -> None:
    assert Settings.from_env({}) == Settings(
        Path("data/results.db"), "127.0.0.1", 5000, None, False, 10.0, 30.0
    )


def test_every_variable_is_read() -> None:
    env = {
        "RESULTS_DB": "/tmp/r.db",
        "HOST": "0.0.0.0",
        "PORT": "8080",
        "RESULTS_API_TOKEN": "t",
        "RESULTS_API_ACCESS_LOG": "true",
        "RESULTS_API_HEADER_TIMEOUT": "2.5",
        "RESULTS_API_BODY_TIMEOUT": "60",
        "ALLOWED_HOSTS": "api, scheduler:3001",
    }

    assert Settings.from_env(env) == Settings(
        Path("/tmp/r.db"), "0.0.0.0", 8080, "t", True, 2.5, 60.0, frozenset({b"api", b"scheduler"})
    )


def test_empty_token_means_no_token_and_is_said_at_start() -> None:
    env = {"RESULTS_API_TOKEN": ""}

    assert Settings.from_env(env).token is None
    assert auth_notice(env).startswith("warning: RESULTS_API_TOKEN is set but empty")
    assert "open to anyone" in auth_notice({})
    assert "Bearer" in auth_notice({"RESULTS_API_TOKEN": "t"})


@pytest.mark.parametrize("token", [" t0ken", "t0ken ", "t0ken\n", "\tt0ken"])
def test_token_with_surrounding_whitespace_is_refused(token: str) -> None:
    with pytest.raises(SettingsError, match="whitespace around it"):
        Settings.from_env({"RESULTS_API_TOKEN": token})


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1e9"])
def test_bad_timeout_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match="RESULTS_API_BODY_TIMEOUT must be a number"):
        Settings.from_env({"RESULTS_API_BODY_TIMEOUT": value})


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_bad_port_is_named(port: str) -> None:
    with pytest.raises(SettingsError, match="PORT must be a number from 1 to 65535"):
        Settings.from_env({"PORT": port})


def test_bad_flag_is_named() -> None:
    with pytest.raises(SettingsError, match="RESULTS_API_ACCESS_LOG"):
        Settings.from_env({"RESULTS_API_ACCESS_LOG": "maybe"})


@pytest.mark.parametrize(
    ("host", "listed", "answered"),
    [
        ("127.0.0.1", "api", frozenset()),  # bound to loopback: loopback names only
        ("::1", "api", frozenset()),
        ("0.0.0.0", "api,, results.internal.", frozenset({b"api", b"results.internal"})),
        ("10.1.2.3", None, frozenset({b"10.1.2.3"})),
    ],
)
def test_allowed_hosts_apply_only_beyond_loopback(
    host: str, listed: str | None, answered: frozenset[bytes]
) -> None:
    env = {"HOST": host} if listed is None else {"HOST": host, "ALLOWED_HOSTS": listed}
    assert Settings.from_env(env).allowed_hosts == answered
