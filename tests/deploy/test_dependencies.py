"""Dependencies by role: pyproject.toml names them, requirements.lock pins them.

The installed package's dependencies are exactly what ``localbridge`` imports;
what the running parts import (the API, the jobs, ``make run``'s launcher) is
in what ``make run`` installs, and nothing else is; what the deploy scripts
import is in what ``make deploy-local`` installs; the lock's marks follow
pyproject.toml's roles; the exact pins agree with the lock. Imports are read from the source (every
import statement, those inside functions too), nothing is imported.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from infra import lockfile
from tests.support import ROOT

PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()
# Each part, the roles whose groups hold what it imports. infra runs localbridge's
# code (discovery, the runtime) too, so it has localbridge's role; `make run` runs
# infra/local.py with what running needs alone (data/ imports only the stdlib).
PARTS = {
    "api": ("api",),
    "functions": ("jobs",),
    "app.py": ("jobs",),
    "infra/local.py": lockfile.RUNNING,
    "infra": ("deploy", "localbridge"),
}
# Deploy-only packages `make run` must leave out (`make deploy-local` brings them).
DEPLOY_ONLY = {"moto", "cfn-lint", "docker", "sympy", "localstack-client"}

# `pip freeze` leaves these out of the lock: the venv brings pip and setuptools,
# and uv installs wheel (chalice needs it) at the index's version.
UNFROZEN = {"pip", "setuptools", "wheel"}


def imported_modules(paths: Iterable[Path]) -> set[str]:
    """The top-level names of every absolute import in the ``paths``' source."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def sources(part: str) -> list[Path]:
    path = ROOT / part
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def third_party(modules: set[str]) -> set[str]:
    """The canonical names of the distributions that provide ``modules`` (not the stdlib's,
    not this repository's)."""
    ours = {path.stem if path.is_file() else path.name for path in ROOT.iterdir()}
    providers = metadata.packages_distributions()
    found: set[str] = set()
    for module in modules - set(sys.stdlib_module_names) - ours:
        assert module in providers, f"no installed distribution provides {module!r}"
        found.update(lockfile.canonical(name) for name in providers[module])
    return found


def names(requirements: Iterable[str]) -> set[str]:
    return {lockfile.canonical(Requirement(text).name) for text in requirements}


def locked() -> dict[str, tuple[str, list[str]]]:
    """Each locked package: its version and the roles its line is marked with."""
    found = {}
    for line in LOCK.splitlines():
        if line and not line.startswith("#"):
            pin, _, marks = line.partition("#")
            name, _, version = pin.strip().partition("==")
            found[lockfile.canonical(name)] = (version, [m.strip() for m in marks.split(",")])
    return found


def test_the_installed_package_depends_on_exactly_what_localbridge_imports() -> None:
    imports = third_party(imported_modules(sources("localbridge")))
    assert "chalice" in imports  # the walk sees imports (a broken walk would pass vacuously)
    assert names(PROJECT["project"]["dependencies"]) == imports


@pytest.mark.parametrize(("part", "roles"), PARTS.items())
def test_what_a_running_part_imports_is_in_its_roles(part: str, roles: tuple[str, ...]) -> None:
    imports = third_party(imported_modules(sources(part)))
    assert imports, f"{part} imports nothing from outside (a broken walk?)"
    needed = lockfile.closure(req for role in roles for req in lockfile.roles(PROJECT)[role])
    assert imports - needed == set()


def selected(roles: Iterable[str]) -> set[str]:
    """The names of the pins ``make`` installs for ``roles`` (its lockfile select)."""
    return {
        lockfile.canonical(pin.split("==")[0]) for pin in lockfile.select(LOCK.splitlines(), roles)
    }


def needed(roles: Iterable[str]) -> set[str]:
    return lockfile.closure(req for role in roles for req in lockfile.roles(PROJECT)[role])


def test_make_run_installs_what_running_needs_and_nothing_else() -> None:
    assert selected(lockfile.RUNNING) == needed(lockfile.RUNNING) - UNFROZEN
    assert selected(lockfile.RUNNING) & DEPLOY_ONLY == set()
    # The tests' oracle is not something running needs.
    assert locked()["croniter"][1] == ["dev"]


