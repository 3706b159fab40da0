"""Unique ids shaped like AWS's (request ids, event ids, trace ids), made cheaply.

``uuid.uuid4`` reads ``os.urandom`` for every id: a system call that lets go
of the GIL, so a thread making one per run waits for the interpreter again
behind the other workers (measured: most of a replay's per-run cost on two
busy cores). These ids need to be unique, not unguessable, so they come from
the ``random`` module's algorithm: a generator of their own (a function calling
``random.seed`` cannot make them repeat), seeded from the system once per
process and again in a forked child. Standard library only.
"""

from __future__ import annotations

import os
import random

_generator = random.Random()
os.register_at_fork(after_in_child=_generator.seed)
_bits = _generator.getrandbits
_bytes = _generator.randbytes
# The variant digit of a version 4 UUID is 8, 9, a or b: the random digit's low two bits.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_uuid() -> str:
    """A random (version 4) UUID as text, e.g. ``1b4e28ba-2fa1-41d2-883f-0016d3cca427``."""
    h = _bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def new_hex(digits: int) -> str:
    """``digits`` random lowercase hex digits."""
    return f"{_bits(digits * 4):0{digits}x}"
