"""Adding or removing a job in ``functions/`` never breaks the framework's tests.

A copy of the checkout (the files git tracks or would track, no ``.venv``)
gets the README's own example job, or loses a shipped one; then the suites
that run the project's real jobs run in the copy, with this interpreter (its
packages; the copy's own code comes first on the path), and
``localbridge list`` shows the jobs the copy has.

The suites: the app's discovery (``tests/jobs/test_app.py``), the year's
replay under ``kill -9`` and the console in a browser (one row per job); for a
removed job, every test module that names it (those that run it skip).
The run under ``kill -9`` at a virtual clock is left out: it takes longest
(about 45 s on a quiet machine) and checks only the shipped jobs' posts, which
a job added beside them does not change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.jobs.test_adding_a_job import EXAMPLE
from tests.support import ROOT

IN_A_COPY = "METRIC_JOBS_TESTS_IN_A_COPY"
"""Set in the copy's environment: the copy never runs this test itself."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(IN_A_COPY in os.environ, reason="already running in a copy"),
    pytest.mark.timeout(900),  # two suites of real processes on a busy machine
]

SUITES = [
    "tests/jobs/test_app.py",
    "tests/localbridge/runtime/test_crash_safety.py",
    "tests/localbridge/console/test_browser.py",
]
SKIPPED = "not test_run_with_a_virtual_clock_survives_repeated_kill_9"
REMOVED = "registrations_per_day"
"""The shipped job a copy loses."""


def suites_naming(project: Path, job: str) -> list[str]:
    """The test modules of the jobs and localbridge that name ``job``: those a
    removed job could break. tests/deploy's run ``make``, which would build the
    copy a ``.venv`` of its own (minutes); those that run a job carry the same
    ``shipped_jobs`` mark."""
    return sorted(
        str(path.relative_to(project))
        for folder in ("jobs", "localbridge")
        for path in (project / "tests" / folder).rglob("test_*.py")
        if job in path.read_text()
    )


def copy_checkout(destination: Path) -> Path:
    """The files git tracks, and new ones it does not ignore, as they are on disk."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))  # vendor/functions -> ../functions
        else:
            shutil.copy2(source, target)
    return destination


def add_readme_job(project: Path) -> str:
    """Write the README's "Adding a job" module, as a user following it does; its name."""
    found = EXAMPLE.search((project / "README.md").read_text())
    assert found, "README has no ```python block starting with '# functions/<job>.py'"
    module_path, source = found.groups()
    (project / module_path).write_text(source)
    return Path(module_path).stem


def remove_job(project: Path) -> str:
    (project / "functions" / f"{REMOVED}.py").unlink()
    return REMOVED


@dataclass(frozen=True)
class Outcome:
    name: str
    state: str
    """passed, failed or skipped."""
    report: str


def run_in(project: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(project))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # hundreds of interpreters: keep the cache
    env[IN_A_COPY] = "1"
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def run_suites(project: Path, suites: list[str]) -> list[Outcome]:
    report = project / "report.xml"
    done = run_in(
        project, "-m", "pytest", *suites, "-k", SKIPPED, "-n", "2", "-p", "no:cacheprovider",
        f"--junitxml={report}", timeout=800,
    )  # fmt: skip
    assert report.exists(), done.stdout + done.stderr  # the run itself started
    outcomes = []
    for case in ElementTree.parse(report).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        state = "failed" if failure is not None else "skipped" if skipped is not None else "passed"
        text = "" if failure is None else f"{failure.get('message')}\n{failure.text}"
        outcomes.append(Outcome(f"{case.get('classname')}::{case.get('name')}", state, text))
    assert outcomes, done.stdout
    return outcomes


def localbridge_list(project: Path) -> str:
    done = run_in(project, "-m", "localbridge", "list", "--ledger", "l.db", timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def listed_functions(listing: str) -> set[str]:
    return {line.split()[0] for line in listing.splitlines()[1:]}


def test_the_copy_runs_its_own_code(tmp_path: Path) -> None:
    """What the other tests prove holds only if the copy imports itself, not this checkout."""
    project = copy_checkout(tmp_path / "copy")
    assert not (project / ".venv").exists()
    done = run_in(
        project, "-c", "import functions, localbridge, tests; "
        "print(functions.__file__, localbridge.__file__, tests.__file__)", timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(Path(path).is_relative_to(project) for path in done.stdout.split()), done.stdout


def test_the_readmes_job_added_leaves_the_framework_suites_green(tmp_path: Path) -> None:
    project = copy_checkout(tmp_path / "copy")
    job = add_readme_job(project)

    assert job in listed_functions(localbridge_list(project))
    outcomes = run_suites(project, SUITES)
    failed = [outcome for outcome in outcomes if outcome.state == "failed"]
    assert not failed, "\n\n".join(f"{o.name}\n{o.report}" for o in failed)
    ran = {outcome.name.rsplit("::", 1)[1] for outcome in outcomes if outcome.state == "passed"}
    assert {
        "test_every_job_module_is_a_scheduled_function",
        "test_replay_of_a_year_survives_repeated_kill_9",
    } <= ran


def test_a_job_removed_leaves_the_suites_that_name_it_green(tmp_path: Path) -> None:
    """Tests that run the removed job by name skip, saying so; every other test passes."""
    project = copy_checkout(tmp_path / "copy")
    job = remove_job(project)

    listed = listed_functions(localbridge_list(project))
    assert job not in listed
    assert listed  # the other shipped job is still there
    outcomes = run_suites(project, suites_naming(project, job))
    failed = [outcome for outcome in outcomes if outcome.state == "failed"]
    assert not failed, "\n\n".join(f"{o.name}\n{o.report}" for o in failed)
    assert any(outcome.state == "passed" for outcome in outcomes)
    skipped = {o.name.rsplit("::", 1)[1] for o in outcomes if o.state == "skipped"}
    assert "test_registrations_per_day_posts_the_exact_body_and_key" in skipped
