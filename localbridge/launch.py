"""The command line that runs one of localbridge's own modules in a fresh interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

LOCALBRIDGE_ROOT = Path(__file__).resolve().parents[1]


def module_command(module: str, *args: str) -> list[str]:
    """``python -m module args`` that finds this localbridge whatever the cwd holds.

    ``-m`` would search the working directory (the user's project) first, where
    another ``localbridge`` package may live; this puts ours first instead.
    """
    bootstrap = (
        f"import runpy, sys; sys.path.insert(0, {str(LOCALBRIDGE_ROOT)!r}); "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", bootstrap, *args]
