"""``python -m api``: serve the results API (HOST, PORT, RESULTS_DB, RESULTS_API_TOKEN)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import uvicorn

from api.app import create_app
from api.settings import Settings, SettingsError
from api.storage import ResultStore, StoreError


def main(env: Mapping[str, str]) -> int:
    try:
        settings = Settings.from_env(env)
        # Open and migrate once before binding, so a bad RESULTS_DB fails with
        # one clear line instead of a startup traceback.
        ResultStore.open(settings.db_path).close()
    except (SettingsError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
