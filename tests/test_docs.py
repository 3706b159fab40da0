"""The README and docs/ stay true to the repository, cheaply.

Links resolve, the code they name exists, the README stays short, and the
``localbridge`` command they describe is installed and has the subcommands
docs/localbridge.md lists. What the guides' examples print is checked by the
suites of the parts they describe; this file only keeps the text in step.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300
# Today's figures beside their floors; a figure's history is in git, not here.
BENCHMARKS_MAX_LINES = 250

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A path or module name of ours, not preceded by anything that makes it part of
# another path (`../infra/...`, `.venv/bin/localbridge`) or another word.
PATH = re.compile(r"(?<![\w./-])((?:localbridge|functions|api|infra|bench|tests)/[\w./*-]*)")
MODULE = re.compile(r"(?<![\w./-])((?:localbridge|functions)\.[A-Za-z_][\w.]*)")
# The README's "Adding a job" module: a file the reader creates, not one we ship.
EXAMPLE_JOB = re.compile(r"```python\n# (functions/\w+\.py)\n")


def anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {anchor(heading) for heading in HEADING.findall(text)}


def example_job() -> str:
    found = EXAMPLE_JOB.search((ROOT / "README.md").read_text())
    assert found, "README.md has no ```python block starting with '# functions/<job>.py'"
    return found.group(1)


def broken_links(doc: Path) -> list[str]:
    problems = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            problems.append(f"{target}: no file {linked}")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{target}: no heading #{fragment} in {linked.name}")
    return problems


def missing_paths(doc: Path, allowed: set[str]) -> list[str]:
    problems = []
    for mentioned in set(PATH.findall(doc.read_text())):
        path = mentioned.rstrip(".")
        if path in allowed:
            continue
        exists = any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
        if not exists:
            problems.append(path)
    return sorted(problems)


def defines(source: Path, names: list[str]) -> bool:
    """Each name appears as a word in the module's source (cheap, and enough for docs)."""
    text = source.read_text() if source.exists() else ""
    return all(re.search(rf"\b{re.escape(name)}\b", text) for name in names)


def resolves(name: str, allowed_modules: set[str]) -> bool:
    """``a.b.c``: packages (folders), then a module, then names defined in it."""
    parts = name.split(".")
    place = ROOT
    for index, part in enumerate(parts):
        if (place / part).is_dir():
            place = place / part
            continue
        if (place / f"{part}.py").exists():
            return defines(place / f"{part}.py", parts[index + 1 :])
        if ".".join(parts[: index + 1]) in allowed_modules:
            return True
        return defines(place / "__init__.py", parts[index:])
    return True


def missing_modules(doc: Path, allowed: set[str]) -> list[str]:
    names = {name.rstrip(".") for name in MODULE.findall(doc.read_text())}
    return sorted(n for n in names if not n.endswith(".md") and not resolves(n, allowed))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path) -> None:
    assert broken_links(doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_named_code_exists(doc: Path) -> None:
    job = example_job()
    module = job.removesuffix(".py").replace("/", ".")
    assert missing_paths(doc, {job}) == []
    assert missing_modules(doc, {module}) == []


def test_every_guide_is_linked_from_the_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    guides = {path.name for path in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert guides, "docs/ holds no guides"
    assert sorted(g for g in guides if f"]({g})" not in index) == []


def index_rows(index: str) -> list[str]:
    """The guides the index's table links to, one per row, in order."""
    return re.findall(r"^\| \[[^\]]+\]\(([\w.-]+\.md)\)", index, re.MULTILINE)


def test_the_index_lists_each_guide_once() -> None:
    rows = index_rows((ROOT / "docs" / "README.md").read_text())
    assert rows, "docs/README.md has no table of guides"
    assert sorted({row for row in rows if rows.count(row) > 1}) == []


def test_index_rows_finds_a_repeated_row() -> None:
    index = "| guide | read it to |\n|---|---|\n| [a.md](a.md) | x |\n| [a.md](a.md) | y |\n"
    assert index_rows(index) == ["a.md", "a.md"]


def test_benchmarks_stay_a_page_of_figures() -> None:
    lines = len((ROOT / "docs" / "benchmarks.md").read_text().splitlines())
    assert lines <= BENCHMARKS_MAX_LINES, f"docs/benchmarks.md has {lines} lines"


def test_readme_is_short() -> None:
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The helpers above report a broken link, a missing path and a missing name."""
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# Title\n\n[a](nowhere.md) [b](#title) [c](#gone) [d](https://example.invalid)\n"
        "`localbridge/no_such_module.py`, `functions/*.py`, `localbridge.clock.NoSuchClock`,\n"
        "`localbridge.clock.VirtualClock`, `functions.no_such_job`\n"
    )
    assert len(broken_links(doc)) == 2
    assert missing_paths(doc, set()) == ["localbridge/no_such_module.py"]
    assert missing_modules(doc, set()) == ["functions.no_such_job", "localbridge.clock.NoSuchClock"]


def documented_subcommands() -> set[str]:
    text = (ROOT / "docs" / "localbridge.md").read_text()
    block = text[text.index("## Commands") :]
    block = block[block.index("```") : block.index("```", block.index("```") + 3)]
    return set(re.findall(r"^localbridge ([\w-]+)", block, re.MULTILINE))


def test_installed_localbridge_command_lists_the_documented_subcommands() -> None:
    command = Path(sys.executable).with_name("localbridge")
    assert command.exists(), f"{command} is missing: `make install` installs the project"
    done = subprocess.run(
        [str(command), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"^ {4}([\w-]+)(?: |$)", done.stdout, re.MULTILINE))
    assert listed == documented_subcommands()
