"""Text a job produced, made safe to print on a terminal.

A job's output, error message or payload may hold control characters (an
escape sequence that moves the cursor, clears the screen or retitles the
window; a carriage return that hides what came before). Whatever prints
them - ``run``'s log line, ``runs``, ``dlq list``, ``logs`` - passes them
through ``escape``, which shows each as its Python escape (``\\x1b``).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and the C1 controls (0x80-0x9f,
# which some terminals read as escape sequences too).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(text: str, keep_newlines: bool = True) -> str:
    """``text`` with every control character shown as ``\\xNN`` or ``\\r`` (tab, newline kept)."""
    escaped = _CONTROL.sub(_shown, text)
    return escaped if keep_newlines else escaped.replace("\n", "\\n")


def _shown(match: re.Match[str]) -> str:
    character = match.group()
    return "\\r" if character == "\r" else f"\\x{ord(character):02x}"
