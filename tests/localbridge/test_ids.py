"""Ids keep AWS's shapes: request and event ids are version 4 UUIDs, trace ids and
log streams look like Lambda's."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from localbridge.events import make_event_factory, new_log_stream_name, new_trace_id
from localbridge.model import FunctionSpec
from localbridge.ticks import NewTick, TickSource

AT = datetime(2022, 12, 19, tzinfo=UTC)


def assert_uuid4(text: str) -> None:
    parsed = uuid.UUID(text)
    assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_a_delivery_has_a_request_id_and_an_event_id_of_its_own() -> None:
    ticks = [NewTick("f", AT, TickSource.SCHEDULE, AT) for _ in range(100)]
    ids = [tick.request_id for tick in ticks] + [tick.event_id for tick in ticks]
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert_uuid4(text)


def test_an_event_built_without_an_id_gets_a_uuid() -> None:
    spec = FunctionSpec("f", "app.f", "rate(1 minute)", "app", "dev")
    event = make_event_factory()(spec, AT)
    assert_uuid4(event["id"])


def test_trace_ids_and_log_streams_are_shaped_like_lambdas() -> None:
    trace_ids = {new_trace_id(0x5F00) for _ in range(100)}
    assert len(trace_ids) == 100
    for trace_id in trace_ids:
        assert re.fullmatch(r"Root=1-00005f00-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", trace_id)
    assert re.fullmatch(r"2022/12/19/\[\$LATEST\][0-9a-f]{32}", new_log_stream_name(AT))
