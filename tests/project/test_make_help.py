"""``make help``: plain text in a pipe, and each variable names every target that reads it.

Which targets read a variable is worked out from the Makefile itself: a
target reads what its prerequisites and recipe name, directly or through the
variables they name (``DEPLOY_CLOCK`` reads ``CLOCK_START``).
"""

from __future__ import annotations

import re
import subprocess

from tests.support import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
REFERENCE = re.compile(r"\$\(([A-Z_]+)\)")
ASSIGNMENT = re.compile(r"^(?:export )?([A-Z_]+) *[:?]?= *((?:.*\\\n)*.*)", re.MULTILINE)
RULE = re.compile(r"^([a-z][\w-]*):(?!=)(.*)\n((?:\t.*\n)*)", re.MULTILINE)


def help_text() -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def variables_read(text: str, definitions: dict[str, str]) -> set[str]:
    """The variables ``text`` names, and those they name in turn."""
    seen: set[str] = set()
    pending = REFERENCE.findall(text)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(REFERENCE.findall(definitions.get(name, "")))
    return seen


def readers(makefile: str) -> dict[str, set[str]]:
    """Each variable: the named targets that read it (``help`` only prints them)."""
    definitions = dict(ASSIGNMENT.findall(makefile))
    found: dict[str, set[str]] = {}
    for target, prerequisites, recipe in RULE.findall(makefile):
        if target == "help":
            continue
        for name in variables_read(prerequisites.split("##")[0] + recipe, definitions):
            found.setdefault(name, set()).add(target)
    return found


def documented(text: str) -> dict[str, set[str]]:
    """Each variable of ``make help``'s list: the targets its line names (``make X``)."""
    block = text[text.index("Variables") :]
    return {
        name: set(re.findall(r"make ([a-z][\w-]*)", line))
        for name, line in re.findall(r"^  ([A-Z_]+) +(.*)$", block, re.MULTILINE)
    }


def test_help_in_a_pipe_is_plain_text() -> None:
    text = help_text()
    assert "deploy-local" in text
    assert "\033" not in text


def test_each_variable_names_every_target_that_reads_it() -> None:
    listed = documented(help_text())
    targets = {target for target, _, _ in RULE.findall(MAKEFILE)}
    assert {"CLOCK_START", "API_PORT", "TEST_WORKERS"} <= set(listed)
    for name, named in listed.items():
        assert named <= targets, f"{name}: no such target {sorted(named - targets)}"
        missing = readers(MAKEFILE).get(name, set()) - named
        assert missing == set(), f"make help's {name} leaves out make {', make '.join(missing)}"


def test_readers_follow_a_variable_through_another() -> None:
    makefile = (
        "SPEED ?= 1\nCLOCK := --speed $(SPEED) \\\n  --x $(X)\n\n"
        "run: $(STAMP) ## run\n\tpython -m run $(CLOCK)\n\nhelp:\n\techo\n"
    )
    assert readers(makefile) == {"STAMP": {"run"}, "CLOCK": {"run"}, "SPEED": {"run"}, "X": {"run"}}
    assert documented("Variables:\n  SPEED   make run, make deploy-local: speed\n") == {
        "SPEED": {"run", "deploy-local"}
    }
