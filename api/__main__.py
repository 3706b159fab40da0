"""``python -m api``: serve the results API (settings: docs/results-api.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from api.app import create_app
from api.protocol import BoundedHttpProtocol
from api.settings import Settings, SettingsError, auth_notice
from api.storage import ResultStore, StoreError


def main(env: Mapping[str, str]) -> int:
    try:
        settings = Settings.from_env(env)
        # Opened, migrated and read once before binding: a bad RESULTS_DB fails
        # with one clear line, not a traceback or a server answering 503s.
        store = ResultStore.open(settings.db_path)
        try:
            store.verify()
        finally:
            store.close()
    except (SettingsError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"results API: {auth_notice(env)}", file=sys.stderr, flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",  # with httptools, the fastest pair measured
        http=BoundedHttpProtocol.configured(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            allowed_hosts=settings.allowed_hosts,
        ),
        access_log=settings.access_log,
        # Bound to a chosen address and reading no client address: no proxy headers.
        proxy_headers=False,
        # No "server: uvicorn" on every answer: bytes that tell a client nothing it needs.
        server_header=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