def test_make_deploy_local_adds_what_deploying_needs() -> None:
    every = lockfile.MARKED
    assert selected(every) == needed(every) - UNFROZEN
    assert selected(every) >= DEPLOY_ONLY


def test_the_makefile_installs_each_environment_by_its_roles() -> None:
    """RUN_STAMP selects the running roles (and installs the project: .venv/bin/localbridge),
    DEPLOY_STAMP adds deploy; run, api, data and invoke need only the first."""
    makefile = (ROOT / "Makefile").read_text()

    def recipe(stamp: str) -> str:
        return makefile[makefile.index(f"$({stamp}):") :].split("\n\n")[0]

    assert f"select {' '.join(lockfile.RUNNING)} <" in recipe("RUN_STAMP")
    assert "--no-deps -e ." in recipe("RUN_STAMP")
    assert f"select {' '.join(lockfile.MARKED)} <" in recipe("DEPLOY_STAMP")
    for target, stamp in [("run", "RUN_STAMP"), ("api", "RUN_STAMP"), ("invoke", "RUN_STAMP")]:
        assert re.search(rf"^{target}: \$\({stamp}\)", makefile, re.MULTILINE), target
    for target in ("deploy", "destroy", "deploy-local", "destroy-local"):
        assert re.search(rf"^{target}: \$\(DEPLOY_STAMP\)", makefile, re.MULTILINE), target


def test_the_lock_is_marked_as_pyproject_names_the_roles() -> None:
    """Re-marking the lock in this environment (which holds its versions) changes nothing:
    a role changed in pyproject.toml without `make lock` fails here."""
    for name, (version, _) in locked().items():
        assert metadata.version(name) == version, f"{name}: .venv differs from the lock"
    assert lockfile.lock(LOCK.splitlines(), PROJECT) == LOCK


def test_a_package_has_one_requirement_in_every_role_it_appears_in() -> None:
    seen: dict[str, str] = {}
    for role, requirements in lockfile.roles(PROJECT).items():
        for text in requirements:
            name = lockfile.canonical(Requirement(text).name)
            assert seen.setdefault(name, text) == text, f"{role}: {text} against {seen[name]}"


@pytest.mark.parametrize("package", ["uvicorn", "moto"])
def test_an_exact_pin_is_the_locked_version(package: str) -> None:
    """api/ reaches into uvicorn's protocol and infra/ into moto's backends: pinned exactly."""
    exact = [
        Requirement(text)
        for requirements in lockfile.roles(PROJECT).values()
        for text in requirements
        if lockfile.canonical(Requirement(text).name) == package
    ]
    assert exact
    for requirement in exact:
        assert str(requirement.specifier) == f"=={locked()[package][0]}"


def test_lambdas_requirements_are_pinned_as_in_the_lock() -> None:
    """requirements.txt is what ``chalice package`` ships beside the jobs."""
    for line in (ROOT / "requirements.txt").read_text().split():
        name, version = re.fullmatch(r"([\w.-]+)==(\S+)", line).groups()  # type: ignore[union-attr]
        assert locked()[lockfile.canonical(name)][0] == version, name


def test_select_takes_the_lines_naming_a_wanted_role() -> None:
    lock = [
        "# header, api",
        "a==1  # localbridge",
        "b==2  # api, deploy",
        "c==3  # deploy",
        "d==4  # dev",
    ]
    assert lockfile.select(lock, ["localbridge", "api"]) == ["a==1", "b==2"]
    assert lockfile.select(lock, ["deploy"]) == ["b==2", "c==3"]


def test_marks_name_every_running_role_that_needs_a_package() -> None:
    needs = {"localbridge": {"a", "b"}, "api": {"b", "c"}}
    frozen = ["# header", "A==1", "b==2  # old mark", "C==3", "d==4", "uv==5", ""]
    assert lockfile.mark(frozen, needs, installer={"uv"}) == [
        "A==1  # localbridge",
        "b==2  # localbridge, api",
        "C==3  # api",
        "d==4  # dev",
        "uv==5  # installer",
    ]
