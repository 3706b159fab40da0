"""The poster's backoff, with the sleep injected so nothing waits for real."""

from __future__ import annotations

import pytest

from functions._results import ResultPoster, ResultPostError, RetryPolicy
from functions._settings import Settings, SettingsError
from tests.support import RecordingServer


def test_backoff_doubles_up_to_the_cap(recording_server: RecordingServer) -> None:
    recording_server.default = (503, {})
    slept: list[float] = []
    poster = ResultPoster(
        recording_server.url,
        policy=RetryPolicy(attempts=6, base_delay=0.5, max_delay=4.0),
        sleep=slept.append,
    )
    with pytest.raises(ResultPostError, match="after 6 attempts"):
        poster.post({"metric": "x"}, "job/2022-12-19T01:00:00Z")
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(recording_server.requests) == 6


def test_success_after_retries_returns_the_status(recording_server: RecordingServer) -> None:
    recording_server.responses = [(500, {}), (429, {})]
    slept: list[float] = []
    poster = ResultPoster(recording_server.url, sleep=slept.append)
    assert poster.post({"metric": "x"}, "job/t") == 201
    assert slept == [0.5, 1.0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RESULTS_API_ATTEMPTS", "0"),
        ("RESULTS_API_ATTEMPTS", "2.5"),
        ("RESULTS_API_BACKOFF", "-1"),
        ("RESULTS_API_BACKOFF", "soon"),
        ("RESULTS_API_BACKOFF", "nan"),
    ],
)
def test_bad_retry_settings_are_rejected_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
