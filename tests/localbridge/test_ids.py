"""Ids shaped like AWS's, made without a system call each."""

from __future__ import annotations

import random
import re
import uuid

from localbridge.events import new_trace_id
from localbridge.ids import new_hex, new_uuid


def test_ids_are_version_4_uuids_and_distinct() -> None:
    made = [new_uuid() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    for text in made[:1000]:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_hex_digits_keep_their_width_and_trace_ids_their_shape() -> None:
    assert all(len(new_hex(24)) == 24 for _ in range(1000))
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", new_trace_id(0x5F00)
    )


def test_a_function_seeding_random_does_not_make_ids_repeat() -> None:
    """A job calling ``random.seed`` runs in this process in thread mode."""
    random.seed(1)
    first = (new_uuid(), new_hex(16))
    random.seed(1)
    assert (new_uuid(), new_hex(16)) != first
