"""``_X_AMZN_TRACE_ID`` per run: where Lambda puts it, without growing the process's memory."""

from __future__ import annotations

import subprocess
import sys

from tests.support import python_env

# A fresh interpreter: the variable is the process's, and so is its memory.
PROBE = """
import os, subprocess
from localbridge.events import new_trace_id
from localbridge.invokers.trace_env import set_trace_id

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

for _ in range(2_000):
    set_trace_id(new_trace_id())
before = rss_kib()
for _ in range(100_000):
    set_trace_id(new_trace_id())
grown = rss_kib() - before
value = new_trace_id()
set_trace_id(value)
SHOW = ["sh", "-c", 'printf %s "$_X_AMZN_TRACE_ID"']
child = subprocess.run(SHOW, capture_output=True, text=True)
os.environ["_X_AMZN_TRACE_ID"] = "set by the handler"
later = new_trace_id()
set_trace_id(later)
again = subprocess.run(SHOW, capture_output=True, text=True)
print(grown)
print(os.environ["_X_AMZN_TRACE_ID"] == later and os.getenv("_X_AMZN_TRACE_ID") == later)
print(child.stdout == value, again.stdout == later)
"""


def test_a_trace_id_per_run_reaches_the_environment_in_constant_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=python_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr
    grown_kib, visible, inherited = done.stdout.splitlines()
    # os.environ[...] = value would keep each of the 100,000 values: ~14 MiB.
    assert int(grown_kib) < 1024, f"RSS grew {grown_kib} KiB over 100,000 runs"
    assert visible == "True"
    assert inherited == "True True"
