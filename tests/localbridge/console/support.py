"""A real console over a real runtime: ManualClock, thread invoker, ledger file, free port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from localbridge.clock import ManualClock
from localbridge.console.service import ConsoleService
from localbridge.ledger.store import Ledger
from localbridge.runtime.loop import Runtime
from tests.localbridge.runtime.harness import manual_clock, started_runtime, write_project

PRINTS = """
@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def prints(event):
    print("counting rows for", event.time)
    return {"metric": "rows", "time": event.time}
"""

FAILS_ONCE = """
@app.schedule(Cron(30, 0, "*", "*", "?", "*"))
def fails_until_fixed(event):
    if Path(os.environ["FAIL_FLAG"]).exists():
        raise ConnectionError("results API unreachable")
    return {"time": event.time}
"""

NO_RETRIES = {"defaults": {"maximum_retry_attempts": 0}}
TOKEN = re.compile(r'name="token" value="([^"]+)"')


@dataclass
class ConsoleUnderTest:
    url: str
    runtime: Runtime
    clock: ManualClock
    ledger: Ledger
    session: requests.Session

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path.lstrip("/"), timeout=10, **kwargs)

    def token(self) -> str:
        found = TOKEN.search(self.get("/").text)
        assert found, "the functions page carries the console's token"
        return found[1]

    def post(self, path: str, data: dict[str, Any], **headers: str) -> requests.Response:
        return self.session.post(
            self.url + path.lstrip("/"),
            data=data,
            headers=headers,
            allow_redirects=False,
            timeout=10,
        )

    def act(self, path: str, **fields: Any) -> requests.Response:
        return self.post(
            path, {"token": self.token(), **fields}, **{"Sec-Fetch-Site": "same-origin"}
        )


@contextmanager
def console_over(
    tmp_path: Path,
    *functions: str,
    results_api_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ConsoleUnderTest]:
    project = write_project(tmp_path / "project", *functions, localbridge=NO_RETRIES)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "ledger.db", clock, env=env) as runtime:
        service = ConsoleService("127.0.0.1", 0, True, results_api_url)
        service.start(runtime)
        try:
            assert service.url is not None
            with requests.Session() as session:
                yield ConsoleUnderTest(service.url, runtime, clock, runtime.ledger, session)
        finally:
            service.stop()


def advance(console: ConsoleUnderTest, minutes: int) -> None:
    console.clock.advance(timedelta(minutes=minutes))
