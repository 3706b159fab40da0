"""Posting one result to the results API, with retries for temporary failures.

The API answers 201 for a new result and 200 for an idempotent repeat; both are
success. 409 means the same key (the same scheduled tick) was stored with a
different body: retrying cannot help, so the run fails and says so. Connection
errors, 429 and 5xx are retried with exponential backoff; other 4xx are not.
A final failure raises, so the invoker records a failed run and retries it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

log = logging.getLogger(__name__)

JsonScalar = str | int | float | None
Result = dict[str, JsonScalar]


class ResultPostError(RuntimeError):
    """The results API did not accept the result."""


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries; waits ``base_delay * 2**n`` s, capped at ``max_delay``."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2**retry))


@dataclass(frozen=True)
class ResultPoster:
    url: str
    """Base URL of the results API, e.g. ``http://127.0.0.1:5000``."""
    token: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: tuple[float, float] = (3.05, 10.0)
    """Connect and read timeouts, seconds."""
    sleep: Callable[[float], None] = time.sleep

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/result"

    def post(self, result: Result, idempotency_key: str) -> int:
        """POST ``result``; return the API's 2xx status or raise ``ResultPostError``."""
        headers = {"Idempotency-Key": idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        with requests.Session() as session:
            for attempt in range(1, self.policy.attempts + 1):
                problem = self._try_once(session, result, headers)
                if isinstance(problem, int):
                    return problem
                if attempt == self.policy.attempts:
                    break
                delay = self.policy.delay(attempt - 1)
                log.warning(
                    "posting %s to %s failed (%s); retry %d in %.3f s",
                    idempotency_key,
                    self.endpoint,
                    problem,
                    attempt,
                    delay,
                )
                self.sleep(delay)
        raise ResultPostError(
            f"results API {self.endpoint} did not accept {idempotency_key} after "
            f"{self.policy.attempts} attempts: {problem}; check RESULTS_API_URL and the API"
        )

    def _try_once(
        self, session: requests.Session, result: Result, headers: dict[str, str]
    ) -> int | str:
        """The 2xx status on success; a description of a temporary failure to retry."""
        try:
            response = session.post(
                self.endpoint, json=result, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.ok:
            return response.status_code
        if response.status_code == 429 or response.status_code >= 500:
            return f"HTTP {response.status_code}"
        raise ResultPostError(self._rejection(response, headers["Idempotency-Key"]))

    def _rejection(self, response: requests.Response, key: str) -> str:
        if response.status_code == 409:
            return (
                f"results API {self.endpoint} already holds a different result for {key} "
                f"(HTTP 409: {response.text}); the same scheduled run produced another body, "
                "so the data changed since it was first posted"
            )
        return (
            f"results API {self.endpoint} rejected {key} with HTTP {response.status_code}: "
            f"{response.text}; check RESULTS_API_URL and RESULTS_API_TOKEN"
        )
